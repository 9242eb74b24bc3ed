// ServiceProvider: one agency backend and the protection it needs.
import { Type, type Static } from '@sinclair/typebox';
import { Conditions, describe, Duration, Resource, SecretKeyReference, LocalObjectReference, Strict } from './common.ts';
import { cel } from './cel.ts';

export const UpstreamTLS = Strict(
  {
    caSecretRef: Type.Optional(describe(SecretKeyReference, 'Secret holding the CA bundle (PEM) that signs the agency\'s serving certificate; key defaults to ca.crt.')),
    clientCertificateSecretRef: Type.Optional(describe(LocalObjectReference, 'kubernetes.io/tls Secret (tls.crt, tls.key) the dataplane presents to the agency (mTLS).')),
    serverName: Type.Optional(Type.String({ maxLength: 253, description: 'SNI and name to verify, when it differs from the URL host.' })),
  },
  { description: 'How the dataplane verifies the agency and authenticates to it.' },
);

export const Protection = Strict(
  {
    maxConcurrent: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000000, description: 'Calls in flight toward the agency, summed over all clients, per dataplane replica.' })),
    maxRequestsPerSecond: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000000, description: 'Calls per second toward the agency, per dataplane replica.' })),
  },
  { description: 'Protects the agency from overload: excess calls get 503 provider_saturated, not the agency.' },
);

export const CircuitBreaker = Strict({
  consecutiveFailures: Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'Failures in a row (5xx, timeout, refused) that open the breaker.' }),
  openFor: Type.Optional(describe(Duration, 'How long the breaker stays open before one probe call (default 10s).')),
});

export const ServiceProviderSpec = Strict(
  {
    displayName: Type.Optional(Type.String({ maxLength: 256 })),
    upstream: Strict({
      url: Type.String({
        maxLength: 2048,
        pattern: '^https?://[^/?#\\s]+(/[^?#\\s]*)?$',
        description: 'Base URL of the agency, e.g. https://api.sabtahval.internal/v2. Paths of routes are appended to it.',
      }),
      tls: Type.Optional(UpstreamTLS),
    }),
    timeout: Type.Optional(describe(Duration, 'Default per-call timeout toward the agency (default 10s).')),
    protection: Type.Optional(Protection),
    circuitBreaker: Type.Optional(CircuitBreaker),
  },
  {
    'x-kubernetes-validations': [
      cel<{ upstream: { url: string; tls?: unknown } }>(
        "!has(self.upstream.tls) || self.upstream.url.startsWith('https://')",
        'upstream.tls requires an https:// upstream.url',
        (s) => s.upstream.tls === undefined || s.upstream.url.startsWith('https://'),
      ),
    ],
  },
);

export const ServiceProviderStatus = Strict({
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  conditions: Type.Optional(Conditions),
  routes: Type.Optional(Type.Integer({ minimum: 0, description: 'Accepted routes served by this provider.' })),
});

export const ServiceProvider = Resource('ServiceProvider', ServiceProviderSpec, ServiceProviderStatus);
export type ServiceProvider = Static<typeof ServiceProvider>;
export type ServiceProviderSpec = Static<typeof ServiceProviderSpec>;

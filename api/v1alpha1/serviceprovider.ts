// ServiceProvider: one agency backend and the protection it needs.
import { Type, type Static } from '@sinclair/typebox';
import { ResourceStatus, describe, Duration, Resource, SecretKeyReference, SecretReference, Strict } from './common.ts';
import { cel } from './cel.ts';
import { SERVER_NAME } from '../snapshot/servable.ts';

/** A port the dataplane can connect to: 0 to 65535, no leading zeros. */
const PORT = '(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)';
const HOST = '([A-Za-z0-9_][-A-Za-z0-9_.]*|\\[[0-9A-Fa-f:.]+\\])';
/**
 * http(s)://host[:port][/path]: no user:password@, no query or fragment, no backslash, a port
 * in range. The compiler also parses it the way the dataplane does (a numeric last label such
 * as 1.2.3.999 is an invalid IPv4 address there) and reports Invalid when it does not parse.
 */
export const UPSTREAM_URL = `^https?://${HOST}(:${PORT})?(/[^?#\\s\\\\]*)?$`;

export const UpstreamTLS = Strict(
  {
    caSecretRef: Type.Optional(describe(SecretKeyReference, 'Secret holding the CA bundle (PEM) that signs the agency\'s serving certificate; key defaults to ca.crt.')),
    clientCertificateSecretRef: Type.Optional(describe(SecretReference, 'kubernetes.io/tls Secret (tls.crt, tls.key) the dataplane presents to the agency (mTLS).')),
    serverName: Type.Optional(Type.String({ maxLength: 253, pattern: SERVER_NAME, description: 'SNI and name to verify, when it differs from the URL host.' })),
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

export const CircuitBreaker = Strict(
  {
    consecutiveFailures: Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'Failures in a row (5xx, timeout, refused) that open the breaker.' }),
    openFor: Type.Optional(describe(Duration, 'How long the breaker stays open before one probe call (default 10s).')),
  },
  {
    description: 'Stops calling a failing agency, per dataplane replica: after consecutiveFailures failures in a row, calls get 503 provider_unavailable for openFor, then one trial call decides whether it closes. Always on; when unset, 5 failures and 10s.',
  },
);

export const ServiceProviderSpec = Strict(
  {
    displayName: Type.Optional(Type.String({ maxLength: 256, description: 'The agency\'s name for people, e.g. Civil Registry Organization; informational only.' })),
    upstream: Strict(
      {
        url: Type.String({
          maxLength: 2048,
          pattern: UPSTREAM_URL,
          description: 'Base URL of the agency, e.g. https://api.sabtahval.internal/v2. Paths of routes are appended to it. No user:password@: credentials belong in Secrets.',
        }),
        tls: Type.Optional(UpstreamTLS),
      },
      { description: 'Where the dataplane forwards this agency\'s calls, and how it secures the connection.' },
    ),
    timeout: Type.Optional(describe(Duration, 'Default per-call timeout toward the agency (default 10s).')),
    protection: Type.Optional(Protection),
    circuitBreaker: Type.Optional(CircuitBreaker),
  },
  {
    description: 'The agency backend: where it is, how long a call may take, and the protection it needs from the bus.',
    'x-kubernetes-validations': [
      cel<{ upstream: { url: string; tls?: unknown } }>(
        "!has(self.upstream.tls) || self.upstream.url.startsWith('https://')",
        'upstream.tls requires an https:// upstream.url',
        (s) => s.upstream.tls === undefined || s.upstream.url.startsWith('https://'),
      ),
    ],
  },
);

export const ServiceProviderStatus = ResourceStatus({
    routes: Type.Optional(Type.Integer({ minimum: 0, description: 'Accepted routes served by this provider.' })),
});

export const ServiceProvider = Resource(
  'ServiceProvider',
  ServiceProviderSpec,
  ServiceProviderStatus,
  'ServiceProvider (sp): one agency backend and the protection it needs. InquiryRoutes in its namespace publish its inquiries.',
);
export type ServiceProvider = Static<typeof ServiceProvider>;
export type ServiceProviderSpec = Static<typeof ServiceProviderSpec>;

// Stage 2: providers. A provider is accepted when its schema is; its references resolve when
// the TLS Secrets it names exist and hold what they must.
import { CREDENTIALS_HINT, type ServiceProvider } from '../api/v1alpha1/index.ts';
import { tlsProblem, type SnapshotProvider } from '../api/snapshot/index.ts';
import type { ObjectIndex } from './index_objects.ts';
import type { Refusal } from './types.ts';
import { durationMs, generationOf, idOf, nsOf } from './util.ts';

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_BREAKER = { consecutiveFailures: 5, openMs: 10_000 };

export interface ProviderResult {
  provider: ServiceProvider;
  /** null when every reference resolved */
  refusal: Refusal | null;
  /** the snapshot entry, or null when refused */
  entry: SnapshotProvider | null;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN ([A-Z]+ )?PRIVATE KEY-----[\s\S]+-----END ([A-Z]+ )?PRIVATE KEY-----/;

interface TlsMaterial {
  ca: string | null;
  cert: string | null;
  key: string | null;
}

/** Checks, in order: the CA Secret, then the client certificate Secret. */
function resolveTls(provider: ServiceProvider, index: ObjectIndex): TlsMaterial | Refusal {
  const ns = nsOf(provider.metadata);
  const tls = provider.spec.upstream.tls;
  const material: TlsMaterial = { ca: null, cert: null, key: null };
  if (tls === undefined) return material;
  if (tls.caSecretRef !== undefined) {
    const secret = index.secrets.get(`${ns}/${tls.caSecretRef.name}`);
    const key = tls.caSecretRef.key ?? 'ca.crt';
    if (secret === undefined) return { reason: 'SecretNotFound', message: `CA Secret ${ns}/${tls.caSecretRef.name} does not exist, ${CREDENTIALS_HINT}.` };
    const ca = secret.get(key);
    if (ca === undefined || !PEM_CERT.test(ca)) {
      return { reason: 'InvalidCertificate', message: `CA Secret ${ns}/${tls.caSecretRef.name} has no PEM certificate under key ${key}.` };
    }
    material.ca = ca;
  }
  if (tls.clientCertificateSecretRef !== undefined) {
    const name = tls.clientCertificateSecretRef.name;
    const secret = index.secrets.get(`${ns}/${name}`);
    if (secret === undefined) return { reason: 'SecretNotFound', message: `Client certificate Secret ${ns}/${name} does not exist, ${CREDENTIALS_HINT}.` };
    const cert = secret.get('tls.crt');
    const key = secret.get('tls.key');
    if (cert === undefined || !PEM_CERT.test(cert) || key === undefined || !PEM_KEY.test(key)) {
      return { reason: 'InvalidCertificate', message: `Client certificate Secret ${ns}/${name} needs a PEM certificate in tls.crt and a PEM private key in tls.key.` };
    }
    material.cert = cert;
    material.key = key;
  }
  // PEM that looks right but does not parse, or a key that is not the certificate's, would fail
  // every connection to the agency: refused here, with the Secret named.
  const problem = tlsProblem(material);
  if (problem !== null) {
    const names = [tls.caSecretRef?.name, tls.clientCertificateSecretRef?.name].filter((n) => n !== undefined).map((n) => `${ns}/${n}`);
    return { reason: 'InvalidCertificate', message: `Upstream TLS from Secret ${names.join(' and ')} is unusable: ${problem}.` };
  }
  return material;
}

export function processProviders(index: ObjectIndex): Map<string, ProviderResult> {
  const results = new Map<string, ProviderResult>();
  for (const [id, provider] of index.providers) {
    const tls = resolveTls(provider, index);
    if ('reason' in tls) {
      results.set(id, { provider, refusal: tls, entry: null });
      continue;
    }
    const spec = provider.spec;
    const hasTls = spec.upstream.tls !== undefined;
    results.set(id, {
      provider,
      refusal: null,
      entry: {
        id: idOf(provider.metadata),
        source: { namespace: nsOf(provider.metadata), name: provider.metadata.name, generation: generationOf(provider.metadata) },
        url: spec.upstream.url.replace(/\/+$/, ''),
        timeoutMs: durationMs(spec.timeout, DEFAULT_TIMEOUT_MS),
        tls: hasTls ? { ...tls, serverName: spec.upstream.tls?.serverName ?? null } : null,
        maxConcurrent: spec.protection?.maxConcurrent ?? null,
        maxRequestsPerSecond: spec.protection?.maxRequestsPerSecond ?? null,
        circuitBreaker: {
          consecutiveFailures: spec.circuitBreaker?.consecutiveFailures ?? DEFAULT_BREAKER.consecutiveFailures,
          openMs: durationMs(spec.circuitBreaker?.openFor, DEFAULT_BREAKER.openMs),
        },
      },
    });
  }
  return results;
}

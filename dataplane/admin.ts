// The admin port: /metrics, /healthz, /readyz and /config. /config says what is in force and
// never shows a credential (not even a key's hash, nor a password in a provider's URL).
// /healthz is 200 while the process runs, whatever the audit sink does (a restart would not
// empty a full disk, and would lose the queue); both /healthz and /readyz carry the audit
// sink's detail. In refuse mode (--audit-unavailable=refuse) /readyz is 503 while the sink
// cannot take records, so traffic goes to replicas that can account for it; the same holds for
// Redis with --redis-unavailable=refuse. Both carry the accounting's detail (Redis up or down
// since when, counts pending, decisions taken alone).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Accounting } from './accounting.ts';
import type { Metering } from './metering.ts';
import type { Pipeline } from './pipeline.ts';
import type { Loader } from './loader.ts';

/** What /config says of the audit evidence: enough for a verifier to know which key to expect. */
export interface AuditEvidenceView {
  evidence: boolean;
  chain: string | null;
  keyId: string | null;
  /** the signing key's public half (PEM), for `gozargah audit verify --public-key` */
  publicKey: string | null;
  /** sensitive values are recorded as pseudonyms (else redacted) */
  pseudonyms: boolean;
}

export interface AdminDeps {
  bus: string;
  audit: AuditEvidenceView;
  pipeline: Pipeline;
  loader: Loader;
  metering: Metering;
  accounting: Accounting;
  draining: () => boolean;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/** A URL without its userinfo and query: either may carry a credential (https://user:pass@host, ?token=). */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '[redacted: not a URL]';
  }
  // Nothing to hide: shown as the provider wrote it (new URL would add a trailing slash).
  if (parsed.username === '' && parsed.password === '' && parsed.search === '' && parsed.hash === '') return url;
  if (parsed.username !== '' || parsed.password !== '') {
    parsed.username = 'redacted';
    parsed.password = '';
  }
  if (parsed.search !== '') parsed.search = '?redacted';
  parsed.hash = '';
  return parsed.href;
}

function configView(deps: AdminDeps): unknown {
  const runtime = deps.pipeline.runtime;
  const accounting = deps.accounting.status();
  const counts = { mode: accounting.mode, redis: accounting.redis?.url ?? null, redisUnavailable: accounting.redis?.unavailable ?? null, stateDir: accounting.stateDir };
  if (runtime === null) return { bus: deps.bus, loaded: false, lastError: deps.loader.lastError, accounting: counts, audit: deps.audit, ...(deps.loader.sidecar === null ? {} : { sidecar: deps.loader.sidecar }) };
  const s = runtime.snapshot;
  return {
    bus: deps.bus,
    accounting: counts,
    audit: deps.audit,
    loaded: true,
    generation: runtime.generation,
    hash: s.hash,
    loadedAt: runtime.loadedAt,
    lastError: deps.loader.lastError,
    // Sidecar mode: the providers, routes and grants below are its part of the bus (sidecar.ts).
    ...(deps.loader.sidecar === null ? {} : { sidecar: deps.loader.sidecar }),
    providers: s.providers.map((p) => ({ id: p.id, url: redactUrl(p.url), tls: p.tls !== null, maxConcurrent: p.maxConcurrent, maxRequestsPerSecond: p.maxRequestsPerSecond })),
    routes: s.routes.map((r) => ({ id: r.id, path: r.path, methods: r.methods, provider: r.provider })),
    bindings: s.bindings.map((b) => ({ id: b.id, client: b.clientId, apiKeys: b.apiKeys.length, certificates: b.certFingerprints.length + b.certSubjects.length, routes: b.routes })),
  };
}

export function createAdminServer(deps: AdminDeps): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/metrics':
        return deps.metering.serveMetrics(req, res);
      case '/healthz':
        return json(res, 200, { status: 'ok', warnings: deps.loader.warnings, audit: deps.metering.auditStatus(), accounting: deps.accounting.status() });
      case '/readyz': {
        const ready = deps.loader.ready && !deps.draining() && deps.metering.auditAvailable() && deps.accounting.settled() && deps.accounting.available();
        return json(res, ready ? 200 : 503, { ready, draining: deps.draining(), generation: deps.pipeline.runtime?.generation ?? null, warnings: deps.loader.warnings, audit: deps.metering.auditStatus(), accounting: deps.accounting.status() });
      }
      case '/config':
        return json(res, 200, configView(deps));
      default:
        return json(res, 404, { error: 'not found', paths: ['/metrics', '/healthz', '/readyz', '/config'] });
    }
  });
}

// A snapshot compiled for the hot path: the router, the bindings by credential, and per route
// everything a request needs, built once at load. Long-lived state (buckets, quotas, breakers,
// connection pools) lives in RuntimeState and survives reloads.
import { BlockList, isIPv4 } from 'node:net';
import { templateParams } from '../api/v1alpha1/index.ts';
import { Pool } from 'undici';
import type { ValidateFunction } from 'ajv';
import { compileRouteSchema, type Snapshot, type SnapshotBinding, type SnapshotProvider, type SnapshotRoute } from '../api/snapshot/index.ts';
import type { Accounting } from './accounting.ts';
import { CircuitBreaker, ProviderGuard, RetryBudget, type QuotaGate, type RateGate } from './limits.ts';
import { JwksRegistry, DEFAULT_JWKS_OPTIONS } from './jwks.ts';
import { JwtVerifier } from './jwt.ts';
import { compileFieldPaths } from './privacy.ts';
import { Router } from './router.ts';

export interface ProviderContext {
  id: string;
  origin: string;
  basePath: string;
  pool: Pool;
  guard: ProviderGuard;
  breaker: CircuitBreaker;
  budget: RetryBudget;
  /** calls admitted toward the provider and not yet released (see releaseProvider) */
  calls: number;
  /** replaced by a reload (new URL or TLS) or removed: the pool closes after its last call */
  retired: boolean;
}

export interface RouteContext {
  id: string;
  provider: ProviderContext;
  /** label values for metrics */
  providerId: string;
  /** upstream path pieces: literals at even indexes, template parameter index at odd */
  upstream: readonly (string | number)[];
  timeoutMs: number;
  perTryTimeoutMs: number;
  retries: number;
  maxBodyBytes: number;
  validate: ValidateFunction | null;
  dropFields: readonly (readonly string[])[];
  /** parameter names the audit record may show, null = none of them */
  loggableParams: readonly boolean[];
  paramNames: readonly string[];
  /** body fields in privacy.neverLog: recorded as pseudonyms with a pseudonym key, else not at all */
  sensitiveFields: readonly { name: string; path: readonly string[] }[];
  /** Deprecation, Sunset and Link headers of a deprecated route, on every answer; null when it is not */
  deprecationHeaders: Readonly<Record<string, string>> | null;
  /** wall ms from which the route answers 410; +Infinity without a sunset */
  sunsetAt: number;
}

export interface BindingContext {
  id: string;
  clientId: string;
  routes: ReadonlySet<string>;
  bucket: RateGate | null;
  quota: QuotaGate | null;
  sources: BlockList | null;
  notBefore: number;
  notAfter: number;
}

export interface Runtime {
  snapshot: Snapshot;
  generation: number;
  loadedAt: string;
  router: Router<RouteContext>;
  byKeyHash: Map<string, BindingContext>;
  byFingerprint: Map<string, BindingContext>;
  bySubject: Map<string, BindingContext>;
  /** bearer tokens, by issuer; its cache of verified tokens lives and dies with this runtime */
  jwt: JwtVerifier<BindingContext>;
}

/** What outlives a snapshot. Keyed by object id; the bindings' rates and quotas are the accounting's. */
export class RuntimeState {
  accounting: Accounting;
  providers = new Map<string, { fingerprint: string; ctx: ProviderContext }>();
  /** providers replaced by the snapshot being built, retired once it is in force */
  replaced: ProviderContext[] = [];
  /** route id -> when this replica first served it deprecated (wall ms), for a route that gives no deprecatedSince */
  deprecatedSeen = new Map<string, number>();

  /** remote JWKS (jwksURL), kept across reloads so a reload neither refetches nor forgets keys */
  jwks: JwksRegistry;

  constructor(accounting: Accounting, jwks = new JwksRegistry(DEFAULT_JWKS_OPTIONS, () => {})) {
    this.accounting = accounting;
    this.jwks = jwks;
  }
}

function providerFingerprint(p: SnapshotProvider): string {
  return JSON.stringify([p.url, p.tls]);
}

function providerContext(p: SnapshotProvider, state: RuntimeState, now: number): ProviderContext {
  const known = state.providers.get(p.id);
  const fingerprint = providerFingerprint(p);
  if (known !== undefined && known.fingerprint === fingerprint) {
    known.ctx.guard.reconfigure(p.maxConcurrent, p.maxRequestsPerSecond, now);
    known.ctx.breaker.threshold = p.circuitBreaker.consecutiveFailures;
    known.ctx.breaker.openMs = p.circuitBreaker.openMs;
    return known.ctx;
  }
  const url = new URL(p.url);
  const tls = p.tls;
  const pool = new Pool(url.origin, {
    connections: 256,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    connect:
      tls === null
        ? undefined
        : {
            ca: tls.ca ?? undefined,
            cert: tls.cert ?? undefined,
            key: tls.key ?? undefined,
            servername: tls.serverName ?? undefined,
          },
  });
  const ctx: ProviderContext = {
    id: p.id,
    origin: url.origin,
    basePath: url.pathname === '/' ? '' : url.pathname.replace(/\/$/, ''),
    pool,
    guard: known?.ctx.guard ?? new ProviderGuard(p.maxConcurrent, p.maxRequestsPerSecond, now),
    breaker: new CircuitBreaker(p.circuitBreaker.consecutiveFailures, p.circuitBreaker.openMs),
    budget: known?.ctx.budget ?? new RetryBudget(),
    calls: 0,
    retired: false,
  };
  if (known !== undefined) state.replaced.push(known.ctx);
  state.providers.set(p.id, { fingerprint, ctx });
  return ctx;
}

/** `/inquiry/person/{nationalId}` with params [nationalId] -> ['/inquiry/person/', 0, ''] */
function compileUpstream(basePath: string, template: string, paramNames: readonly string[]): (string | number)[] {
  const parts: (string | number)[] = [];
  let literal = basePath;
  for (const piece of template.split(/(\{[A-Za-z][A-Za-z0-9_]*\})/)) {
    if (piece.startsWith('{') && piece.endsWith('}')) {
      parts.push(literal, paramNames.indexOf(piece.slice(1, -1)));
      literal = '';
    } else {
      literal += piece;
    }
  }
  parts.push(literal);
  return parts;
}

/**
 * The headers a deprecated route answers with: Deprecation (RFC 9745, a structured-field date),
 * Sunset (RFC 8594, an HTTP date) and Link rel="deprecation". Built once per load.
 */
function deprecationHeaders(r: SnapshotRoute, state: RuntimeState, wall: number): Record<string, string> | null {
  const d = r.deprecation;
  if (d === undefined) {
    state.deprecatedSeen.delete(r.id);
    return null;
  }
  let since = d.since === null ? undefined : Date.parse(d.since);
  if (since === undefined) {
    since = state.deprecatedSeen.get(r.id) ?? wall;
    state.deprecatedSeen.set(r.id, since);
  }
  const headers: Record<string, string> = { deprecation: `@${Math.floor(since / 1000)}` };
  if (d.sunset !== null) headers.sunset = new Date(d.sunset).toUTCString();
  if (d.link !== null) headers.link = `<${d.link}>; rel="deprecation"`;
  return headers;
}

function routeContext(r: SnapshotRoute, provider: ProviderContext, validate: ValidateFunction | null, state: RuntimeState, wall: number): RouteContext {
  const paramNames = templateParams(r.path);
  const neverLog = new Set(r.neverLog);
  return {
    id: r.id,
    provider,
    providerId: provider.id,
    upstream: compileUpstream(provider.basePath, r.upstreamPath, paramNames),
    timeoutMs: r.timeoutMs,
    perTryTimeoutMs: Math.min(r.perTryTimeoutMs, r.timeoutMs),
    retries: r.retries,
    maxBodyBytes: r.maxBodyBytes,
    validate,
    dropFields: compileFieldPaths(r.dropResponseFields),
    loggableParams: paramNames.map((n) => !neverLog.has(n)),
    paramNames,
    sensitiveFields: r.neverLog.filter((n) => !paramNames.includes(n)).map((name) => ({ name, path: name.split('.') })),
    deprecationHeaders: deprecationHeaders(r, state, wall),
    sunsetAt: r.deprecation?.sunset == null ? Number.POSITIVE_INFINITY : Date.parse(r.deprecation.sunset),
  };
}

function blockListOf(cidrs: readonly string[]): BlockList | null {
  if (cidrs.length === 0) return null;
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6');
  }
  return list;
}

function bindingContext(b: SnapshotBinding, state: RuntimeState, now: number, wall: number): BindingContext {
  const rate = b.rateLimit;
  const bucket = rate === null ? null : state.accounting.rateGate(b.id, rate.requestsPerSecond, rate.burst, now);
  // Quota periods are calendar days and months: wall-clock time, as QuotaGate.take gets.
  const quota = b.quota === null ? null : state.accounting.quotaGate(b.id, b.quota.requests, b.quota.period, wall);
  return {
    id: b.id,
    clientId: b.clientId,
    routes: new Set(b.routes),
    bucket,
    quota,
    sources: blockListOf(b.sourceCIDRs),
    notBefore: b.notBefore === null ? Number.NEGATIVE_INFINITY : Date.parse(b.notBefore),
    notAfter: b.notAfter === null ? Number.POSITIVE_INFINITY : Date.parse(b.notAfter),
  };
}

function compileValidators(snapshot: Snapshot): Map<string, ValidateFunction> {
  const validators = new Map<string, ValidateFunction>();
  for (const r of snapshot.routes) {
    if (r.requestSchema === null) continue;
    const compiled = compileRouteSchema(r.requestSchema);
    if (typeof compiled === 'string') throw new Error(`route ${r.id}: requestSchema does not compile: ${compiled}`);
    validators.set(r.id, compiled);
  }
  return validators;
}

/** Builds the hot-path form of a snapshot already checked by checkSnapshot. Throws on what cannot be served. */
export function buildRuntime(snapshot: Snapshot, generation: number, state: RuntimeState, now: number): Runtime {
  // Everything that can fail happens before any long-lived state is touched.
  const validators = compileValidators(snapshot);
  const providers = new Map<string, ProviderContext>();
  for (const p of snapshot.providers) providers.set(p.id, providerContext(p, state, now));
  // `now` is monotonic (performance.now()), for buckets; dates need the wall clock.
  const wall = Date.now();
  const router = new Router<RouteContext>();
  for (const r of snapshot.routes) {
    const provider = providers.get(r.provider) as ProviderContext; // checkSnapshot verified the reference
    router.add(r.path, r.methods, routeContext(r, provider, validators.get(r.id) ?? null, state, wall));
  }
  const byKeyHash = new Map<string, BindingContext>();
  const byFingerprint = new Map<string, BindingContext>();
  const bySubject = new Map<string, BindingContext>();
  const withJwt: { entry: SnapshotBinding; binding: BindingContext }[] = [];
  for (const b of snapshot.bindings) {
    const ctx = bindingContext(b, state, now, wall);
    for (const k of b.apiKeys) byKeyHash.set(k.sha256, ctx);
    for (const f of b.certFingerprints) byFingerprint.set(f, ctx);
    // checkSnapshot verified that each subject is in canonical form (api/v1alpha1/subject.ts).
    for (const s of b.certSubjects) bySubject.set(s, ctx);
    if (b.jwt !== undefined) withJwt.push({ entry: b, binding: ctx });
  }
  return {
    snapshot,
    generation,
    loadedAt: new Date(wall).toISOString(),
    router,
    byKeyHash,
    byFingerprint,
    bySubject,
    jwt: new JwtVerifier(withJwt, state.jwks),
  };
}

/**
 * Providers replaced or no longer in the snapshot: close their pools once in-flight calls end.
 * Not at once: a request keeps the runtime it started with, and one still receiving its body
 * has not called the agency yet; a closed undici pool would refuse it.
 */
export function retireUnused(snapshot: Snapshot, state: RuntimeState): void {
  const routes = new Set(snapshot.routes.map((r) => r.id));
  for (const id of state.deprecatedSeen.keys()) if (!routes.has(id)) state.deprecatedSeen.delete(id);
  const live = new Set(snapshot.providers.map((p) => p.id));
  for (const [id, entry] of state.providers) {
    if (!live.has(id)) {
      state.providers.delete(id);
      state.replaced.push(entry.ctx);
    }
  }
  state.jwks.retain(new Set(snapshot.bindings.flatMap((b) => (b.jwt?.jwksURL == null ? [] : [b.jwt.jwksURL]))));
  for (const ctx of state.replaced.splice(0)) {
    ctx.retired = true;
    if (ctx.calls === 0) closePool(ctx);
  }
}

/** Holds the provider's pool open for one request, from its grant to its end (see endCall). */
export function beginCall(ctx: ProviderContext): void {
  ctx.calls++;
}

/** Ends a request begun with beginCall; the last call of a retired provider closes its pool. */
export function endCall(ctx: ProviderContext): void {
  if (--ctx.calls === 0 && ctx.retired) closePool(ctx);
}

const closePool = (ctx: ProviderContext): void => void ctx.pool.close().catch(() => undefined);

// Command-line arguments of gozargah-dataplane, checked with messages that name the flag.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { redisFromFlags, REDIS_URL_ENV, type RedisTarget } from '../api/accounting/index.ts';
import { parseHostPort } from '../kube/host-port.ts';
import { providerIdProblem, upstreamOverrideProblem, type SidecarOptions } from './sidecar.ts';

export interface DataplaneArgs {
  manifests: string | null;
  snapshot: string | null;
  /** cluster mode: the namespace the operator publishes this bus's snapshot in */
  namespace: string | null;
  /** cluster mode: null means the in-cluster service account */
  kubeconfig: string | null;
  /** cluster mode: this replica's name in its serving report */
  replica: string;
  /** cluster mode: where the last snapshot served is kept, for a start while the API server is down */
  cacheDir: string | null;
  bus: string;
  listen: { host: string; port: number };
  adminListen: { host: string; port: number };
  tlsCert: string | null;
  tlsKey: string | null;
  clientCa: string | null;
  auditLog: string | null;
  /** the audit queue's bound in bytes: what waits for a slow or failing sink before records are dropped */
  auditQueueBytes: number;
  /** while the audit sink cannot take records: serve (and count the loss) or refuse calls */
  auditUnavailable: 'serve' | 'refuse';
  /** Ed25519 private key (PEM) that signs the audit checkpoints */
  auditSigningKey: string | null;
  /** key of the HMAC that records sensitive values as pseudonyms */
  auditPseudonymKey: string | null;
  /** on: hash chain, checkpoints and body hashes in the audit records; off: plain records */
  auditEvidence: boolean;
  /** a checkpoint at least this often while records are added */
  auditCheckpointMs: number;
  graceSeconds: number;
  /** the fleet's accounting store; null: this replica counts alone */
  redis: RedisTarget | null;
  /** while Redis is unreachable: decide on per-replica limits (local) or refuse calls (refuse) */
  redisUnavailable: 'local' | 'refuse';
  /** where counts survive a restart: quotas without Redis, unflushed counts with it */
  stateDir: string | null;
  /** every jwksURL is fetched again this often */
  jwksRefreshMs: number;
  /** a token with an unknown kid fetches its issuer's JWKS again at most this often */
  jwksMinRefreshMs: number;
  /** sidecar mode (sidecar.ts): only these providers' routes, maybe forwarded to localhost; null: the whole bus */
  sidecar: SidecarOptions | null;
}

export const USAGE = `Usage: gozargah-dataplane (--manifests DIR | --snapshot FILE | --namespace NS) [options]
  --manifests DIR        compile the YAML in DIR with the project's compiler; reload on change
  --snapshot FILE        serve a compiled snapshot (gozargah compile -o json); reload on change
  --namespace NS         serve the snapshot the operator publishes as Secrets in NS; watch it
  --kubeconfig FILE      with --namespace: the API server and credentials (default: in-cluster)
  --replica NAME         with --namespace: this replica's name in the Lease that reports what it
                         serves (default: $POD_NAME, else the hostname)
  --cache-dir DIR        with --namespace: keep the last snapshot served in DIR, and serve it at
                         start until the API server answers (default: no cache)
  --bus NAME             the bus this replica serves (default: default)
  --listen HOST:PORT     inquiry traffic (default: 0.0.0.0:8080)
  --tls-cert FILE        serve HTTPS with this certificate ...
  --tls-key FILE         ... and key
  --client-ca FILE       request client certificates and verify them against this CA
  --admin-listen H:P     /metrics /healthz /readyz /config (default: 0.0.0.0:9090)
  --audit-log FILE       audit records (JSON lines); default: standard output. SIGHUP reopens
                         FILE (after logrotate renamed or deleted it)
  --audit-queue-bytes N  audit records waiting for a slow or failing sink, at most N bytes
                         (suffix Ki or Mi; default: 16Mi); beyond it they are dropped and counted
  --audit-unavailable serve|refuse
                         while the audit sink is down or its queue nearly full: keep serving and
                         count the lost records (serve, the default), or answer 503
                         audit_unavailable and report not ready (refuse)
  --audit-signing-key FILE
                         sign an audit checkpoint every 10 s and at shutdown with this Ed25519
                         key (PEM; openssl genpkey -algorithm ed25519); verify with
                         gozargah audit verify --public-key
  --audit-pseudonym-key FILE
                         record sensitive path parameters and body fields (privacy.neverLog) as
                         HMAC-SHA-256 pseudonyms under this key (at least 32 bytes), so
                         gozargah audit search can find who asked for an ID; without it they are
                         redacted
  --audit-evidence on|off
                         on (the default): every audit line is sealed into a hash chain, with
                         checkpoints and the SHA-256 of each request and response body; off:
                         plain lines that prove nothing (a pipeline that rewrites JSON breaks
                         the chain anyway)
  --audit-checkpoint-seconds N
                         a checkpoint at least every N seconds while records are added (1 to 10;
                         default: 10)
  --grace SECONDS        on SIGTERM, how long in-flight requests may take (default: 25)
  --redis URL            count quotas, rate limits and usage for the whole fleet in Redis
                         (redis://host:6379/0, rediss://..., unix:///path/redis.sock,
                         redis-sentinel://h1:26379,h2:26379/master; default: $GOZARGAH_REDIS_URL;
                         without it each replica counts alone)
  --redis-password-file FILE
                         the Redis password (default: $GOZARGAH_REDIS_PASSWORD)
  --redis-unavailable local|refuse
                         while Redis is unreachable: decide on this replica's share of the limits
                         and keep the counts until it returns (local, the default), or answer
                         503 accounting_unavailable and report not ready (refuse)
  --state-dir DIR        keep counts across restarts in DIR: without --redis the quotas used,
                         with it the counts Redis could not take at shutdown (default: the
                         --cache-dir, else none)
  --jwks-refresh-seconds N
                         fetch every binding's jwksURL again every N seconds (default: 300); a
                         fetch that fails keeps the last good keys
  --jwks-min-refresh-seconds N
                         a token whose key id (kid) is unknown fetches its issuer's JWKS again,
                         at most once every N seconds (default: 30)
  --provider NAMESPACE/NAME
                         sidecar mode: serve only the routes of this ServiceProvider (repeatable);
                         the bus's other routes answer 404 route_not_found. With --namespace, no
                         serving report is written (a sidecar serves part of its bus)
  --upstream-override URL
                         with --provider: forward to this origin (http://127.0.0.1:8081, the
                         agency in the same pod) instead of the provider's, keeping the path
                         prefix of its upstream.url; over http:// its upstream TLS is not used`;

export class ArgsError extends Error {}

/** A byte count: N, NKi or NMi. */
function bytes(flag: string, value: string): number {
  const m = /^(\d+)(Ki|Mi)?$/.exec(value);
  const n = m === null ? NaN : Number(m[1]) * (m[2] === 'Mi' ? 1 << 20 : m[2] === 'Ki' ? 1 << 10 : 1);
  // At least 16Ki: a few audit lines must fit; at most 1Gi: the queue lives in the pod's memory.
  if (!(n >= 16 << 10 && n <= 1 << 30)) throw new ArgsError(`${flag} must be a byte count from 16Ki to 1024Mi (N, NKi or NMi), got ${value}`);
  return n;
}

/** A positive number of seconds, fractions allowed (tests refresh in a fraction of a second), at most a day. */
function seconds(flag: string, value: string): number {
  const n = Number(value);
  if (!(n > 0 && n <= 86_400)) throw new ArgsError(`${flag} must be a number of seconds above 0, at most 86400, got ${value}`);
  return n;
}

function hostPort(flag: string, value: string): { host: string; port: number } {
  const parsed = parseHostPort(value);
  if (parsed === null) throw new ArgsError(`${flag} must be HOST:PORT, got ${value}`);
  return parsed;
}

export function parseDataplaneArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): DataplaneArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        manifests: { type: 'string' },
        snapshot: { type: 'string' },
        namespace: { type: 'string' },
        kubeconfig: { type: 'string' },
        replica: { type: 'string', default: process.env.POD_NAME ?? hostname() },
        'cache-dir': { type: 'string' },
        bus: { type: 'string', default: 'default' },
        listen: { type: 'string', default: '0.0.0.0:8080' },
        'admin-listen': { type: 'string', default: '0.0.0.0:9090' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'client-ca': { type: 'string' },
        'audit-log': { type: 'string' },
        'audit-queue-bytes': { type: 'string', default: '16Mi' },
        'audit-unavailable': { type: 'string', default: 'serve' },
        'audit-signing-key': { type: 'string' },
        'audit-pseudonym-key': { type: 'string' },
        'audit-evidence': { type: 'string', default: 'on' },
        'audit-checkpoint-seconds': { type: 'string', default: '10' },
        grace: { type: 'string', default: '25' },
        redis: { type: 'string' },
        'redis-password-file': { type: 'string' },
        'redis-unavailable': { type: 'string', default: 'local' },
        'state-dir': { type: 'string' },
        'jwks-refresh-seconds': { type: 'string', default: '300' },
        'jwks-min-refresh-seconds': { type: 'string', default: '30' },
        provider: { type: 'string', multiple: true },
        'upstream-override': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new ArgsError((err as Error).message);
  }
  const sources = [values.manifests, values.snapshot, values.namespace].filter((v) => v !== undefined);
  if (sources.length !== 1) throw new ArgsError('give exactly one of --manifests DIR, --snapshot FILE or --namespace NS');
  if (values.kubeconfig !== undefined && values.namespace === undefined) throw new ArgsError('--kubeconfig goes with --namespace NS');
  if (values['cache-dir'] !== undefined && values.namespace === undefined) throw new ArgsError('--cache-dir goes with --namespace NS');
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(values.replica)) throw new ArgsError(`--replica must be a DNS subdomain (a pod name), got ${values.replica}`);
  if (values.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(values.namespace)) throw new ArgsError(`--namespace must be a DNS label, got ${values.namespace}`);
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) throw new ArgsError('--tls-cert and --tls-key go together');
  if (values['client-ca'] !== undefined && values['tls-cert'] === undefined) throw new ArgsError('--client-ca needs --tls-cert and --tls-key');
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(values.bus)) throw new ArgsError(`--bus must be a DNS label, got ${values.bus}`);
  const unavailable = values['audit-unavailable'];
  if (unavailable !== 'serve' && unavailable !== 'refuse') throw new ArgsError(`--audit-unavailable must be serve or refuse, got ${unavailable}`);
  const evidence = values['audit-evidence'];
  if (evidence !== 'on' && evidence !== 'off') throw new ArgsError(`--audit-evidence must be on or off, got ${evidence}`);
  if (evidence === 'off' && values['audit-signing-key'] !== undefined) throw new ArgsError('--audit-signing-key signs the hash chain, which --audit-evidence=off turns off');
  const checkpointSeconds = Number(values['audit-checkpoint-seconds']);
  if (!Number.isInteger(checkpointSeconds) || checkpointSeconds < 1 || checkpointSeconds > 10) throw new ArgsError(`--audit-checkpoint-seconds must be a whole number from 1 to 10, got ${values['audit-checkpoint-seconds']}`);
  const redisUnavailable = values['redis-unavailable'];
  if (redisUnavailable !== 'local' && redisUnavailable !== 'refuse') throw new ArgsError(`--redis-unavailable must be local or refuse, got ${redisUnavailable}`);
  const redis = redisFromFlags(values.redis ?? env[REDIS_URL_ENV], values['redis-password-file'] ?? null, env, (message) => new ArgsError(message));
  const jwksRefresh = seconds('--jwks-refresh-seconds', values['jwks-refresh-seconds']);
  const jwksMinRefresh = seconds('--jwks-min-refresh-seconds', values['jwks-min-refresh-seconds']);
  if (jwksMinRefresh > jwksRefresh) throw new ArgsError('--jwks-min-refresh-seconds must not be more than --jwks-refresh-seconds');
  const sidecar = sidecarOptions(values.provider ?? [], values['upstream-override'] ?? null);
  const grace = Number(values.grace);
  if (!Number.isFinite(grace) || grace < 0) throw new ArgsError(`--grace must be a number of seconds, got ${values.grace}`);
  return {
    manifests: values.manifests ?? null,
    snapshot: values.snapshot ?? null,
    namespace: values.namespace ?? null,
    kubeconfig: values.kubeconfig ?? null,
    replica: values.replica,
    cacheDir: values['cache-dir'] ?? null,
    bus: values.bus,
    listen: hostPort('--listen', values.listen),
    adminListen: hostPort('--admin-listen', values['admin-listen']),
    tlsCert: values['tls-cert'] ?? null,
    tlsKey: values['tls-key'] ?? null,
    clientCa: values['client-ca'] ?? null,
    auditLog: values['audit-log'] ?? null,
    auditQueueBytes: bytes('--audit-queue-bytes', values['audit-queue-bytes']),
    auditUnavailable: unavailable,
    auditSigningKey: values['audit-signing-key'] ?? null,
    auditPseudonymKey: values['audit-pseudonym-key'] ?? null,
    auditEvidence: evidence === 'on',
    auditCheckpointMs: checkpointSeconds * 1000,
    graceSeconds: grace,
    redis,
    redisUnavailable,
    stateDir: values['state-dir'] ?? values['cache-dir'] ?? null,
    jwksRefreshMs: jwksRefresh * 1000,
    jwksMinRefreshMs: jwksMinRefresh * 1000,
    sidecar,
  };
}

function sidecarOptions(providers: string[], upstreamOverride: string | null): SidecarOptions | null {
  for (const p of providers) {
    const problem = providerIdProblem(p);
    if (problem !== null) throw new ArgsError(problem);
  }
  if (upstreamOverride !== null) {
    if (providers.length === 0) throw new ArgsError('--upstream-override goes with --provider NAMESPACE/NAME: it replaces the URL of the providers a sidecar serves');
    const problem = upstreamOverrideProblem(upstreamOverride);
    if (problem !== null) throw new ArgsError(problem);
  }
  return providers.length === 0 ? null : { providers: [...new Set(providers)], upstreamOverride };
}

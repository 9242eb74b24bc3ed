// Command-line arguments of gozargah-operator, checked with messages that name the flag.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { redisFromFlags, REDIS_URL_ENV, type RedisTarget } from '../api/accounting/index.ts';
import { parseHostPort } from '../kube/host-port.ts';

export interface OperatorArgs {
  /** where the snapshots, the leader Lease and the dataplane reports live */
  namespace: string;
  /** null: the in-cluster service account */
  kubeconfig: string | null;
  /** this replica's name in the leader Lease */
  identity: string;
  adminListen: { host: string; port: number };
  leaseName: string;
  leaseSeconds: number;
  /** how long to gather events before compiling (coalescing) */
  debounceMs: number;
  /** how often every watch is re-established, whether or not it went silent */
  rewatchSeconds: number;
  /** where the fleet's counts live (status.usage of ClientBindings); null: usage is not reported */
  redis: RedisTarget | null;
  /** how often the leader reads the counts and writes the usage that changed */
  usageSeconds: number;
  /** buses with dataplanes deployed: each gets a snapshot even with nothing on it, so its replicas become ready */
  buses: string[];
}

/** The promise: status.usage is at most this many seconds behind the fleet's counts. */
export const MAX_USAGE_SECONDS = 30;

export const USAGE = `Usage: gozargah-operator [options]
  --namespace NS         where snapshots, the leader Lease and dataplane reports live
                         (default: $POD_NAMESPACE, else gozargah-system)
  --kubeconfig FILE      the API server and credentials (default: in-cluster)
  --identity NAME        this replica's name in the leader Lease (default: $POD_NAME, else the
                         hostname and a random suffix)
  --admin-listen H:P     /healthz /readyz /metrics (default: 0.0.0.0:9090)
  --lease-name NAME      the leader-election Lease (default: gozargah-operator)
  --lease-seconds N      a leader that has not renewed for N seconds is replaced (default: 15)
  --debounce-ms N        gather changes for N ms before compiling (default: 50)
  --rewatch-seconds N    re-establish every watch this often, in case one went silent (default: 300)
  --redis URL            the fleet's counts (the dataplane's --redis): the leader writes each
                         ClientBinding's status.usage from them (redis://host:6379/0, rediss://...,
                         unix:///path/redis.sock, redis-sentinel://h1:26379,h2:26379/master;
                         default: $GOZARGAH_REDIS_URL; without it usage stays as stored)
  --redis-password-file FILE
                         the Redis password (default: $GOZARGAH_REDIS_PASSWORD)
  --usage-seconds N      read the counts and write the usage that changed every N seconds
                         (default: 15, at most 30)
  --bus NAME             a bus whose dataplanes are deployed (repeatable; the chart gives one per
                         bus): it is published even with no route on it, so its replicas become
                         ready and refuse with the bus's own problems instead of not_ready`;

export class ArgsError extends Error {}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function hostPort(flag: string, value: string): { host: string; port: number } {
  const parsed = parseHostPort(value);
  if (parsed === null) throw new ArgsError(`${flag} must be HOST:PORT, got ${value}`);
  return parsed;
}

function positive(flag: string, value: string, integer = true): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new ArgsError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  return n;
}

export function parseOperatorArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        namespace: { type: 'string', default: env.POD_NAMESPACE ?? 'gozargah-system' },
        kubeconfig: { type: 'string' },
        // Outside a pod, two operators on one host must not share an identity: both would lead.
        identity: { type: 'string', default: env.POD_NAME ?? `${hostname()}-${randomBytes(3).toString('hex')}` },
        'admin-listen': { type: 'string', default: '0.0.0.0:9090' },
        'lease-name': { type: 'string', default: 'gozargah-operator' },
        'lease-seconds': { type: 'string', default: '15' },
        'debounce-ms': { type: 'string', default: '50' },
        'rewatch-seconds': { type: 'string', default: '300' },
        redis: { type: 'string' },
        'redis-password-file': { type: 'string' },
        'usage-seconds': { type: 'string', default: '15' },
        bus: { type: 'string', multiple: true, default: [] },
      },
    }));
  } catch (err) {
    throw new ArgsError((err as Error).message);
  }
  if (!DNS_LABEL.test(values.namespace)) throw new ArgsError(`--namespace must be a DNS label, got ${values.namespace}`);
  if (!DNS_LABEL.test(values['lease-name'])) throw new ArgsError(`--lease-name must be a DNS label, got ${values['lease-name']}`);
  if (values.identity.length === 0) throw new ArgsError('--identity must not be empty');
  const debounce = Number(values['debounce-ms']);
  if (!Number.isInteger(debounce) || debounce < 0) throw new ArgsError(`--debounce-ms must be a whole number of milliseconds, got ${values['debounce-ms']}`);
  const usageSeconds = positive('--usage-seconds', values['usage-seconds']);
  if (usageSeconds > MAX_USAGE_SECONDS) throw new ArgsError(`--usage-seconds must be at most ${MAX_USAGE_SECONDS} (status.usage may lag the counts by no more), got ${values['usage-seconds']}`);
  for (const bus of values.bus) if (!DNS_LABEL.test(bus)) throw new ArgsError(`--bus must be a DNS label, got ${bus}`);
  const redis = redisFromFlags(values.redis ?? env[REDIS_URL_ENV], values['redis-password-file'] ?? null, env, (message) => new ArgsError(message));
  return {
    namespace: values.namespace,
    kubeconfig: values.kubeconfig ?? null,
    identity: values.identity,
    adminListen: hostPort('--admin-listen', values['admin-listen']),
    leaseName: values['lease-name'],
    leaseSeconds: positive('--lease-seconds', values['lease-seconds']),
    debounceMs: debounce,
    rewatchSeconds: Math.min(positive('--rewatch-seconds', values['rewatch-seconds']), 86_400), // setTimeout's limit is 24.8 days
    redis,
    usageSeconds,
    buses: [...new Set(values.bus)],
  };
}

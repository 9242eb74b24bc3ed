// A bus of several dataplane replicas sharing one real redis-server, in front of one agency, and
// the load a test drives through them: what the accounting tests have in common.
import { Pool } from 'undici';
import { startAgency, type Agency } from './agency.ts';
import { startDataplane, type RunningDataplane } from './dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from './manifests.ts';
import { startRedis, type RunningRedis, type RedisOptions } from './redis.ts';

type Obj = Record<string, unknown>;

export interface Fleet {
  redis: RunningRedis;
  agency: Agency;
  dir: string;
  replicas: RunningDataplane[];
  /** starts replica i again (after stop or kill), with the same arguments */
  restart(i: number): Promise<RunningDataplane>;
  close(): Promise<void>;
}

export interface FleetOptions {
  replicas: number;
  /** bindings: name -> ClientBinding spec additions (quota, rateLimit); each gets key `${name}-key-0123456789abcdef` */
  bindings: Record<string, Obj>;
  args?: string[];
  redis?: RedisOptions;
}

export const keyOf = (name: string): string => `${name}-key-0123456789abcdef`;
export const PATH = '/registry/v1/persons/';

/**
 * One agency, one inquiry at PATH, and a client per binding (name -> spec additions, each with
 * the key keyOf(name)), written where --manifests reads them; the directory.
 */
export function fleetManifests(agencyUrl: string, bindings: Record<string, Obj>): string {
  const objects: Obj[] = [provider('agency', agencyUrl, { circuitBreaker: { consecutiveFailures: 1000 } }), route('person', 'agency', `${PATH}{nationalId}`, { upstreamPath: '/echo/{nationalId}' })];
  for (const [name, spec] of Object.entries(bindings)) {
    objects.push(keySecret(`${name}-keys`, { k: keyOf(name) }), binding(name, name, [{ namespace: 'gov', name: 'person' }], spec));
  }
  return manifestDir(objects);
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const redis = await startRedis(options.redis);
  const agency = await startAgency();
  const dir = fleetManifests(agency.url, options.bindings);
  const argsOf = (i: number): string[] => ['--manifests', dir, '--redis', redis.url, '--replica', `replica-${i}`, ...(options.args ?? [])];
  const replicas = await Promise.all(Array.from({ length: options.replicas }, (_, i) => startDataplane(argsOf(i))));
  return {
    redis,
    agency,
    dir,
    replicas,
    restart: async (i) => (replicas[i] = await startDataplane(argsOf(i))),
    close: async () => {
      await Promise.all(replicas.map((r) => r.stop()));
      await Promise.all([redis.close(), agency.close()]);
    },
  };
}

export interface Answer {
  status: number;
  code: string;
  replica: number;
  at: number;
}

/** One inquiry through replica `i`, with the binding's key. */
export async function ask(pool: Pool, key: string, replica: number): Promise<Answer> {
  const res = await pool.request({ path: `${PATH}1234567890`, method: 'GET', headers: { 'x-api-key': key } });
  await res.body.text();
  return { status: res.statusCode, code: String(res.headers['x-gozargah-error'] ?? (res.statusCode === 200 ? 'ok' : res.statusCode)), replica, at: Date.now() };
}

/**
 * Sends requests through every replica in turn, `concurrency` at a time per replica, until
 * `until()` says stop; a request that fails at the socket counts as status 0.
 */
export async function load(replicas: RunningDataplane[], key: string, concurrency: number, until: (sent: number) => boolean): Promise<Answer[]> {
  const pools = replicas.map((r) => new Pool(r.url, { connections: concurrency }));
  const answers: Answer[] = [];
  let sent = 0;
  const worker = async (i: number): Promise<void> => {
    while (!until(sent)) {
      sent++;
      try {
        answers.push(await ask(pools[i] as Pool, key, i));
      } catch {
        answers.push({ status: 0, code: 'socket', replica: i, at: Date.now() });
      }
    }
  };
  await Promise.all(replicas.flatMap((_, i) => Array.from({ length: concurrency }, () => worker(i))));
  await Promise.all(pools.map((p) => p.close()));
  return answers;
}

export const countBy = (answers: Answer[], status: number): number => answers.filter((a) => a.status === status).length;

/** The sum of every usage count Redis holds for a UTC day of the bus (all fields). */
export async function redisUsageTotal(redis: RunningRedis, day: string, bus = 'default'): Promise<number> {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync('redis-cli', ['-p', String(redis.port), '--raw', 'hvals', `gozargah:{${bus}}:usage:${day}`]).toString();
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .reduce((sum, v) => sum + Number(v), 0);
}

export const today = (): string => new Date().toISOString().slice(0, 10);

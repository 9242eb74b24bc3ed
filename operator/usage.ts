// status.usage from the fleet's counts. The dataplane replicas charge every request to their
// binding's quota in Redis (quotaKey: hash field `used`); the leader reads those figures every
// --usage-seconds, all in one pipelined round trip, and writes the usage of the bindings whose
// figure changed, a few at a time, through the one status writer.
//
// Who owns what in a ClientBinding's status.usage:
// - the compiler decides whether there is a usage line (spec.quota), its limit, and starts a
//   new period at 0; it carries the rest forward from the stored status;
// - this loop owns the counts (requests, updated) and only fills in a usage line the compiler
//   made, so the two never add and remove it in turn;
// - the reconcile writes with keepCountedUsage: a status it compiled from an older cached copy
//   does not put back an older count (see there).
// While Redis is unreachable the statuses stay as they are: a stale count is better than a 0.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { connectRedis, quotaLabel, quotaPeriodEnd, readQuotaUsed, type Redis, type RedisTarget } from '../api/accounting/index.ts';
import { API_VERSION } from '../api/v1alpha1/index.ts';
import type { ObjectStatus } from '../compiler/types.ts';
import { describeError } from '../kube/api-errors.ts';
import type { EventNote, EventRecorder } from './events.ts';
import type { OperatorMetrics } from './metrics.ts';
import { writeStatus, type Stored } from './status.ts';

type Log = (record: Record<string, unknown>) => void;

/** status.usage as stored; limit and updated are missing on a status of an older operator. */
export interface StoredUsage {
  period: string;
  requests: number;
  limit?: number;
  quota: string;
  updated?: string;
}

/** A ClientBinding as the controller's watch cache holds it. */
export interface QuotaBinding {
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  spec?: { bus?: string; client?: { id?: string }; quota?: { requests: number; period: 'Day' | 'Month' } };
  status?: { conditions?: unknown[]; usage?: StoredUsage };
}

/** Status writes of one pass in flight at once: the reconcile writes too, and has priority. */
const WRITE_CONCURRENCY = 4;

/** RFC 3339 to the second, as Kubernetes writes its times. */
export const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function limitOf(u: StoredUsage): number | null {
  if (u.limit !== undefined) return u.limit;
  const m = /\/(\d+)$/.exec(u.quota);
  return m === null ? null : Number(m[1]);
}

/** 0 below 80% of the limit, 1 from 80%, 2 from 100% (the dataplane refuses from there). */
export function quotaLevel(u: StoredUsage | undefined): 0 | 1 | 2 {
  if (u === undefined) return 0;
  const limit = limitOf(u);
  if (limit === null || limit <= 0) return 0;
  if (u.requests >= limit) return 2;
  return u.requests * 5 >= limit * 4 ? 1 : 0;
}

/** When the period of a label (2026-11-23 or 2026-11) ends, as people read it: 2026-11-24 00:00 UTC. */
export function periodRenews(period: string): string {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(period);
  const start = Date.parse(day ? `${period}T00:00:00Z` : `${period}-01T00:00:00Z`);
  if (Number.isNaN(start)) return 'the next period';
  return `${new Date(quotaPeriodEnd(day ? 'Day' : 'Month', start)).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The Events a status write makes: QuotaNearlyUsed when usage reaches 80% of the limit,
 * QuotaExhausted at 100%, each once per period. Compared with the usage stored before the
 * write, so a restarted operator, or a pass that writes the same level again, says nothing; a
 * jump past both thresholds gives both. A new period starts below both.
 */
export function quotaCrossings(binding: string, before: StoredUsage | undefined, after: StoredUsage | undefined): EventNote[] {
  if (after === undefined) return [];
  const was = before !== undefined && before.period === after.period ? quotaLevel(before) : 0;
  const is = quotaLevel(after);
  const limit = limitOf(after) as number;
  const notes: EventNote[] = [];
  const renews = `until the period renews at ${periodRenews(after.period)}`;
  if (was < 1 && is >= 1) {
    const percent = Math.floor((after.requests * 100) / limit);
    notes.push({
      type: 'Warning',
      reason: 'QuotaNearlyUsed',
      message: `ClientBinding ${binding} has used ${after.requests}/${limit} requests (${percent}%) of its quota for ${after.period}; once all are used, its calls are refused with 429 quota_exhausted ${renews}.`,
    });
  }
  if (was < 2 && is >= 2) {
    notes.push({
      type: 'Warning',
      reason: 'QuotaExhausted',
      message: `ClientBinding ${binding} has used ${after.requests}/${limit} requests of its quota for ${after.period}: its calls are refused with 429 quota_exhausted ${renews}.`,
    });
  }
  return notes;
}

/** Same kind of label (both days or both months) and not earlier. */
const notBefore = (period: string, than: string): boolean => period.length === than.length && period >= than;

/**
 * For the reconcile's writes: the status it compiled, with the counts the object carries now.
 * The compile read a cached copy that may predate the usage loop's last write; on a 409 the
 * writer reads the object again and asks this again. Within the same period (or when the loop
 * already wrote the next one, the compile's clock having read the last seconds of the old) the
 * stored requests and updated stand; the limit and the usage line itself are the compiler's.
 */
export function keepCountedUsage(current: Stored, wanted: ObjectStatus): ObjectStatus {
  const want = wanted['usage'] as StoredUsage | undefined;
  const have = current.status?.usage;
  if (want === undefined || have === undefined || !notBefore(have.period, want.period)) return wanted;
  const limit = want.limit ?? limitOf(want) ?? 0;
  const usage: StoredUsage = { period: have.period, requests: have.requests, limit, quota: `${have.requests}/${limit}` };
  if (have.updated !== undefined) usage.updated = have.updated;
  return { ...wanted, usage };
}

export interface UsageLoopOptions {
  target: RedisTarget;
  intervalMs: number;
  /** the ClientBindings as the controller's watch holds them now (no second watch) */
  bindings: () => readonly QuotaBinding[];
  api: CustomObjectsApi;
  recorder: EventRecorder;
  metrics: OperatorMetrics;
  log: Log;
  /** false once this replica must stop writing */
  writing: () => boolean;
  now?: () => number;
}

export interface UsageState {
  redis: string;
  state: 'connecting' | 'up' | 'down';
  since: string;
  lastError: string | null;
  /** the last pass that read the counts */
  lastPass: { at: string; bindings: number; written: number; failed: number } | null;
}

interface Due {
  binding: QuotaBinding;
  usage: StoredUsage;
}

export class UsageLoop {
  #o: UsageLoopOptions;
  #now: () => number;
  #redis: Redis;
  #connecting: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #pass: Promise<void> | null = null;
  #stopped = false;
  #state: UsageState['state'] = 'connecting';
  #since: number;
  #lastError: string | null = null;
  #lastPass: UsageState['lastPass'] = null;

  constructor(options: UsageLoopOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#since = this.#now();
    this.#redis = connectRedis(options.target, 'gozargah-operator');
    // Errors are seen where commands fail; without a listener ioredis prints each one.
    this.#redis.on('error', (err: Error) => {
      this.#lastError = err.message;
    });
  }

  start(): void {
    this.#o.log({ level: 'info', msg: "status.usage from the fleet's counts in Redis", redis: this.#o.target.display, everySeconds: this.#o.intervalMs / 1000 });
    this.#connecting = this.#redis.connect().catch((err: unknown) => {
      this.#lastError = (err as Error).message; // the first pass reports it; the client keeps trying
    });
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#pass;
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  state(): UsageState {
    return { redis: this.#o.target.display, state: this.#state, since: new Date(this.#since).toISOString(), lastError: this.#lastError, lastPass: this.#lastPass };
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const started = this.#now();
      this.#pass = this.#run().then(() => {
        this.#pass = null;
        // Passes never overlap: a slow one (10,000 writes at a new period) delays the next.
        this.#schedule(Math.max(0, started + this.#o.intervalMs - this.#now()));
      });
    }, delayMs);
  }

  async #run(): Promise<void> {
    try {
      await this.#connecting;
      this.#connecting = null;
      await this.pass();
    } catch (err) {
      this.#o.log({ level: 'error', msg: 'usage pass failed', error: describeError(err) });
    }
  }

  /** One pass: read every quota binding's figure, write those that changed. Public for tests. */
  async pass(): Promise<void> {
    const nowMs = this.#now();
    const bindings = this.#o.bindings().filter((b) => b.spec?.quota !== undefined && b.metadata?.name !== undefined && b.metadata.namespace !== undefined);
    const entries = bindings.map((b) => ({
      bus: b.spec?.bus ?? 'default',
      period: quotaLabel(b.spec?.quota?.period as 'Day' | 'Month', nowMs),
      binding: `${b.metadata?.namespace}/${b.metadata?.name}`,
    }));
    let used: number[];
    try {
      used = await readQuotaUsed(this.#redis, entries);
      if (entries.length === 0) await this.#redis.ping(); // still say whether Redis answers
    } catch (err) {
      this.#down((err as Error).message);
      return;
    }
    this.#up();
    const ratios = new Map<string, { client: string; ratio: number }>();
    const due: Due[] = [];
    bindings.forEach((binding, i) => {
      const { period, binding: id } = entries[i] as (typeof entries)[number];
      const requests = used[i] as number;
      const limit = binding.spec?.quota?.requests as number;
      ratios.set(id, { client: binding.spec?.client?.id ?? '', ratio: requests / limit });
      const stored = binding.status?.usage;
      // Only a usage line the compiler made (it has not compiled this binding yet, or refused it).
      if (stored === undefined) return;
      if (stored.period === period && stored.requests === requests) return;
      // The compiler already started a later period than this pass's clock read: leave it.
      if (stored.period !== period && notBefore(stored.period, period)) return;
      due.push({ binding, usage: { period, requests, limit, quota: `${requests}/${limit}`, updated: rfc3339(nowMs) } });
    });
    this.#o.metrics.quotaUsed(ratios);
    let written = 0;
    let failed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < due.length && this.#o.writing() && !this.#stopped) {
        const { binding, usage } = due[next++] as Due;
        const namespace = binding.metadata?.namespace as string;
        const name = binding.metadata?.name as string;
        const status = { ...(binding.status as ObjectStatus), usage };
        try {
          const result = await writeStatus(
            this.#o.api,
            { apiVersion: API_VERSION, kind: 'ClientBinding', metadata: { namespace, name }, status },
            this.#o.recorder,
            binding as Stored,
            // After a 409: the status as it is now (the reconcile's conditions), with this usage.
            (current) => ({ ...(current.status as ObjectStatus), usage }),
          );
          if (result === 'written') {
            written++;
            this.#o.metrics.statusWritten('ClientBinding');
          }
        } catch (err) {
          failed++;
          this.#o.metrics.statusFailed('ClientBinding');
          this.#o.log({ level: 'error', msg: 'usage write failed; the next pass tries again', object: `ClientBinding ${namespace}/${name}`, error: describeError(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, due.length) }, worker));
    this.#lastPass = { at: new Date(nowMs).toISOString(), bindings: bindings.length, written, failed };
    if (due.length > 0) this.#o.log({ level: 'debug', msg: 'usage written', bindings: bindings.length, due: due.length, written, failed });
  }

  #up(): void {
    this.#o.metrics.redisUp = true;
    if (this.#state === 'up') return;
    const was = this.#state;
    const downSeconds = Math.round((this.#now() - this.#since) / 100) / 10;
    this.#state = 'up';
    this.#since = this.#now();
    if (was === 'down') this.#o.log({ level: 'info', msg: "Redis reachable again: status.usage follows the fleet's counts", redis: this.#o.target.display, downSeconds });
  }

  /** Logged once per outage, however many passes fail during it. */
  #down(error: string): void {
    this.#o.metrics.redisUp = false;
    this.#lastError = error;
    if (this.#state === 'down') return;
    this.#state = 'down';
    this.#since = this.#now();
    this.#o.log({ level: 'warn', msg: 'Redis unreachable: status.usage is kept as it is until it returns', redis: this.#o.target.display, error });
  }
}

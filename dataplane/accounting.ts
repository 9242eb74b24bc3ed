// The replica's accounting: the gates of every binding's rate and quota, and the usage counts.
// With --redis they are the fleet's (fleet-*.ts): usage and quota charges leave in one batch
// every second and at shutdown, applied once each in Redis. Without it, this replica counts
// alone, as it says at start, and with --state-dir its quotas survive a restart.
//
// While Redis is away: in `local` mode each replica decides on its share of the limits and keeps
// its counts until Redis returns; in `refuse` mode calls are answered 503 accounting_unavailable
// and the replica reports not ready.
import type { RedisTarget } from '../api/accounting/index.ts';
import { FleetQuota } from './fleet-quota.ts';
import { FleetRate } from './fleet-rate.ts';
import { FleetStore, type Batch, type FleetStatus, type HashIncrements } from './fleet-store.ts';
import { QuotaCounter, TokenBucket, type QuotaGate, type RateGate } from './limits.ts';
import type { Log } from './loader.ts';
import type { Transaction } from './metering.ts';
import { StateDir, type SavedQuota } from './state-dir.ts';
import { UsageTally } from './usage-tally.ts';

export type RedisUnavailable = 'local' | 'refuse';

export interface AccountingOptions {
  bus: string;
  replica: string;
  redis: RedisTarget | null;
  redisUnavailable: RedisUnavailable;
  stateDir: string | null;
  log: Log;
}

/** Counts go to Redis (or the state directory) this often. */
export const FLUSH_MS = 1000;
/** At shutdown, the last batch may wait this long for Redis. */
const CLOSE_MS = 2000;
/** Increments per script call: a few milliseconds of Redis's time, well inside the command timeout. */
const BATCH_FIELDS = 2000;

export interface AccountingStatus {
  mode: 'fleet' | 'replica';
  redis: (FleetStatus & { unavailable: RedisUnavailable }) | null;
  /** transactions counted and not yet in Redis */
  pendingRecords: number;
  /** requests decided on this replica's own limits while Redis was away */
  localDecisions: number;
  stateDir: string | null;
}

export class Accounting {
  #options: AccountingOptions;
  #store: FleetStore | null;
  #state: StateDir | null;
  #saved: Map<string, SavedQuota>;
  #rates = new Map<string, RateGate>();
  #quotas = new Map<string, QuotaGate>();
  #tally = new UsageTally();
  /** batches collected and not yet applied, in order: the first is sent again, whole, until Redis takes it */
  #queue: Batch[] = [];
  /** batches a previous run saved at shutdown, sent first */
  #savedBatches: Batch[];
  #seq = 0;
  #run: string;
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #quotasChanged = false;
  localDecisions = 0;
  #countLocal = (): void => {
    this.localDecisions++;
  };

  constructor(options: AccountingOptions) {
    this.#options = options;
    this.#run = `${options.replica}/${process.pid}/${Date.now().toString(36)}`;
    this.#state = options.stateDir === null ? null : new StateDir(options.stateDir, options.log);
    this.#saved = options.redis === null && this.#state !== null ? this.#state.loadQuotas() : new Map();
    this.#store = options.redis === null ? null : new FleetStore(options.redis, options.bus, options.replica, options.log);
    this.#savedBatches = this.#store !== null && this.#state !== null ? this.#state.loadBatches() : [];
  }

  start(): void {
    const { log, bus } = this.#options;
    if (this.#store === null) {
      log({
        level: 'warn',
        msg: 'limits are per replica: each replica counts quotas and rate limits alone, so N replicas allow N times the limits; give --redis URL for the fleet\'s',
        bus,
        quotasSurviveRestart: this.#state !== null,
      });
    } else {
      this.#store.start();
    }
    this.#timer = setInterval(() => void this.flush().catch((err: unknown) => this.#options.log({ level: 'error', msg: 'accounting flush failed', error: (err as Error).message })), FLUSH_MS);
    this.#timer.unref();
  }

  /** The binding's rate gate, kept across reloads (new limits keep what was spent). */
  rateGate(binding: string, rate: number, burst: number, mono: number): RateGate {
    const known = this.#rates.get(binding);
    if (known !== undefined) {
      known.reconfigure(rate, burst);
      return known;
    }
    const store = this.#store;
    const gate = store === null ? new TokenBucket(rate, burst, mono) : new FleetRate(binding, rate, burst, mono, store, this.#countLocal);
    this.#rates.set(binding, gate);
    return gate;
  }

  /** The binding's quota gate, kept across reloads; quota periods are calendar time, so `wall`. */
  quotaGate(binding: string, limit: number, period: 'Day' | 'Month', wall: number): QuotaGate {
    const known = this.#quotas.get(binding);
    if (known !== undefined) {
      known.reconfigure(limit, period, wall);
      return known;
    }
    const store = this.#store;
    const gate = store === null ? new QuotaCounter(limit, period, wall, this.#saved.get(binding)) : new FleetQuota(binding, limit, period, wall, store, this.#countLocal);
    this.#quotas.set(binding, gate);
    return gate;
  }

  quota(binding: string): QuotaGate | undefined {
    return this.#quotas.get(binding);
  }

  /** Every recorded transaction, as the audit log gets it. */
  count(t: Transaction): void {
    if (this.#store !== null) this.#tally.add(t);
    else this.#quotasChanged = true;
  }

  /** False until the first attempt to reach Redis has ended: until then the replica knows no counts. */
  settled(): boolean {
    return this.#store === null || this.#store.settled;
  }

  /** False only in refuse mode while Redis is away: the call must not be decided alone. */
  available(): boolean {
    return this.#store === null || this.#store.up || this.#options.redisUnavailable === 'local';
  }

  /** Seconds without Redis since start (0 without --redis). */
  unavailableSeconds(): number {
    return this.#store?.unavailableSeconds() ?? 0;
  }

  status(): AccountingStatus {
    const store = this.#store;
    return {
      mode: store === null ? 'replica' : 'fleet',
      redis: store === null ? null : { ...store.status(), unavailable: this.#options.redisUnavailable },
      pendingRecords: this.#tally.pending + this.#queue.reduce((n, b) => n + b.records, 0),
      localDecisions: this.localDecisions,
      stateDir: this.#state?.dir ?? null,
    };
  }

  /** One flush at a time; a tick that finds one running skips. */
  flush(): Promise<void> {
    if (this.#flushing === null) {
      this.#flushing = this.#flushOnce(false).finally(() => {
        this.#flushing = null;
      });
    }
    return this.#flushing;
  }

  async #flushOnce(final: boolean): Promise<void> {
    const store = this.#store;
    if (store === null) {
      if (this.#state !== null && (this.#quotasChanged || final)) {
        if (final) this.#state.saveQuotasNow(this.#localQuotas());
        // Cleared only when a write starts: one still running leaves the change for the next tick.
        else if (this.#state.saveQuotas(this.#localQuotas())) this.#quotasChanged = false;
        if (final) this.#quotasChanged = false;
      }
      return;
    }
    if (!store.up) await store.probe();
    if (!store.up) return;
    // Batches saved at a shutdown while Redis was away go first, in their order.
    while (this.#savedBatches.length > 0) {
      const saved = this.#savedBatches[0] as Batch;
      await store.apply(saved).catch(() => undefined);
      if (!store.up) return;
      this.#state?.removeBatch(saved);
      this.#savedBatches.shift();
    }
    // Each sent whole until Redis takes it; meanwhile new counts gather in the tally and the gates.
    if (this.#queue.length === 0) this.#queue = this.#collect(final);
    try {
      while (this.#queue.length > 0) {
        await store.apply(this.#queue[0] as Batch);
        this.#queue.shift();
      }
    } catch {
      // marked down by the store; the batches wait for Redis
    }
  }

  /**
   * The counts gathered since the last collect, cut into batches of at most BATCH_FIELDS
   * increments: after a long outage one script of every field could outlast the command timeout
   * and never be taken. An empty batch is a heartbeat: it keeps this replica in the fleet's size.
   */
  #collect(final: boolean): Batch[] {
    const wall = Date.now();
    const hashes: HashIncrements[] = [];
    const records = this.#tally.collect(this.#options.bus, hashes);
    for (const gate of this.#quotas.values()) (gate as FleetQuota).collect(wall, hashes, final);
    if (hashes.length === 0) return [{ run: this.#run, seq: this.#seq, hashes, records }];
    const batches: Batch[] = [];
    let current: HashIncrements[] = [];
    let fields = 0;
    const cut = (): void => {
      if (current.length > 0) batches.push({ run: this.#run, seq: ++this.#seq, hashes: current, records: 0 });
      current = [];
      fields = 0;
    };
    for (const h of hashes) {
      for (let i = 0; i < h.fields.length; i += BATCH_FIELDS) {
        const part = h.fields.slice(i, i + BATCH_FIELDS);
        if (fields + part.length > BATCH_FIELDS) cut();
        current.push({ key: h.key, ttlSeconds: h.ttlSeconds, fields: part });
        fields += part.length;
      }
    }
    cut();
    (batches[batches.length - 1] as Batch).records = records;
    return batches;
  }

  #localQuotas(): Map<string, SavedQuota> {
    const out = new Map<string, SavedQuota>();
    for (const [binding, gate] of this.#quotas) out.set(binding, { period: gate.periodLabel(), used: (gate as QuotaCounter).used });
    return out;
  }

  /**
   * At shutdown: the last counts (and leased units unused) go to Redis, waiting at most
   * CLOSE_MS. Counts Redis could not take are saved in the state directory when there is one,
   * and sent at the next start; otherwise they are reported lost, with their number.
   */
  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#flushing;
    const store = this.#store;
    if (store === null) {
      await this.#state?.idle();
      return this.#flushOnce(true);
    }
    const last = (async (): Promise<void> => {
      if (this.#queue.length > 0) await this.#flushOnce(false);
      if (this.#queue.length === 0) await this.#flushOnce(true);
    })();
    await Promise.race([last, new Promise((resolve) => setTimeout(resolve, CLOSE_MS).unref())]);
    for (const unsent of [...this.#queue, ...this.#collect(true)]) {
      if (unsent.hashes.length === 0) continue;
      const saved = this.#state?.saveBatch(unsent) ?? false;
      this.#options.log({
        level: saved ? 'warn' : 'error',
        msg: saved ? 'Redis unreachable at shutdown: counts saved, sent at the next start' : 'Redis unreachable at shutdown: counts lost (give --state-dir to keep them)',
        records: unsent.records,
      });
    }
    await store.close();
  }
}

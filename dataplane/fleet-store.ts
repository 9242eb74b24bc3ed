// The fleet's counts in Redis, as this replica sees them: three Lua scripts (a quota lease, a
// take from a binding's global token bucket, a batch of counts) and whether Redis is reachable.
// Every script runs atomically in Redis and reads Redis's own clock, so replicas whose clocks
// disagree still share one bucket and one quota. Nothing here waits for Redis to come back: a
// command while it is away fails at once, and the callers fall back to per-replica limits.
import { appliedKey, BUSES_KEY, connectRedis, replicasKey, REPLICA_STALE_MS, type Redis, type RedisTarget } from '../api/accounting/index.ts';
import type { Log } from './loader.ts';

/**
 * Hands out up to `want` units of a quota, never more than is left, and at most a quarter of a
 * replica's share of what is left: chunks shrink as the quota runs out, down to one unit each,
 * so a small quota is served exactly. KEYS: quota, replicas. ARGV: limit, want, ttl seconds.
 * Answers {granted, leased after, replicas}.
 */
const LEASE_QUOTA = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local replicas = redis.call('ZCOUNT', KEYS[2], now - ${REPLICA_STALE_MS}, '+inf')
if replicas < 1 then replicas = 1 end
local limit = tonumber(ARGV[1])
local leased = tonumber(redis.call('HGET', KEYS[1], 'leased') or '0')
local remaining = limit - leased
if remaining <= 0 then return {0, leased, replicas} end
local grant = math.min(tonumber(ARGV[2]), remaining, math.max(1, math.floor(remaining / (4 * replicas))))
redis.call('HINCRBY', KEYS[1], 'leased', grant)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {grant, leased + grant, replicas}
`;

/**
 * Takes up to `want` tokens from a binding's bucket, refilled at `rate` per second up to `burst`,
 * and at most half of a replica's share of what is there (at least one), so one replica's chunk
 * never takes the burst the others were about to use. KEYS: bucket, replicas. ARGV: rate,
 * burst, want. Answers {granted, ms until a token}.
 */
const TAKE_RATE = `
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local replicas = redis.call('ZCOUNT', KEYS[2], math.floor(now) - ${REPLICA_STALE_MS}, '+inf')
if replicas < 1 then replicas = 1 end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then tokens = math.min(burst, tokens + (now - at) * rate / 1000) end
local grant = math.min(tonumber(ARGV[3]), math.floor(tokens), math.max(1, math.floor(tokens / (2 * replicas))))
tokens = tokens - grant
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(math.max(now, at)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 60000)
if grant > 0 then return {grant, 0} end
return {0, math.ceil((1 - tokens) * 1000 / rate)}
`;

/**
 * Applies a batch of counts once. A replica sends its batches in order, each until Redis takes
 * it, so the last sequence number applied per run is enough: a retried batch (its answer lost)
 * finds it and is not counted twice. KEYS: the run's applied marker, replicas, then the hashes.
 * ARGV: member, seq, then per hash: its number of fields, its ttl in seconds (0: keep), and
 * field, increment pairs. A marker outlives its run by a week; replicas silent for an hour
 * leave the fleet's list. Answers {applied (1) or already (0), the fleet's size}: every replica
 * learns it once a second, whether or not it leases quota.
 */
const APPLY_BATCH = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 3600000)
local replicas = redis.call('ZCOUNT', KEYS[2], now - ${REPLICA_STALE_MS}, '+inf')
if #KEYS == 2 then return {1, replicas} end
local seq = tonumber(ARGV[2])
if seq <= tonumber(redis.call('GET', KEYS[1]) or '0') then return {0, replicas} end
redis.call('SET', KEYS[1], seq, 'EX', 7 * 86400)
local i = 3
for k = 3, #KEYS do
  local n = tonumber(ARGV[i])
  local ttl = tonumber(ARGV[i + 1])
  i = i + 2
  for _ = 1, n do
    redis.call('HINCRBY', KEYS[k], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  if ttl > 0 then redis.call('EXPIRE', KEYS[k], ttl) end
end
return {1, replicas}
`;

const GENERIC_CLOSE = /^(connection closed|Connection is closed\.)$/;

interface Scripted extends Redis {
  leaseQuota(quota: string, replicas: string, limit: number, want: number, ttl: number): Promise<[number, number, number]>;
  takeRate(bucket: string, replicas: string, rate: number, burst: number, want: number): Promise<[number, number]>;
  applyBatch(...args: (string | number)[]): Promise<[number, number]>;
}

/** Increments of one hash, and how long it lives after them. */
export interface HashIncrements {
  key: string;
  ttlSeconds: number;
  fields: [field: string, increment: number][];
}

export interface Batch {
  /** the replica process that counted it: its name and start (a batch saved at shutdown may be sent by its successor) */
  run: string;
  /** in order within a run; a retry of the same batch carries the same number */
  seq: number;
  hashes: HashIncrements[];
  /** how many transactions the batch counts, for the pending gauge and the logs */
  records: number;
}

export interface FleetStatus {
  url: string;
  state: 'up' | 'down';
  /** when the current state began */
  since: string;
  lastError: string | null;
  /** the fleet's size as Redis last told it (replicas that flushed in the last 10 s), at least once a second */
  replicas: number;
}

export class FleetStore {
  readonly bus: string;
  readonly replica: string;
  /** this process in the fleet's size: the replica's name and pid, so replicas sharing a host name still count apart */
  #member: string;
  #redis: Scripted;
  #display: string;
  #log: Log;
  up = false;
  /**
   * false until the first connection attempt has succeeded or failed: before that a replica
   * knows nothing of the fleet's counts, so it neither reports ready nor decides alone.
   */
  settled = false;
  #settle!: () => void;
  /** resolves once `settled` */
  readonly firstAttempt = new Promise<void>((resolve) => (this.#settle = resolve));
  #since = Date.now();
  #lastError: string | null = null;
  /** ms spent without Redis before the current outage */
  #downMsBefore = 0;
  replicas = 1;
  #announcedDown = false;
  #closing = false;

  constructor(target: RedisTarget, bus: string, replica: string, log: Log) {
    this.bus = bus;
    this.replica = replica;
    this.#display = target.display;
    this.#log = log;
    // A hot-path lease waits at most this long: Redis on the data center's network answers in a
    // millisecond; past 500 ms it is as good as gone, and the replica decides alone.
    this.#redis = connectRedis(target, `gozargah-dataplane:${bus}:${replica}`, 500) as Scripted;
    this.#member = `${replica}/${process.pid}`;
    this.#redis.defineCommand('leaseQuota', { numberOfKeys: 2, lua: LEASE_QUOTA });
    this.#redis.defineCommand('takeRate', { numberOfKeys: 2, lua: TAKE_RATE });
    this.#redis.defineCommand('applyBatch', { lua: APPLY_BATCH });
    this.#redis.on('ready', () => this.#markUp());
    this.#redis.on('error', (err: Error) => this.#markDown(err.message));
    this.#redis.on('close', () => this.#markDown('connection closed'));
  }

  /** Connects in the background; the replica serves (on its own limits) until Redis answers. */
  start(): void {
    this.#log({ level: 'info', msg: 'accounting in Redis: quotas, rate limits and usage are the fleet\'s', redis: this.#display, bus: this.bus, replica: this.replica });
    this.#redis.connect().catch((err: unknown) => this.#markDown((err as Error).message));
  }

  #markUp(): void {
    this.#settled();
    if (this.up) return;
    const downSeconds = this.#switch();
    this.#announcedDown = false;
    if (!this.#closing) this.#log({ level: 'info', msg: "Redis reachable: quotas and rate limits are the fleet's", redis: this.#display, downSeconds });
    this.#redis.sadd(BUSES_KEY, this.bus).catch((err: unknown) => this.#markDown((err as Error).message));
    void this.#checkEviction();
  }

  /**
   * Every key of ours has a TTL, so a Redis that evicts volatile keys under memory pressure (the
   * default of several managed services) could drop a quota (then exceeded) or a batch marker
   * (then a resent batch counts twice). Said once per connection; the operator decides.
   */
  async #checkEviction(): Promise<void> {
    const info = await this.#redis.info('memory').catch(() => '');
    const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
    if (policy !== undefined && policy !== 'noeviction' && !this.#closing) {
      this.#log({ level: 'warn', msg: 'Redis may evict the fleet\'s counts under memory pressure: set maxmemory-policy noeviction', redis: this.#display, maxmemoryPolicy: policy });
    }
  }

  #settled(): void {
    if (this.settled) return;
    this.settled = true;
    this.#settle();
  }

  /** Logged once per outage, however many commands fail during it. */
  #markDown(error: string): void {
    this.#settled();
    // A closed connection follows the error that closed it: keep the error, it says why.
    if (!(GENERIC_CLOSE.test(error) && this.#announcedDown && this.#lastError !== null)) this.#lastError = error;
    if (this.up) this.#switch();
    if (this.#announcedDown || this.#closing) return;
    this.#announcedDown = true;
    this.#log({ level: 'warn', msg: 'Redis unreachable: deciding on per-replica limits until it returns', redis: this.#display, error });
  }

  /** Flips up and down; answers how long the state that ended lasted, in seconds. */
  #switch(): number {
    const now = Date.now();
    const lasted = now - this.#since;
    if (!this.up) this.#downMsBefore += lasted;
    this.up = !this.up;
    this.#since = now;
    return Math.round(lasted / 100) / 10;
  }

  /** Seconds spent without Redis since start, the current outage included. */
  unavailableSeconds(): number {
    return (this.#downMsBefore + (this.up ? 0 : Date.now() - this.#since)) / 1000;
  }

  status(): FleetStatus {
    return { url: this.#display, state: this.up ? 'up' : 'down', since: new Date(this.#since).toISOString(), lastError: this.#lastError, replicas: this.replicas };
  }

  /**
   * Any answer proves Redis is back: a command that failed on a live connection (a timeout, OOM,
   * READONLY during a failover) brings no reconnect and so no 'ready' event.
   */
  async #call<T>(run: () => Promise<T>): Promise<T> {
    try {
      const answer = await run();
      if (!this.up) this.#markUp();
      return answer;
    } catch (err) {
      // A script error would be ours, not Redis being away; both mean "decide alone" for now.
      this.#markDown((err as Error).message);
      throw err;
    }
  }

  /** While down: asks Redis whether it answers again (called once a flush tick, never per request). */
  async probe(): Promise<void> {
    if (this.up || this.#redis.status !== 'ready') return;
    await this.#call(() => this.#redis.ping()).catch(() => undefined);
  }

  async leaseQuota(key: string, limit: number, want: number, ttlSeconds: number): Promise<{ granted: number; leased: number }> {
    const [granted, leased, replicas] = await this.#call(() => this.#redis.leaseQuota(key, replicasKey(this.bus), limit, want, ttlSeconds));
    this.replicas = replicas;
    return { granted, leased };
  }

  async takeRate(key: string, rate: number, burst: number, want: number): Promise<{ granted: number; waitMs: number }> {
    const [granted, waitMs] = await this.#call(() => this.#redis.takeRate(key, replicasKey(this.bus), rate, burst, want));
    return { granted, waitMs };
  }

  /** Applies the batch once (see APPLY_BATCH); throws while Redis is away, and the caller keeps the batch. */
  async apply(batch: Batch): Promise<void> {
    const keys = [appliedKey(this.bus, batch.run), replicasKey(this.bus)];
    const argv: (string | number)[] = [this.#member, batch.seq];
    for (const h of batch.hashes) {
      keys.push(h.key);
      argv.push(h.fields.length, h.ttlSeconds);
      for (const [field, increment] of h.fields) argv.push(field, increment);
    }
    const [, replicas] = await this.#call(() => this.#redis.applyBatch(keys.length, ...keys, ...argv));
    this.replicas = replicas;
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}

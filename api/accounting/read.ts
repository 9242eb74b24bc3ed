// Reading the fleet's counts back: the usage rows of a range of days, and what bindings used of
// their quotas. Used by the operator and `gozargah report`; the dataplane writes (keys.ts).
import type { Redis } from 'ioredis';
import { BUSES_KEY, parseUsageField, quotaKey, usageKey, type UsageParts } from './keys.ts';

export interface UsageRow extends UsageParts {
  bus: string;
  /** the UTC day (2026-12-03) or month (2026-12) the row counts */
  label: string;
  count: number;
}

/** The buses that have counted usage. */
export async function listBuses(redis: Redis): Promise<string[]> {
  return (await redis.smembers(BUSES_KEY)).sort();
}

/** Every usage row of `bus` for the given day or month labels. */
export async function readUsage(redis: Redis, bus: string, labels: readonly string[]): Promise<UsageRow[]> {
  const pipeline = redis.pipeline();
  for (const label of labels) pipeline.hgetall(usageKey(bus, label));
  const replies = (await pipeline.exec()) ?? [];
  const rows: UsageRow[] = [];
  replies.forEach(([err, hash], i) => {
    if (err !== null) throw err;
    const label = labels[i] as string;
    for (const [field, value] of Object.entries(hash as Record<string, string>)) {
      const parts = parseUsageField(field);
      if (parts !== null) rows.push({ bus, label, ...parts, count: Number(value) });
    }
  });
  return rows;
}

/** Requests charged to each binding's quota in its period (0 when none yet). */
export async function readQuotaUsed(redis: Redis, entries: readonly { bus: string; period: string; binding: string }[]): Promise<number[]> {
  if (entries.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const e of entries) pipeline.hget(quotaKey(e.bus, e.period, e.binding), 'used');
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, value]) => {
    if (err !== null) throw err;
    return value === null ? 0 : Number(value);
  });
}

// Where the fleet's counts live in Redis: one layout, written by the dataplane and read by the
// operator (status.usage) and `gozargah report`. Every key of a bus carries the hash tag {bus},
// so a Redis Cluster keeps a bus's keys in one slot and a Lua script may touch several of them.
//
//   gozargah:{bus}:usage:2026-12-03      hash  usageField(...) -> transactions that UTC day
//   gozargah:{bus}:usage:2026-12         hash  the same fields for the UTC month
//   gozargah:{bus}:quota:2026-12:ns/b    hash  leased (handed to replicas), used (charged)
//   gozargah:{bus}:rate:ns/b             hash  tokens, at (ms): the binding's global bucket
//   gozargah:{bus}:replicas              zset  replica -> last flush (ms), the fleet's size
//   gozargah:{bus}:applied:run           string  the last batch applied of a replica run, so a retry counts once
//   gozargah:buses                       set   the buses that have usage, for the report

export const KEY_PREFIX = 'gozargah';
export const BUSES_KEY = `${KEY_PREFIX}:buses`;

const tag = (bus: string): string => `${KEY_PREFIX}:{${bus}}`;

/** label: a UTC day (2026-12-03) or month (2026-12) */
export const usageKey = (bus: string, label: string): string => `${tag(bus)}:usage:${label}`;
/** period: the quota's label, as quotaLabel gives it */
export const quotaKey = (bus: string, period: string, binding: string): string => `${tag(bus)}:quota:${period}:${binding}`;
export const rateKey = (bus: string, binding: string): string => `${tag(bus)}:rate:${binding}`;
export const replicasKey = (bus: string): string => `${tag(bus)}:replicas`;
export const appliedKey = (bus: string, run: string): string => `${tag(bus)}:applied:${run}`;

/** How long counts are kept: day figures for 400 days, month figures for 5 years. */
export const DAY_USAGE_TTL_S = 400 * 86_400;
export const MONTH_USAGE_TTL_S = 5 * 366 * 86_400;
/** A quota key outlives its period by a week, for the operator's last status of the period. */
export const QUOTA_GRACE_S = 7 * 86_400;
/** A replica that has not flushed for this long no longer counts in the fleet's size. */
export const REPLICA_STALE_MS = 10_000;

/**
 * A usage field: provider, route, client and the bus's outcome code, tab-separated (no
 * Kubernetes name holds a tab). An empty part is a request refused before it was known.
 */
export const usageField = (provider: string, route: string, client: string, code: string): string => `${provider}\t${route}\t${client}\t${code}`;

export interface UsageParts {
  provider: string;
  route: string;
  client: string;
  code: string;
}

export function parseUsageField(field: string): UsageParts | null {
  const parts = field.split('\t');
  if (parts.length !== 4) return null;
  const [provider, route, client, code] = parts as [string, string, string, string];
  return { provider, route, client, code };
}

/** The UTC day of a time in ms: 2026-12-03. */
export const dayLabel = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
/** The UTC month of a time in ms: 2026-12. */
export const monthLabel = (ms: number): string => new Date(ms).toISOString().slice(0, 7);
/** A quota's period label: the day for Day quotas, the month for Month quotas. */
export const quotaLabel = (period: 'Day' | 'Month', ms: number): string => (period === 'Day' ? dayLabel(ms) : monthLabel(ms));

/** When the quota period containing `ms` begins (UTC), in ms. */
export function quotaPeriodStart(period: 'Day' | 'Month', ms: number): number {
  const d = new Date(ms);
  return period === 'Day' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** When the quota period containing `ms` ends (UTC), in ms. */
export function quotaPeriodEnd(period: 'Day' | 'Month', ms: number): number {
  const d = new Date(ms);
  return period === 'Day'
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

// The quota line of a binding's status. Usage itself is counted by the dataplane fleet in Redis
// and written by the operator's usage loop (operator/usage.ts); the compiler carries it forward
// with the spec's limit, and starts it again at 0 when a new period begins.
import { quotaLabel } from '../api/accounting/keys.ts';
import type { ClientBinding } from '../api/v1alpha1/index.ts';

export interface Usage {
  period: string;
  requests: number;
  limit: number;
  quota: string;
  /** when requests last changed; absent on a status written before the field existed */
  updated?: string;
}

/** The quota period that contains `now`: YYYY-MM-DD for Day, YYYY-MM for Month (UTC, whatever offset `now` has). */
export function quotaPeriod(period: 'Day' | 'Month', now: string): string {
  return quotaLabel(period, Date.parse(now));
}

export function quotaUsage(binding: ClientBinding, now: string): Usage | null {
  const quota = binding.spec.quota;
  if (quota === undefined) return null;
  const period = quotaPeriod(quota.period, now);
  const limit = quota.requests;
  const before = binding.status?.usage;
  if (before !== undefined && before.period === period) {
    const usage: Usage = { period, requests: before.requests, limit, quota: `${before.requests}/${limit}` };
    if (before.updated !== undefined) usage.updated = before.updated;
    return usage;
  }
  // A new period (or the first): nothing used yet, as of now. The usage loop writes the fleet's
  // figure at its next pass if requests were already charged.
  return { period, requests: 0, limit, quota: `0/${limit}`, updated: now };
}

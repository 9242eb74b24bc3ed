// The quota line of a binding's status. Usage itself is measured by the dataplane and written
// by the operator; the compiler keeps it and resets it when a new period starts.
import type { ClientBinding } from '../api/v1alpha1/index.ts';

export interface Usage {
  period: string;
  requests: number;
  quota: string;
}

/** The quota period that contains `now`: YYYY-MM-DD for Day, YYYY-MM for Month (UTC, whatever offset `now` has). */
export function quotaPeriod(period: 'Day' | 'Month', now: string): string {
  const utc = new Date(now).toISOString();
  return period === 'Day' ? utc.slice(0, 10) : utc.slice(0, 7);
}

export function quotaUsage(binding: ClientBinding, now: string): Usage | null {
  const quota = binding.spec.quota;
  if (quota === undefined) return null;
  const period = quotaPeriod(quota.period, now);
  const before = binding.status?.usage;
  const requests = before !== undefined && before.period === period ? before.requests : 0;
  return { period, requests, quota: `${requests}/${quota.requests}` };
}

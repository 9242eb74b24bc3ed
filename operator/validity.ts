// A ClientBinding's validity window and an InquiryRoute's sunset, as the operator must watch
// them: no object changes when a window opens or closes or a sunset passes, so the operator
// compiles again then (the compiler turns Ready to Expired, Sunset or back), and says a week
// ahead that a binding is about to expire or a route to be retired. Pure: the clock is an argument.

/** How long before notAfter the operator warns (a Warning Event `BindingExpiresSoon`). */
export const EXPIRY_NOTICE_MS = 7 * 24 * 3600 * 1000;
/** A timer is never set further than this ahead: a long wait is re-armed by the next reconcile anyway. */
const MAX_WAIT_MS = 24 * 3600 * 1000;

export interface BindingValidity {
  kind: 'ClientBinding' | 'InquiryRoute';
  namespace: string;
  name: string;
  uid: string;
  notBefore?: string;
  /** a binding's validity end, a route's sunset */
  notAfter?: string;
}

export interface ValidityPlan {
  /** when to compile again (a window opens, closes, or enters its notice), or null */
  nextAt: number | null;
  /** bindings whose notAfter is within the notice and still ahead */
  expiringSoon: (BindingValidity & { notAfter: string })[];
}

export function validityPlan(bindings: readonly BindingValidity[], nowMs: number): ValidityPlan {
  let nextAt = Infinity;
  const expiringSoon: ValidityPlan['expiringSoon'] = [];
  const consider = (at: number): void => {
    if (Number.isFinite(at) && at > nowMs && at < nextAt) nextAt = at;
  };
  for (const b of bindings) {
    const notBefore = b.notBefore === undefined ? NaN : Date.parse(b.notBefore);
    const notAfter = b.notAfter === undefined ? NaN : Date.parse(b.notAfter);
    consider(notBefore);
    // The compiler calls a binding expired once now is past notAfter: look again just after it.
    consider(notAfter + 1);
    consider(notAfter - EXPIRY_NOTICE_MS);
    if (b.notAfter !== undefined && notAfter >= nowMs && notAfter - EXPIRY_NOTICE_MS <= nowMs) expiringSoon.push({ ...b, notAfter: b.notAfter });
  }
  return { nextAt: nextAt === Infinity ? null : Math.min(nextAt, nowMs + MAX_WAIT_MS), expiringSoon };
}

/** "in 3 days", "in 5 hours", "in 12 minutes": how long a person has to renew. */
export function timeLeft(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  if (minutes < 120) return `in ${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `in ${hours} hours`;
  return `in ${Math.round(hours / 24)} days`;
}

// The limits every request passes: the binding's token bucket and quota, and the agency's
// protection (calls in flight, calls per second). State lives here, outside a snapshot, so a
// reload never hands a client a fresh bucket or quota. A binding's rate and quota are gates:
// counted by this replica (TokenBucket, QuotaCounter) or by the fleet in Redis (fleet-rate.ts,
// fleet-quota.ts), behind the same two interfaces.
import { quotaLabel, quotaPeriodEnd, quotaPeriodStart } from '../api/accounting/keys.ts';

/** A binding's rate limit. */
export interface RateGate {
  readonly rate: number;
  readonly burst: number;
  /** Seconds to wait, 0 when a token was taken; a Promise only when the fleet must be asked first. */
  take(mono: number): number | Promise<number>;
  /** New limits from a reloaded snapshot keep what was spent. */
  reconfigure(rate: number, burst: number): void;
}

/** A binding's quota: one unit per request, charged only when the agency answered. */
export interface QuotaGate {
  readonly limit: number;
  /** Seconds until the quota renews when none is left, 0 when a unit was taken; a Promise only when the fleet must be asked first. */
  take(wall: number): number | Promise<number>;
  /**
   * The request that took a unit at `takenAt` (wall ms, as given to take) ended: charged when the
   * agency answered, given back otherwise, in the period it was taken in.
   */
  settle(answered: boolean, takenAt: number): void;
  /** The period label the operator reports (2026-11 or 2026-11-23). */
  periodLabel(): string;
  /** The share used in the period that contains `now`, as far as this replica knows. */
  usedRatio(now: number): number;
  /** New limits from a reloaded snapshot keep the count; a new kind of period starts one. */
  reconfigure(limit: number, period: 'Day' | 'Month', wall: number): void;
}

/** A token bucket; `take` answers the seconds to wait, 0 when a token was taken. */
export class TokenBucket implements RateGate {
  rate: number;
  burst: number;
  tokens: number;
  #last: number;

  constructor(rate: number, burst: number, now: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.#last = now;
  }

  /** New limits from a reloaded snapshot keep the tokens already spent. */
  reconfigure(rate: number, burst: number): void {
    this.rate = rate;
    this.burst = burst;
    if (this.tokens > burst) this.tokens = burst;
  }

  take(now: number): number {
    const elapsed = now - this.#last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
      this.#last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return (1 - this.tokens) / this.rate;
  }
}

/** A request counter per calendar day or month (UTC). Counted per replica. */
export class QuotaCounter implements QuotaGate {
  limit: number;
  period: 'Day' | 'Month';
  used = 0;
  #start = 0;
  #end = 0;
  #label = '';

  /** `restored`: what this binding used before a restart (--state-dir), counted when its period is still the current one */
  constructor(limit: number, period: 'Day' | 'Month', now: number, restored?: { period: string; used: number }) {
    this.limit = limit;
    this.period = period;
    this.#roll(now);
    if (restored !== undefined && restored.period === this.#label) this.used = restored.used;
  }

  reconfigure(limit: number, period: 'Day' | 'Month', now: number): void {
    this.limit = limit;
    if (period !== this.period) {
      this.period = period;
      this.#roll(now);
    }
  }

  #roll(now: number): void {
    this.#start = quotaPeriodStart(this.period, now);
    this.#end = quotaPeriodEnd(this.period, now);
    this.#label = quotaLabel(this.period, now);
    this.used = 0;
  }

  /** The share used in the period that contains `now` (0 once a new period has begun). */
  usedRatio(now: number): number {
    return now >= this.#end || this.limit <= 0 ? 0 : this.used / this.limit;
  }

  /** Takes one request from the quota; answers the seconds until it renews, 0 when taken. */
  take(now: number): number {
    if (now >= this.#end) this.#roll(now);
    if (this.used >= this.limit) return Math.ceil((this.#end - now) / 1000);
    this.used++;
    return 0;
  }

  /** A request taken but never answered by the agency is given back: quota is charged for what the bus served. */
  settle(answered: boolean, takenAt: number): void {
    // A unit of a period that has ended since is not given to the new one.
    if (!answered && this.used > 0 && takenAt >= this.#start) this.used--;
  }

  /** The period label the operator reports (2026-11 or 2026-11-23). */
  periodLabel(): string {
    return this.#label;
  }
}

/** The agency's protection: a cap on calls in flight and a per-second bucket. */
export class ProviderGuard {
  maxConcurrent: number;
  inFlight = 0;
  #perSecond: TokenBucket | null;

  constructor(maxConcurrent: number | null, maxPerSecond: number | null, now: number) {
    this.maxConcurrent = maxConcurrent ?? Number.POSITIVE_INFINITY;
    this.#perSecond = maxPerSecond === null ? null : new TokenBucket(maxPerSecond, maxPerSecond, now);
  }

  reconfigure(maxConcurrent: number | null, maxPerSecond: number | null, now: number): void {
    this.maxConcurrent = maxConcurrent ?? Number.POSITIVE_INFINITY;
    if (maxPerSecond === null) this.#perSecond = null;
    else if (this.#perSecond === null) this.#perSecond = new TokenBucket(maxPerSecond, maxPerSecond, now);
    else this.#perSecond.reconfigure(maxPerSecond, maxPerSecond);
  }

  /** Admits one call (the caller must `release` it) or answers why not. */
  admit(now: number): 'ok' | 'concurrency' | 'rate' {
    if (this.inFlight >= this.maxConcurrent) return 'concurrency';
    if (this.#perSecond !== null && this.#perSecond.take(now) > 0) return 'rate';
    this.inFlight++;
    return 'ok';
  }

  release(): void {
    this.inFlight--;
  }
}

/**
 * Consecutive failures of the agency open the breaker; after openMs one trial call decides.
 * A trial must always end: `success` or `failure` when the agency answered (or failed), and
 * `abandon` when the call never got an agency verdict (the client left, the bus refused the
 * body or the call, a local error). A trial older than TRIAL_MAX_MS is given up as well, so
 * a trial lost to a bug can never keep the agency switched off.
 */
export const TRIAL_MAX_MS = 60_000;

export class CircuitBreaker {
  threshold: number;
  openMs: number;
  failures = 0;
  state: 'closed' | 'open' | 'half-open' = 'closed';
  #openedAt = 0;
  /** when the trial in flight began, or -1 when none is */
  #trialAt = -1;
  /** names the trial in flight, so a late abandon cannot end a newer trial */
  trial = 0;

  constructor(threshold: number, openMs: number) {
    this.threshold = threshold;
    this.openMs = openMs;
  }

  /**
   * Answers the seconds to wait while open, 0 when a call may go. In half-open, the call that
   * gets 0 holds trial number `trial` and must end it with success, failure or abandon(trial).
   */
  allow(now: number): number {
    if (this.state === 'closed') return 0;
    if (this.state === 'open') {
      const remaining = this.#openedAt + this.openMs - now;
      if (remaining > 0) return Math.ceil(remaining / 1000);
      this.state = 'half-open';
    }
    if (this.#trialAt >= 0 && now - this.#trialAt < TRIAL_MAX_MS) return 1;
    this.#trialAt = now;
    this.trial++;
    return 0;
  }

  /** True while a half-open trial is in flight. */
  get inTrial(): boolean {
    return this.#trialAt >= 0;
  }

  success(): void {
    this.failures = 0;
    this.#trialAt = -1;
    this.state = 'closed';
  }

  failure(now: number): void {
    this.failures++;
    this.#trialAt = -1;
    if (this.state === 'half-open' || this.failures >= this.threshold) {
      this.state = 'open';
      this.#openedAt = now;
    }
  }

  /** Trial `trial` ended without a verdict from the agency: the next call may try. */
  abandon(trial: number): void {
    if (trial === this.trial) this.#trialAt = -1;
  }
}

/** A retry budget per provider: each call earns a fifth of a retry, at most 10 saved. */
export class RetryBudget {
  #tokens = 10;

  earn(): void {
    if (this.#tokens < 10) this.#tokens += 0.2;
  }

  spend(): boolean {
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

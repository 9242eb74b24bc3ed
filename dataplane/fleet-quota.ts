// A binding's quota counted by the whole fleet in Redis. The hot path does not wait for Redis on
// every request: a replica leases units in chunks (about a second of its traffic) and takes from
// its lease locally. Redis hands out at most what is left, and at most a quarter of a replica's
// share of it, so chunks shrink to single units as the quota runs out and a small quota is
// served exactly. A quota is never exceeded while Redis is reachable: units are leased before
// they are used. Units leased and not used are given back after a second idle, so a replica
// that lost its clients does not sit on the last of a quota.
//
// In Redis: `leased` (units handed to replicas, what the quota is enforced on) and `used` (units
// charged: the agency answered), flushed in the replica's batch every second.
import { quotaKey, quotaLabel, quotaPeriodEnd, quotaPeriodStart, QUOTA_GRACE_S } from '../api/accounting/index.ts';
import type { HashIncrements } from './fleet-store.ts';
import type { FleetStore } from './fleet-store.ts';
import type { QuotaGate } from './limits.ts';

/** After Redis said none is left, ask again no sooner than this (units given back may return). */
const EXHAUSTED_RECHECK_MS = 1000;
/** Leased units untouched this long go back to the fleet. */
export const IDLE_RETURN_MS = 1000;

interface Pending {
  key: string;
  end: number;
  used: number;
  leased: number;
}

export class FleetQuota implements QuotaGate {
  limit: number;
  period: 'Day' | 'Month';
  readonly binding: string;
  #store: FleetStore;
  #onLocal: () => void;
  #label = '';
  #start = 0;
  #end = 0;
  #key = '';
  /** units leased from the fleet, not yet taken */
  #held = 0;
  /** units taken by requests still running: from a lease, or decided alone while Redis was away */
  #outLeased = 0;
  #outLocal = 0;
  /** the same for the period before, settled into that period's counts */
  #before = { label: '', start: 0, outLeased: 0, outLocal: 0 };
  /** requests waiting for the lease in flight: the next lease asks for at least as many */
  #waiting = 0;
  #lastTake = 0;
  /** takes since the last flush, and in the second before: the size of the next lease */
  #takes = 0;
  #recentTakes = 0;
  #exhaustedUntil = 0;
  #leasing: Promise<void> | null = null;
  /** the fleet's leased total at Redis's last answer */
  #fleetLeased = 0;
  /** what this replica may take alone while Redis is away: its share of what was left */
  #localLeft = 0;
  /** counts for the next batch, by period label (a batch may straddle midnight) */
  #pending = new Map<string, Pending>();

  constructor(binding: string, limit: number, period: 'Day' | 'Month', wall: number, store: FleetStore, onLocal: () => void) {
    this.binding = binding;
    this.limit = limit;
    this.period = period;
    this.#store = store;
    this.#onLocal = onLocal;
    this.#roll(wall);
  }

  reconfigure(limit: number, period: 'Day' | 'Month', wall: number): void {
    const lowered = limit < this.limit;
    this.limit = limit;
    if (period !== this.period) {
      this.period = period;
      this.#roll(wall);
    } else if (lowered) {
      this.#giveBack();
      this.#localLeft = Math.min(this.#localLeft, Math.floor(limit / Math.max(1, this.#store.replicas)));
      this.#exhaustedUntil = 0;
    }
  }

  periodLabel(): string {
    return this.#label;
  }

  usedRatio(now: number): number {
    return now >= this.#end || this.limit <= 0 ? 0 : Math.min(1, this.#fleetLeased / this.limit);
  }

  take(wall: number): number | Promise<number> {
    if (wall >= this.#end) this.#roll(wall);
    this.#lastTake = wall;
    if (this.#held > 0) {
      this.#held--;
      this.#outLeased++;
      this.#takes++;
      return 0;
    }
    if (!this.#store.up) return this.#store.settled ? this.#takeAlone(wall) : this.#store.firstAttempt.then(() => this.take(Date.now()));
    if (wall < this.#exhaustedUntil) return this.#renewsIn(wall);
    this.#waiting++;
    return this.#lease().then(() => {
      this.#waiting--;
      return this.take(Date.now());
    });
  }

  settle(answered: boolean, takenAt: number): void {
    if (takenAt < this.#start) return this.#settleBefore(answered, takenAt);
    if (this.#outLocal > 0) {
      this.#outLocal--;
      if (!answered) this.#localLeft++;
      else this.#charge(this.#label, 1);
    } else if (this.#outLeased > 0) {
      this.#outLeased--;
      if (!answered) this.#held++;
      else this.#charge(this.#label, 0);
    }
  }

  /** A unit of the period before: charged there, or (leased and unanswered) given back there, never to this period. */
  #settleBefore(answered: boolean, takenAt: number): void {
    const before = this.#before;
    if (takenAt < before.start) return; // older still: its key has expired
    if (before.outLocal > 0) {
      before.outLocal--;
      if (answered) this.#charge(before.label, 1);
    } else if (before.outLeased > 0) {
      before.outLeased--;
      if (answered) this.#charge(before.label, 0);
      else this.#pendingFor(before.label).leased--;
    }
  }

  /** The batch's increments of this quota; idle leased units go back. */
  collect(wall: number, out: HashIncrements[], returnAll = false): void {
    if (this.#held > 0 && (returnAll || wall - this.#lastTake >= IDLE_RETURN_MS)) this.#giveBack();
    this.#recentTakes = this.#takes;
    this.#takes = 0;
    for (const p of this.#pending.values()) {
      const fields: [string, number][] = [];
      if (p.used !== 0) fields.push(['used', p.used]);
      if (p.leased !== 0) fields.push(['leased', p.leased]);
      if (fields.length > 0) out.push({ key: p.key, ttlSeconds: Math.max(1, Math.ceil((p.end - wall) / 1000) + QUOTA_GRACE_S), fields });
    }
    this.#pending.clear();
  }

  /** One lease in flight at a time; requests arriving meanwhile wait for the same answer. */
  #lease(): Promise<void> {
    if (this.#leasing !== null) return this.#leasing;
    const label = this.#label;
    const want = Math.max(1, this.#recentTakes, this.#takes, this.#waiting);
    const ttl = Math.ceil((this.#end - Date.now()) / 1000) + QUOTA_GRACE_S;
    this.#leasing = this.#store
      .leaseQuota(this.#key, this.limit, want, ttl)
      .then(
        ({ granted, leased }) => {
          if (label !== this.#label) {
            this.#pendingFor(label).leased -= granted; // the period ended while asking: give them back
            return;
          }
          this.#fleetLeased = leased;
          this.#held += granted;
          this.#localLeft = Math.floor(Math.max(0, this.limit - leased) / this.#store.replicas);
          if (granted === 0) this.#exhaustedUntil = Date.now() + EXHAUSTED_RECHECK_MS;
        },
        () => undefined, // the store is marked down; take() decides alone
      )
      .finally(() => {
        this.#leasing = null;
      });
    return this.#leasing;
  }

  #takeAlone(wall: number): number {
    if (this.#localLeft <= 0) return this.#renewsIn(wall);
    this.#localLeft--;
    this.#outLocal++;
    this.#onLocal();
    return 0;
  }

  #renewsIn(wall: number): number {
    return Math.max(1, Math.ceil((this.#end - wall) / 1000));
  }

  /** A unit charged: used, and leased too when it was taken without a lease. */
  #charge(label: string, unleased: number): void {
    const p = this.#pendingFor(label);
    p.used++;
    p.leased += unleased;
  }

  #giveBack(): void {
    this.#pendingFor(this.#label).leased -= this.#held;
    this.#fleetLeased -= this.#held;
    this.#held = 0;
  }

  #pendingFor(label: string): Pending {
    let p = this.#pending.get(label);
    if (p === undefined) {
      const end = label === this.#label ? this.#end : Date.now(); // an ended period's key lives on for the grace only
      this.#pending.set(label, (p = { key: quotaKey(this.#store.bus, label, this.binding), end, used: 0, leased: 0 }));
    }
    return p;
  }

  #roll(wall: number): void {
    if (this.#held > 0) this.#giveBack();
    // Requests still running settle in the period they took their unit in.
    this.#before = { label: this.#label, start: this.#start, outLeased: this.#outLeased, outLocal: this.#outLocal };
    this.#label = quotaLabel(this.period, wall);
    this.#start = quotaPeriodStart(this.period, wall);
    this.#end = quotaPeriodEnd(this.period, wall);
    this.#key = quotaKey(this.#store.bus, this.#label, this.binding);
    this.#outLeased = 0;
    this.#outLocal = 0;
    this.#exhaustedUntil = 0;
    this.#fleetLeased = 0;
    // Nothing known of this period yet: alone, a replica takes its share of the whole quota.
    this.#localLeft = Math.floor(this.limit / Math.max(1, this.#store.replicas));
  }
}

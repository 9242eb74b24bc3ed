// A binding's rate limit shared by the whole fleet: one token bucket in Redis (fleet-store.ts),
// from which each replica takes tokens a few at a time: about 50 ms of the rate, so a request
// asks Redis once per chunk, not each time. Tokens unused for LEASE_MS lapse, so an idle
// replica never saves up a burst the bucket did not grant. While Redis is away, the replica
// limits alone at its share of the rate (the rate divided by the fleet's last known size).
import { rateKey } from '../api/accounting/index.ts';
import type { FleetStore } from './fleet-store.ts';
import { TokenBucket, type RateGate } from './limits.ts';

/** A chunk is this share of a second's rate. */
const CHUNK_SECONDS = 0.05;
/** Tokens held locally lapse after this long. */
const LEASE_MS = 250;

export class FleetRate implements RateGate {
  rate: number;
  burst: number;
  #key: string;
  #store: FleetStore;
  #onLocal: () => void;
  #held = 0;
  #heldUntil = 0;
  /** the bucket was empty: no token before this time (monotonic ms) */
  #emptyUntil = 0;
  #leasing: Promise<void> | null = null;
  /** requests waiting for the lease in flight: the next lease asks for at least as many */
  #waiting = 0;
  #alone: TokenBucket;
  #aloneFor = 1;

  constructor(binding: string, rate: number, burst: number, mono: number, store: FleetStore, onLocal: () => void) {
    this.rate = rate;
    this.burst = burst;
    this.#key = rateKey(store.bus, binding);
    this.#store = store;
    this.#onLocal = onLocal;
    this.#alone = new TokenBucket(rate, burst, mono);
  }

  reconfigure(rate: number, burst: number): void {
    this.rate = rate;
    this.burst = burst;
    this.#held = Math.min(this.#held, burst);
    this.#aloneFor = 0; // resized at the next decision alone
  }

  take(mono: number): number | Promise<number> {
    if (this.#held > 0 && mono < this.#heldUntil) {
      this.#held--;
      return 0;
    }
    if (!this.#store.up) return this.#store.settled ? this.#takeAlone(mono) : this.#store.firstAttempt.then(() => this.take(performance.now()));
    if (mono < this.#emptyUntil) return (this.#emptyUntil - mono) / 1000;
    this.#waiting++;
    return this.#lease().then(() => {
      this.#waiting--;
      return this.take(performance.now());
    });
  }

  #lease(): Promise<void> {
    if (this.#leasing !== null) return this.#leasing;
    // About 50 ms of the rate, at most half the burst, and at least the requests waiting; Redis
    // cuts it to this replica's share of the tokens there (fleet-store.ts).
    const chunk = Math.min(Math.ceil(this.rate * CHUNK_SECONDS - 1e-9), Math.floor(this.burst / 2));
    const want = Math.max(1, chunk, Math.min(this.#waiting, this.burst));
    this.#leasing = this.#store
      .takeRate(this.#key, this.rate, this.burst, want)
      .then(
        ({ granted, waitMs }) => {
          const now = performance.now();
          if (granted > 0) {
            this.#held = (now < this.#heldUntil ? this.#held : 0) + granted;
            this.#heldUntil = now + LEASE_MS;
          } else {
            this.#emptyUntil = now + Math.max(1, waitMs);
          }
        },
        () => undefined, // the store is marked down; take() decides alone
      )
      .finally(() => {
        this.#leasing = null;
      });
    return this.#leasing;
  }

  /** This replica's share of the rate and burst, as long as Redis is away. */
  #takeAlone(mono: number): number {
    const replicas = Math.max(1, this.#store.replicas);
    if (replicas !== this.#aloneFor) {
      this.#aloneFor = replicas;
      this.#alone.reconfigure(this.rate / replicas, Math.max(1, Math.floor(this.burst / replicas)));
    }
    this.#onLocal();
    return this.#alone.take(mono);
  }
}

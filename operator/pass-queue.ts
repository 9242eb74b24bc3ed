// How changes become passes of the operator's loop: gathered for a debounce, never two passes at
// once (a change during a pass asks for one more afterwards), a failed pass retried with an
// exponential backoff that a new change does not wait for. The timers are injected, so the rules
// are tested on a fake clock (test/unit/pass-queue.test.ts).

export type PassResult = 'ok' | 'retry' | 'later';

export interface Timers {
  now(): number;
  set(run: () => void, ms: number): unknown;
  clear(timer: unknown): void;
}

const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  set: (run, ms) => setTimeout(run, ms),
  clear: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export interface PassQueueOptions {
  debounceMs: number;
  /** one pass: ok; retry (something failed: back off); later (not now, e.g. a watch is broken) */
  pass: () => Promise<PassResult>;
  /** passes run only while this holds (the leader, not stopping) */
  enabled: () => boolean;
  retryMinMs?: number;
  retryMaxMs?: number;
  /** how soon a pass that answered `later` is tried again */
  laterMs?: number;
  timers?: Timers;
}

export class PassQueue {
  #o: Required<PassQueueOptions>;
  #timer: unknown = null;
  #timerDue = 0;
  #running = false;
  #again = false;
  /** the soonest a pass asked for during the running one should start after it */
  #againDelayMs = Infinity;
  #retryMs: number;

  constructor(options: PassQueueOptions) {
    this.#o = { retryMinMs: 1000, retryMaxMs: 60_000, laterMs: 500, timers: REAL_TIMERS, ...options };
    this.#retryMs = this.#o.retryMinMs;
  }

  /** A pass is running now. */
  get running(): boolean {
    return this.#running;
  }

  /** A change arrived during the running pass: one more pass follows it. */
  get again(): boolean {
    return this.#again;
  }

  /** Something changed: a pass soon, once, however many changes arrive meanwhile. */
  request(delayMs = this.#o.debounceMs): void {
    if (!this.#o.enabled()) return;
    if (this.#running) {
      this.#again = true;
      this.#againDelayMs = Math.min(this.#againDelayMs, delayMs);
      return;
    }
    // A pending timer may be a retry backing off for a minute: a new change must not wait for it.
    const { timers } = this.#o;
    const due = timers.now() + delayMs;
    if (this.#timer !== null) {
      if (due >= this.#timerDue) return;
      timers.clear(this.#timer);
    }
    this.#timerDue = due;
    this.#timer = timers.set(() => {
      this.#timer = null;
      void this.#run();
    }, delayMs);
  }

  stop(): void {
    if (this.#timer !== null) this.#o.timers.clear(this.#timer);
    this.#timer = null;
  }

  async #run(): Promise<void> {
    this.#running = true;
    this.#again = false;
    this.#againDelayMs = Infinity;
    let result: PassResult;
    try {
      result = await this.#o.pass();
    } catch {
      result = 'retry'; // the pass logs its own failure
    }
    this.#running = false;
    if (result === 'later') return this.request(this.#o.laterMs);
    if (result === 'retry') {
      this.request(this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, this.#o.retryMaxMs);
    } else {
      this.#retryMs = this.#o.retryMinMs;
    }
    // A change that came meanwhile does not wait for the backoff; a pass asked for later (a bus
    // published less than a second ago) waits as long as it asked.
    if (this.#again) this.request(this.#againDelayMs);
  }
}

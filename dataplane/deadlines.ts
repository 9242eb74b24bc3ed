// Deadlines of requests in flight (a body still arriving, an answer still streaming), checked
// by one coarse timer instead of a timer per request: the hot path only adds to and deletes
// from a Set. Precision is TICK_MS, which is plenty for deadlines of seconds.

export interface Expiring {
  /** performance.now() after which `expire` is called */
  deadline: number;
  expire(): void;
}

const TICK_MS = 50;

export class Deadlines {
  #live = new Set<Expiring>();
  #timer: NodeJS.Timeout | null = null;

  add(entry: Expiring): void {
    this.#live.add(entry);
    if (this.#timer === null) {
      this.#timer = setInterval(this.#sweep, TICK_MS);
      this.#timer.unref();
    }
  }

  delete(entry: Expiring): void {
    this.#live.delete(entry);
  }

  #sweep = (): void => {
    const now = performance.now();
    for (const entry of this.#live) {
      if (now < entry.deadline) continue;
      this.#live.delete(entry);
      entry.expire();
    }
    if (this.#live.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  };
}

// How changes become passes, on a fake clock: a burst of changes is one pass after the debounce;
// a change during a pass is one more pass after it; a failed pass backs off 1 s, 2 s, 4 s... but
// a new change does not wait for the backoff; a pass that cannot run now is tried in 500 ms.
import t from 'tap';
import { PassQueue, type PassResult, type Timers } from '../../operator/pass-queue.ts';

/** A fake clock: timers run only when the test advances time. */
class FakeTimers implements Timers {
  at = 0;
  #timers = new Map<number, { due: number; run: () => void }>();
  #next = 1;
  now = (): number => this.at;
  set = (run: () => void, ms: number): number => {
    const id = this.#next++;
    this.#timers.set(id, { due: this.at + ms, run });
    return id;
  };
  clear = (timer: unknown): void => void this.#timers.delete(timer as number);
  /** Moves time forward, running every timer due on the way, and lets the passes they start settle. */
  async advance(ms: number): Promise<void> {
    const until = this.at + ms;
    for (;;) {
      const due = [...this.#timers].filter(([, x]) => x.due <= until).sort(([, a], [, b]) => a.due - b.due)[0];
      if (due === undefined) break;
      this.#timers.delete(due[0]);
      this.at = due[1].due;
      due[1].run();
      await new Promise((r) => setImmediate(r));
    }
    this.at = until;
  }
  pending(): number[] {
    return [...this.#timers.values()].map((x) => x.due - this.at).sort((a, b) => a - b);
  }
}

function setup(results: PassResult[] = []) {
  const timers = new FakeTimers();
  const passes: number[] = [];
  let release: (() => void) | null = null;
  let hold = false;
  const queue = new PassQueue({
    debounceMs: 50,
    enabled: () => true,
    timers,
    pass: async () => {
      passes.push(timers.at);
      if (hold) await new Promise<void>((r) => (release = r));
      return results.shift() ?? 'ok';
    },
  });
  return { timers, passes, queue, hold: (on: boolean) => (hold = on), release: () => (release as (() => void) | null)?.() };
}

t.test('a burst of changes is one pass, after the debounce', async (t2) => {
  const { timers, passes, queue } = setup();
  for (let i = 0; i < 10; i++) queue.request();
  await timers.advance(49);
  t2.same(passes, []);
  await timers.advance(1);
  t2.same(passes, [50]);
  await timers.advance(1000);
  t2.same(passes, [50], 'and no more');
});

t.test('a change during a pass is one more pass after it, never two at once', async (t2) => {
  const { timers, passes, queue, hold, release } = setup();
  hold(true);
  queue.request();
  await timers.advance(50);
  t2.ok(queue.running);
  queue.request();
  queue.request();
  t2.ok(queue.again, 'the change is noted');
  t2.same(timers.pending(), [], 'no timer while a pass runs');
  hold(false);
  release();
  await new Promise((r) => setImmediate(r));
  await timers.advance(50);
  t2.same(passes, [50, 100], 'one more pass, a debounce after the first ended');
});

t.test('a failed pass backs off 1 s, 2 s, 4 s; a success resets it', async (t2) => {
  const { timers, passes, queue } = setup(['retry', 'retry', 'retry', 'ok']);
  queue.request();
  await timers.advance(50);
  await timers.advance(1000);
  await timers.advance(2000);
  await timers.advance(4000);
  t2.same(passes, [50, 1050, 3050, 7050]);
  t2.same(timers.pending(), [], 'done after the success');
});

t.test('a new change does not wait for a long backoff', async (t2) => {
  const { timers, passes, queue } = setup(['retry', 'retry', 'retry', 'retry', 'retry', 'retry']);
  queue.request();
  for (const wait of [50, 1000, 2000, 4000, 8000]) await timers.advance(wait);
  t2.same(timers.pending(), [16_000], 'five failures: backing off 16 s now');
  queue.request();
  t2.same(timers.pending(), [50], 'the change replaces the backoff');
  await timers.advance(50);
  t2.equal(passes.length, 6);
});

t.test('a pass that cannot run now (a broken watch) is tried again in 500 ms, without backing off', async (t2) => {
  const { timers, passes, queue } = setup(['later', 'later', 'ok']);
  queue.request();
  await timers.advance(50);
  await timers.advance(500);
  await timers.advance(500);
  t2.same(passes, [50, 550, 1050]);
});

t.test('nothing runs while disabled (not the leader, or stopping)', async (t2) => {
  const timers = new FakeTimers();
  let ran = 0;
  const queue = new PassQueue({ debounceMs: 50, enabled: () => false, timers, pass: async () => (ran++, 'ok') });
  queue.request();
  await timers.advance(1000);
  t2.equal(ran, 0);
});

t.test('a pass asked for later during a pass starts that much later, unless a change asks sooner', async (t2) => {
  const { timers, passes, queue, hold, release } = setup();
  hold(true);
  queue.request();
  await timers.advance(50);
  queue.request(900); // the pass itself: "publish again in 900 ms"
  hold(false);
  release();
  await new Promise((r) => setImmediate(r));
  t2.same(timers.pending(), [900], 'not a debounce: the 900 ms asked for');
  await timers.advance(900);
  t2.same(passes, [50, 950]);

  hold(true);
  queue.request();
  await timers.advance(50);
  queue.request(900);
  queue.request(); // and a change arrives
  hold(false);
  release();
  await new Promise((r) => setImmediate(r));
  t2.same(timers.pending(), [50], 'the change is compiled after the debounce');
});

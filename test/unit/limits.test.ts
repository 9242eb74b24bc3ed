// The limits' state machines on a fixed clock: every time is given, none is read, so each case
// says exactly when a token returns, a quota renews, or a breaker lets a trial through.
import t from 'tap';
import { CircuitBreaker, ProviderGuard, QuotaCounter, RetryBudget, TokenBucket, TRIAL_MAX_MS } from '../../dataplane/limits.ts';

t.test('token bucket: a full burst, then the rate; the wait says when the next token comes', async (t) => {
  const bucket = new TokenBucket(10, 3, 0);
  t.same([bucket.take(0), bucket.take(0), bucket.take(0)], [0, 0, 0], 'the burst');
  t.equal(bucket.take(0), 0.1, 'empty: the next token in 1/rate s');
  t.equal(bucket.take(50), 0.05, 'half a token later: half the wait');
  t.equal(bucket.take(100), 0, 'a token after 100 ms at 10/s');
  t.equal(bucket.take(10_000), 0, 'a long idle refills ...');
  t.equal(bucket.tokens, 2, '... to the burst, never beyond');
  bucket.reconfigure(10, 1);
  t.equal(bucket.tokens, 1, 'a smaller burst cuts what was saved');
  t.equal(bucket.take(10_000), 0);
  t.ok(bucket.take(10_000) > 0, 'and no more');
  t.equal(bucket.take(9_000), 0.1, 'a clock going back refills nothing');
});

const at = (iso: string): number => Date.parse(iso);

t.test('quota counter: one unit per request, refused until the UTC period renews', async (t) => {
  const q = new QuotaCounter(2, 'Day', at('2026-12-03T23:59:58Z'));
  t.equal(q.periodLabel(), '2026-12-03');
  t.same([q.take(at('2026-12-03T23:59:58Z')), q.take(at('2026-12-03T23:59:58Z'))], [0, 0]);
  t.equal(q.take(at('2026-12-03T23:59:58.500Z')), 2, 'refused: Retry-After rounds the 1.5 s left up');
  t.equal(q.usedRatio(at('2026-12-03T23:59:59Z')), 1);
  t.equal(q.usedRatio(at('2026-12-04T00:00:00Z')), 0, 'a new period has begun');
  t.equal(q.take(at('2026-12-04T00:00:00Z')), 0, 'renewed at midnight UTC');
  t.equal(q.periodLabel(), '2026-12-04');
  t.equal(q.used, 1);
});

t.test('quota counter: a unit the agency never answered is given back; months roll at the UTC month', async (t) => {
  const q = new QuotaCounter(1, 'Month', at('2026-12-31T23:00:00-02:00')); // 2027-01-01T01:00Z
  t.equal(q.periodLabel(), '2027-01', 'UTC, whatever the offset');
  t.equal(q.take(at('2027-01-15T00:00:00Z')), 0);
  q.settle(false, at('2027-01-15T00:00:00Z'));
  t.equal(q.used, 0, 'given back');
  t.equal(q.take(at('2027-01-15T00:00:00Z')), 0);
  q.settle(true, at('2027-01-15T00:00:00Z'));
  t.equal(q.used, 1, 'charged');
  t.equal(q.take(at('2027-01-31T23:59:59Z')), 1);
  q.reconfigure(5, 'Month', at('2027-02-01T00:00:00Z'));
  t.equal(q.used, 1, 'a new limit keeps the count');
  q.reconfigure(5, 'Day', at('2027-02-01T00:00:00Z'));
  t.same([q.used, q.periodLabel()], [0, '2027-02-01'], 'a new period kind starts a new count');
});

t.test('quota counter: a request that straddles midnight gives its unit back to its own day, not the new one', async (t) => {
  const q = new QuotaCounter(1, 'Day', at('2026-12-03T23:59:59Z'));
  t.equal(q.take(at('2026-12-03T23:59:59.900Z')), 0, 'the last unit of the 3rd');
  t.equal(q.take(at('2026-12-04T00:00:00.100Z')), 0, 'the only unit of the 4th');
  q.settle(false, at('2026-12-03T23:59:59.900Z'));
  t.equal(q.used, 1, 'the 4th still counts its unit');
  t.equal(q.take(at('2026-12-04T00:00:01Z')), 86399, 'and refuses a second one');
});

t.test('quota counter: what a restart restored counts only in its own period', async (t) => {
  t.equal(new QuotaCounter(10, 'Day', at('2026-12-03T10:00:00Z'), { period: '2026-12-03', used: 7 }).used, 7);
  t.equal(new QuotaCounter(10, 'Day', at('2026-12-04T10:00:00Z'), { period: '2026-12-03', used: 7 }).used, 0, 'yesterday is not today');
});

t.test('circuit breaker: opens after the threshold, one trial after openMs, the trial decides', async (t) => {
  const b = new CircuitBreaker(2, 1000);
  b.failure(0);
  t.equal(b.state, 'closed');
  b.failure(10);
  t.equal(b.state, 'open');
  t.equal(b.allow(500), 1, 'open: wait (rounded up to a second)');
  t.equal(b.allow(1010), 0, 'after openMs: the trial');
  t.equal(b.state, 'half-open');
  t.equal(b.allow(1010), 1, 'one trial at a time');
  b.failure(1020);
  t.equal(b.state, 'open', 'a failed trial opens again');
  t.equal(b.allow(2020), 0);
  b.success();
  t.equal(b.state, 'closed', 'a successful trial closes');
  t.equal(b.allow(2020), 0);
});

t.test('circuit breaker: an abandoned trial frees the next; a lost one is given up after TRIAL_MAX_MS', async (t) => {
  const b = new CircuitBreaker(1, 100);
  b.failure(0);
  t.equal(b.allow(100), 0);
  const first = b.trial;
  b.abandon(first);
  t.equal(b.allow(100), 0, 'the next call is the new trial');
  const second = b.trial;
  b.abandon(first);
  t.equal(b.allow(100), 1, 'a late abandon of the old trial does not end the new one');
  t.equal(b.allow(100 + TRIAL_MAX_MS), 0, 'a trial that never ended is given up');
  t.ok(b.trial > second);
});

t.test('provider guard: calls in flight and per second', async (t) => {
  const g = new ProviderGuard(1, 2, 0);
  t.equal(g.admit(0), 'ok');
  t.equal(g.admit(0), 'concurrency');
  g.release();
  t.equal(g.admit(0), 'ok');
  g.release();
  t.equal(g.admit(0), 'rate', 'two a second');
  t.equal(g.admit(500), 'ok', 'one more half a second later');
});

t.test('retry budget: a fifth of a retry per call, at most 10 saved', async (t) => {
  const budget = new RetryBudget();
  let spent = 0;
  while (budget.spend()) spent++;
  t.equal(spent, 10, 'starts with 10');
  for (let i = 0; i < 4; i++) budget.earn();
  t.notOk(budget.spend(), 'four calls do not earn a retry');
  budget.earn();
  t.ok(budget.spend(), 'five do');
  for (let i = 0; i < 1000; i++) budget.earn();
  spent = 0;
  while (budget.spend()) spent++;
  t.equal(spent, 10, 'never more than 10 saved');
});

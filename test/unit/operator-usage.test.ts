// The pure parts of status.usage: when a write crosses 80% or 100% of a quota (the Events), and
// how the reconcile keeps the usage loop's counts when it writes a status compiled from an older
// copy. The loop itself runs against real Redis and a real API server in
// test/integration/usage.test.ts.
import t from 'tap';
import { keepCountedUsage, periodRenews, quotaCrossings, quotaLevel, type StoredUsage } from '../../operator/usage.ts';
import type { Stored } from '../../operator/status.ts';
import type { ObjectStatus } from '../../compiler/types.ts';

const u = (requests: number, limit = 10, period = '2026-11-23', updated?: string): StoredUsage => ({ period, requests, limit, quota: `${requests}/${limit}`, ...(updated === undefined ? {} : { updated }) });
const reasons = (before: StoredUsage | undefined, after: StoredUsage | undefined): string[] => quotaCrossings('clients/trial', before, after).map((e) => e.reason);

t.test('quotaLevel: below 80%, from 80%, from 100%; an older status without limit reads it from quota', async (t2) => {
  t2.same([0, 7, 8, 9, 10, 11].map((n) => quotaLevel(u(n))), [0, 0, 1, 1, 2, 2]);
  t2.equal(quotaLevel({ period: '2026-11', requests: 800_000, quota: '800000/1000000' }), 1);
  t2.equal(quotaLevel(undefined), 0);
  t2.equal(quotaLevel(u(4, 5)), 1, '4 of 5 is 80% exactly');
  t2.equal(quotaLevel(u(799_999, 1_000_000)), 0);
});

t.test('quotaCrossings: each threshold once per period, compared with what was stored', async (t2) => {
  t2.same(reasons(u(7), u(8)), ['QuotaNearlyUsed'], '7 -> 8 of 10 crosses 80%');
  t2.same(reasons(u(8), u(9)), [], 'already past 80%: nothing again (a restarted operator neither)');
  t2.same(reasons(u(9), u(10)), ['QuotaExhausted']);
  t2.same(reasons(u(10), u(12)), [], 'already exhausted');
  t2.same(reasons(u(3), u(10)), ['QuotaNearlyUsed', 'QuotaExhausted'], 'a jump past both gives both, in order');
  t2.same(reasons(undefined, u(9)), ['QuotaNearlyUsed'], 'no usage before');
  t2.same(reasons(u(10, 10, '2026-11-22'), u(8)), ['QuotaNearlyUsed'], 'a new period starts below both');
  t2.same(reasons(u(10, 10, '2026-11-22'), u(0)), [], "the compiler's reset at a new period says nothing");
  t2.same(reasons(u(7, 10), u(7, 8)), ['QuotaNearlyUsed'], 'the limit lowered under the usage crosses too');
  t2.same(reasons(u(7), u(7)), []);
  t2.same(reasons(u(9), undefined), [], 'quota removed');
});

t.test('the Events name the binding, the period, used/limit and what happens next', async (t2) => {
  const [nearly, exhausted] = quotaCrossings('clients/trial', u(3), u(10, 10));
  t2.same(nearly?.type, 'Warning');
  t2.equal(
    nearly?.message,
    'ClientBinding clients/trial has used 10/10 requests (100%) of its quota for 2026-11-23; once all are used, its calls are refused with 429 quota_exhausted until the period renews at 2026-11-24 00:00 UTC.',
  );
  t2.equal(exhausted?.type, 'Warning');
  t2.equal(exhausted?.message, 'ClientBinding clients/trial has used 10/10 requests of its quota for 2026-11-23: its calls are refused with 429 quota_exhausted until the period renews at 2026-11-24 00:00 UTC.');
  const [month] = quotaCrossings('snapp/onboarding', u(0, 1_000_000, '2026-12'), u(850_000, 1_000_000, '2026-12'));
  t2.match(month?.message, /850000\/1000000 requests \(85%\) of its quota for 2026-12;.*renews at 2027-01-01 00:00 UTC\.$/);
});

t.test('periodRenews: the next UTC day or month', async (t2) => {
  t2.equal(periodRenews('2026-11-30'), '2026-12-01 00:00 UTC');
  t2.equal(periodRenews('2026-12-31'), '2027-01-01 00:00 UTC');
  t2.equal(periodRenews('2026-02'), '2026-03-01 00:00 UTC');
  t2.equal(periodRenews('garbage'), 'the next period');
});

const stored = (usage?: StoredUsage): Stored => ({ metadata: { name: 'trial', namespace: 'clients', uid: 'u', resourceVersion: '1' }, status: { conditions: [], ...(usage === undefined ? {} : { usage }) } });
const compiled = (usage?: StoredUsage): ObjectStatus => ({ observedGeneration: 2, conditions: [], routes: '1/1', ...(usage === undefined ? {} : { usage }) });

t.test("keepCountedUsage: the reconcile never puts back an older count", async (t2) => {
  // The compile read requests 5; the usage loop wrote 7 since: the write keeps 7 and its time.
  const kept = keepCountedUsage(stored(u(7, 10, '2026-11-23', '2026-11-23T10:00:15Z')), compiled(u(5, 10, '2026-11-23', '2026-11-23T10:00:00Z')));
  t2.same(kept, compiled(u(7, 10, '2026-11-23', '2026-11-23T10:00:15Z')), 'everything else is the compile\'s');
  // The limit is the compiler's: spec.quota changed meanwhile.
  t2.same(keepCountedUsage(stored(u(7, 10)), compiled(u(5, 20)))['usage'], u(7, 20));
  // A count that went down in Redis (written by the loop) is kept too: the counts are the loop's.
  t2.same(keepCountedUsage(stored(u(2)), compiled(u(5)))['usage'], u(2));
});

t.test('keepCountedUsage: the compiler owns the usage line and the period', async (t2) => {
  t2.same(keepCountedUsage(stored(u(9, 10, '2026-11-22')), compiled(u(0, 10, '2026-11-23', '2026-11-23T00:00:01Z')))['usage'], u(0, 10, '2026-11-23', '2026-11-23T00:00:01Z'), 'a new period starts at 0');
  t2.same(keepCountedUsage(stored(u(3, 10, '2026-11-24')), compiled(u(9, 10, '2026-11-23')))['usage'], u(3, 10, '2026-11-24'), 'the loop already wrote the next period: not put back');
  t2.same(keepCountedUsage(stored(u(3, 10, '2026-11-23')), compiled(u(0, 10, '2026-11')))['usage'], u(0, 10, '2026-11'), 'Day became Month: the compiler\'s new line');
  t2.same(keepCountedUsage(stored(u(3)), compiled()), compiled(), 'quota removed: no usage line');
  t2.same(keepCountedUsage(stored(), compiled(u(0))), compiled(u(0)), 'the first usage line');
  // An older operator's status (no limit, no updated): the compiler's limit, no time invented.
  t2.same(keepCountedUsage(stored({ period: '2026-11-23', requests: 4, quota: '4/10' }), compiled(u(4)))['usage'], { period: '2026-11-23', requests: 4, limit: 10, quota: '4/10' });
});

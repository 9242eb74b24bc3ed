// When the operator must look at a binding's validity or a route's sunset again, on a fixed
// clock: when a window opens, just after it closes, and when it enters the week of notice; which
// bindings and routes are in it.
import t from 'tap';
import { EXPIRY_NOTICE_MS, timeLeft, validityPlan } from '../../operator/validity.ts';

const NOW = Date.parse('2026-11-23T10:00:00Z');
const b = (name: string, notBefore?: string, notAfter?: string) => ({ kind: 'ClientBinding' as const, namespace: 'c', name, uid: `uid-${name}`, notBefore, notAfter });
const r = (name: string, sunset: string) => ({ kind: 'InquiryRoute' as const, namespace: 'gov', name, uid: `uid-${name}`, notAfter: sunset });

t.test('the next moment is the nearest boundary ahead: a window opening, closing, or entering its notice', async (t2) => {
  t2.equal(validityPlan([b('opens', '2026-11-23T12:00:00Z')], NOW).nextAt, Date.parse('2026-11-23T12:00:00Z'));
  t2.equal(validityPlan([b('closes', undefined, '2026-11-24T00:00:00Z')], NOW).nextAt, Date.parse('2026-11-24T00:00:00Z') + 1, 'just after notAfter, when the compiler calls it expired');
  t2.equal(validityPlan([b('notice', undefined, '2026-11-30T12:00:00Z')], NOW).nextAt, Date.parse('2026-11-30T12:00:00Z') - EXPIRY_NOTICE_MS, 'when the notice starts');
  t2.equal(validityPlan([b('past', '2026-01-01T00:00:00Z', '2026-11-01T00:00:00Z'), b('none')], NOW).nextAt, null, 'nothing ahead');
  t2.equal(validityPlan([b('far', undefined, '2027-06-01T00:00:00Z')], NOW).nextAt, NOW + 24 * 3600 * 1000, 'a far boundary waits a day at most (the next reconcile re-arms it)');
});

t.test('expiring soon: notAfter ahead and within the week', async (t2) => {
  const plan = validityPlan([b('in-3-days', undefined, '2026-11-26T10:00:00Z'), b('in-8-days', undefined, '2026-12-01T10:00:00Z'), b('expired', undefined, '2026-11-22T10:00:00Z')], NOW);
  t2.same(plan.expiringSoon.map((x) => x.name), ['in-3-days']);
});

t.test('a route\'s sunset is watched like a binding\'s end: just after it, and in the week before', async (t2) => {
  t2.equal(validityPlan([r('retiring', '2026-11-24T00:00:00Z')], NOW).nextAt, Date.parse('2026-11-24T00:00:00Z') + 1);
  t2.same(validityPlan([r('soon', '2026-11-25T00:00:00Z'), r('later', '2026-12-25T00:00:00Z')], NOW).expiringSoon.map((x) => [x.kind, x.name]), [['InquiryRoute', 'soon']]);
});

t.test('time left reads like a person would say it', async (t2) => {
  t2.equal(timeLeft(30_000), 'in 1 minute');
  t2.equal(timeLeft(12 * 60_000), 'in 12 minutes');
  t2.equal(timeLeft(5 * 3600_000), 'in 5 hours');
  t2.equal(timeLeft(3 * 86_400_000), 'in 3 days');
});

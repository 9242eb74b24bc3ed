// The pure parts of the status writer: when two statuses are the same, and which conditions
// flipped (those get an Event). Writing itself is tested against a real apiserver in
// test/integration/status.test.ts.
import t from 'tap';
import type { Condition } from '../../api/v1alpha1/index.ts';
import { flippedConditions } from '../../operator/events.ts';
import { sameJson } from '../../operator/status.ts';

const cond = (type: string, status: 'True' | 'False', reason = type): Condition => ({ type, status, observedGeneration: 1, lastTransitionTime: '2026-11-23T10:00:00Z', reason, message: `${type} ${status}` });

t.test('sameJson ignores key order and undefined fields, nothing else', async (t2) => {
  t2.ok(sameJson({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1, d: undefined }));
  t2.notOk(sameJson({ a: [1, 2] }, { a: [2, 1] }));
  t2.notOk(sameJson({ a: 1 }, { a: '1' }));
  t2.notOk(sameJson(undefined, { conditions: [] }));
});

t.test('flippedConditions: new conditions and changed statuses only', async (t2) => {
  const before = [cond('Accepted', 'True'), cond('Ready', 'True')];
  const after = [cond('Accepted', 'True', 'Other'), cond('Ready', 'False'), cond('Programmed', 'False')];
  t2.same(flippedConditions(before, after).map((c) => c.type), ['Ready', 'Programmed']);
});

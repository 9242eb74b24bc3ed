// The compiler's small shared helpers: label selectors, durations, and the age order that
// settles path and key conflicts.
import t from 'tap';
import { byAge, durationMs, listForPeople, selectorMatches, type Meta } from '../../compiler/util.ts';

t.test('selectorMatches follows Kubernetes label selector semantics', async (t) => {
  const labels = { tier: 'government', party: 'agency' };
  t.ok(selectorMatches({}, labels), 'an empty selector matches everything');
  t.ok(selectorMatches({}, undefined), 'even an object with no labels');
  t.ok(selectorMatches({ matchLabels: { tier: 'government' } }, labels), 'matchLabels: equal value');
  t.notOk(selectorMatches({ matchLabels: { tier: 'business' } }, labels), 'matchLabels: other value');
  t.notOk(selectorMatches({ matchLabels: { region: 'north' } }, labels), 'matchLabels: missing label');
  t.notOk(selectorMatches({ matchLabels: { tier: 'government', party: 'client' } }, labels), 'matchLabels: every pair must hold');

  const expr = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', key: string, values?: string[]) => ({
    matchExpressions: [{ key, operator, ...(values === undefined ? {} : { values }) }],
  });
  t.ok(selectorMatches(expr('In', 'tier', ['business', 'government']), labels), 'In: value listed');
  t.notOk(selectorMatches(expr('In', 'tier', ['business']), labels), 'In: value not listed');
  t.notOk(selectorMatches(expr('In', 'region', ['north']), labels), 'In: label missing');
  t.ok(selectorMatches(expr('NotIn', 'tier', ['business']), labels), 'NotIn: value not listed');
  t.notOk(selectorMatches(expr('NotIn', 'tier', ['government']), labels), 'NotIn: value listed');
  t.ok(selectorMatches(expr('NotIn', 'region', ['north']), labels), 'NotIn: label missing matches');
  t.ok(selectorMatches(expr('Exists', 'party'), labels), 'Exists: present');
  t.notOk(selectorMatches(expr('Exists', 'region'), labels), 'Exists: absent');
  t.ok(selectorMatches(expr('DoesNotExist', 'region'), labels), 'DoesNotExist: absent');
  t.notOk(selectorMatches(expr('DoesNotExist', 'party'), labels), 'DoesNotExist: present');
  t.notOk(
    selectorMatches({ matchLabels: { tier: 'government' }, matchExpressions: [{ key: 'party', operator: 'In', values: ['client'] }] }, labels),
    'matchLabels and matchExpressions must both hold',
  );
});

t.test('durationMs parses the Duration pattern', async (t) => {
  t.equal(durationMs('250ms', 1), 250);
  t.equal(durationMs('5s', 1), 5000);
  t.equal(durationMs('2m', 1), 120_000);
  t.equal(durationMs('1h', 1), 3_600_000);
  t.equal(durationMs(undefined, 10_000), 10_000, 'absent: the fallback');
  t.equal(durationMs('5 s', 42), 42, 'not the pattern: the fallback');
  t.equal(durationMs('1.5s', 42), 42, 'no fractions');
  t.equal(durationMs('0s', 42), 1, 'zero becomes the smallest timeout, never 0');
  t.equal(durationMs('999999999999999h', 42), 2_147_483_647, 'longer than a Node timer can hold: capped, never a timer that fires at once');
});

t.test('byAge: oldest first, then namespace/name; no timestamp is newest', async (t) => {
  const obj = (namespace: string, name: string, creationTimestamp?: string): { metadata: Meta } => ({
    metadata: { namespace, name, ...(creationTimestamp === undefined ? {} : { creationTimestamp }) },
  });
  const older = obj('zulu', 'z', '2026-01-01T00:00:00Z');
  const newer = obj('alpha', 'a', '2026-06-01T00:00:00Z');
  t.ok(byAge(older, newer) < 0, 'the older first, whatever its name');
  t.ok(byAge(newer, older) > 0, 'and the other way round');
  t.ok(byAge(obj('b', 'x', '2026-01-01T00:00:00Z'), obj('a', 'y', '2026-01-01T00:00:00Z')) > 0, 'a tie goes to the smaller namespace');
  t.ok(byAge(obj('a', 'x', '2026-01-01T00:00:00Z'), obj('a', 'y', '2026-01-01T00:00:00Z')) < 0, 'then to the smaller name');
  t.ok(byAge(obj('a', 'x', '2026-01-01T03:30:00+03:30'), obj('a', 'y', '2026-01-01T00:00:00Z')) < 0, 'instants compare as times, not strings');
  t.ok(byAge(obj('a', 'a'), obj('z', 'z', '2026-01-01T00:00:00Z')) > 0, 'no timestamp (not yet created) is newest');
  t.ok(byAge(obj('a', 'a'), obj('b', 'b')) < 0, 'two without timestamps: by namespace/name');
  t.equal(byAge(obj('a', 'a', '2026-01-01T00:00:00Z'), obj('a', 'a', '2026-01-01T00:00:00Z')), 0, 'an object ties with itself');
  t.equal(byAge({ metadata: { name: 'x' } }, { metadata: { name: 'x', namespace: 'default' } }), 0, 'no namespace is the default namespace');

  const shuffled = [newer, obj('a', 'b'), older, obj('a', 'a')];
  t.same(
    shuffled.sort(byAge).map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
    ['zulu/z', 'alpha/a', 'a/a', 'a/b'],
    'sorting is total: the order never depends on the input order',
  );
});

t.test('listForPeople keeps long lists readable', async (t) => {
  t.equal(listForPeople(['a', 'b']), 'a, b');
  t.equal(listForPeople(['a', 'b', 'c', 'd'], 2), 'a, b and 2 more');
  t.equal(listForPeople([]), '');
});

// privacy.neverLog names path parameters and request body fields; privacy.sensitive stands for
// every path parameter. What the compiler puts in the snapshot, and the warning an entry that
// names nothing earns: in the Accepted condition (the route stays Accepted) and in
// `gozargah validate`.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { compile } from '../../compiler/index.ts';
import { neverLogOf } from '../../compiler/never-log.ts';
import { NODE, ROOT } from '../helpers/dataplane.ts';
import { manifestDir, provider, route } from '../helpers/manifests.ts';

const SCHEMA = {
  type: 'object',
  properties: {
    nationalId: { type: 'string' },
    person: { type: 'object', properties: { birthDate: { type: 'string' } } },
    items: { type: 'array', items: { type: 'object', properties: { phone: { type: 'string' } } } },
    extra: { type: 'object', additionalProperties: { type: 'object', properties: { id: { type: 'string' } } } },
    either: { anyOf: [{ type: 'object', properties: { a: { type: 'string' } } }, { type: 'object', properties: { b: { type: 'string' } } }] },
    referenced: { $ref: '#/$defs/x' },
  },
  allOf: [{ properties: { fromAllOf: { type: 'string' } } }],
};

const spec = (privacy: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({ providerRef: { name: 'p' }, path: '/r/v1/persons/{nationalId}/cards/{card}', methods: ['POST'], buses: ['default'], privacy, ...extra }) as Parameters<typeof neverLogOf>[0];

t.test('entries that name a path parameter or a declared body field earn no warning', async (t2) => {
  const named = ['nationalId', 'card', 'person.birthDate', 'items.*.phone', 'items.0.phone', 'items.phone', 'person.*', 'extra.anyKey.id', 'either.a', 'either.b', 'referenced.whatever', 'fromAllOf', 'person'];
  t2.same(neverLogOf(spec({ neverLog: named }, { requestSchema: SCHEMA })), { neverLog: named, warnings: [] });
});

t.test('an entry that names nothing is reported, one sentence each', async (t2) => {
  const got = neverLogOf(spec({ neverLog: ['person.birthdate', 'items.mobile', 'nationalID', 'either.c'] }, { requestSchema: SCHEMA }));
  t2.equal(got.warnings.length, 4, 'case matters, array elements are searched, every branch is searched');
  t2.match(got.warnings[0], /^privacy\.neverLog entry person\.birthdate names nothing \(the path's parameters are nationalId, card; the requestSchema declares no such property\)/);
  const noSchema = neverLogOf(spec({ neverLog: ['person.birthDate'] }));
  t2.match(noSchema.warnings[0], /the route has no requestSchema/);
});

t.test('sensitive adds every path parameter to what the snapshot carries', async (t2) => {
  t2.same(neverLogOf(spec({ sensitive: true })).neverLog, ['nationalId', 'card']);
  t2.same(neverLogOf(spec({ sensitive: true, neverLog: ['card', 'person.birthDate'] }, { requestSchema: SCHEMA })).neverLog, ['card', 'person.birthDate', 'nationalId']);
  t2.same(neverLogOf(spec({ sensitive: false })).neverLog, []);
});

const objects = [
  provider('agency', 'http://127.0.0.1:1'),
  route('typo', 'agency', '/r/v1/persons/{nationalId}', { privacy: { neverLog: ['nationalID'] } }),
  route('secret', 'agency', '/r/v1/secret/{nationalId}/{card}', { privacy: { sensitive: true } }),
];

t.test('the warning is in the Accepted condition; the route stays Accepted and served', async (t2) => {
  const out = compile({ objects, now: '2026-11-23T10:00:00Z' });
  const accepted = out.statuses.find((s) => s.metadata.name === 'typo')?.status.conditions.find((c) => c.type === 'Accepted');
  t2.equal(accepted?.status, 'True');
  t2.equal(accepted?.reason, 'Accepted');
  t2.match(accepted?.message, /^The route is valid and its path is its own\. Warning: privacy\.neverLog entry nationalID names nothing/);
  const routes = out.snapshots['default']?.routes ?? [];
  t2.same(routes.find((r) => r.id === 'gov/typo')?.neverLog, ['nationalID'], 'still served, entry as written');
  t2.same(routes.find((r) => r.id === 'gov/secret')?.neverLog, ['nationalId', 'card'], 'sensitive: every path parameter');
  const clean = out.statuses.find((s) => s.metadata.name === 'secret')?.status.conditions.find((c) => c.type === 'Accepted');
  t2.equal(clean?.message, 'The route is valid and its path is its own.', 'no warning, no change');
});

t.test('gozargah validate prints the warning and still exits 0', async (t2) => {
  const run = spawnSync(NODE, [join(ROOT, 'cli/main.ts'), 'validate', '-f', manifestDir(objects)], { encoding: 'utf8' });
  t2.equal(run.status, 0, run.stderr);
  t2.match(run.stdout, /warning: InquiryRoute gov\/typo: privacy\.neverLog entry nationalID names nothing/);
  t2.notMatch(run.stdout, /warning: InquiryRoute gov\/secret/);
  t2.match(run.stdout, /All 3 objects accepted\./);
});

t.test('the examples earn no warning', async (t2) => {
  const run = spawnSync(NODE, [join(ROOT, 'cli/main.ts'), 'validate', '-f', join(ROOT, 'examples')], { encoding: 'utf8' });
  t2.equal(run.status, 0, run.stderr);
  t2.notMatch(run.stdout, /warning:/);
});

// The README's table of condition reasons and the reasons the operator can write are the same
// list (api/v1alpha1/reasons.ts): a reason a person meets in `kubectl describe` is always
// explained, and the table never explains one that cannot happen.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAILURE_REASONS } from '../../api/v1alpha1/index.ts';
import { ROOT } from '../helpers/dataplane.ts';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const start = readme.indexOf('| reason | condition | when |');
const table = readme.slice(start, readme.indexOf('\n\n', start)).split('\n').slice(2);
const inTable = new Set(table.flatMap((row) => [...(row.split('|')[1] ?? '').matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1] as string)));
const declared = Object.entries(FAILURE_REASONS);

t.test('the table exists and has rows', async (t2) => {
  t2.ok(start >= 0, 'README has the reasons table');
  t2.ok(table.length >= 10, `${table.length} rows`);
});

t.test('every reason in the table is declared', async (t2) => {
  for (const name of inTable) t2.ok(name in FAILURE_REASONS, `${name} is declared in api/v1alpha1/reasons.ts`);
});

t.test('every condition reason is in the table; every Event reason is named in the README', async (t2) => {
  for (const [name, info] of declared) {
    if (info.where === 'Event') t2.match(readme, new RegExp(`\`${name}\``), `Event ${name} is named in the README`);
    else t2.ok(inTable.has(name), `${name} (${info.where}) has a row in the README's table`);
  }
});

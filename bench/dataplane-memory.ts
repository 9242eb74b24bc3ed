// make bench-memory: resident memory of a dataplane serving the 10,000-route / 5,000-binding
// snapshot, against one serving 10 routes / 10 bindings. Not part of make test.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile } from '../compiler/index.ts';
import { scaleObjects } from '../test/helpers/scale.ts';
import { loadedDataplaneMB } from './processes.ts';


async function residentMB(routes: number, bindings: number): Promise<number> {
  const file = join(mkdtempSync(join(tmpdir(), 'gozargah-mem-')), 'snapshot.json');
  // The bare snapshot of the bus, as the cluster source delivers it (no statuses).
  writeFileSync(file, JSON.stringify(compile({ objects: scaleObjects(routes, bindings), now: new Date().toISOString() }).snapshots['default']));
  return loadedDataplaneMB(file, 1000);
}

const small = await residentMB(10, 10);
const big = await residentMB(10_000, 5_000);
process.stdout.write(`dataplane resident memory: ${small} MB with 10 routes / 10 bindings, ${big} MB with 10,000 routes / 5,000 bindings\n`);

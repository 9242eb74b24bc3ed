// The --manifests source on real files, in process: a file cut at a `---` while being written
// (valid YAML with fewer objects) is never compiled into a candidate, because a candidate is
// built only once two reads agree; and a directory it cannot read whole is a failure naming the
// file, never a throw. The settle window is widened here (400 ms) so that the writer's pause
// falls inside it whatever the machine's load: the property tested does not depend on timing.
import t from 'tap';
import { appendFileSync, mkdtempSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ManifestsSource } from '../../dataplane/config/manifests.ts';
import type { Candidate } from '../../dataplane/config/source.ts';
import type { Snapshot } from '../../api/snapshot/index.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';
import { waitFor } from '../helpers/dataplane.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function source(dir: string): { delivered: Snapshot[]; failed: string[]; stop: () => void } {
  const delivered: Snapshot[] = [];
  const failed: string[] = [];
  const s = new ManifestsSource(dir, 'default', () => {}, { debounceMs: 100, settleMs: 400 });
  s.start(
    (c: Candidate) => delivered.push(c.snapshot as Snapshot),
    (_origin, message) => failed.push(message),
  );
  return { delivered, failed, stop: () => s.stop() };
}

t.test('a file cut at a --- while being written is never served', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-settle-'));
  const base = [provider('agency', 'http://127.0.0.1:9'), route('echo', 'agency', '/settle/v1/echo')];
  const clients = [keySecret('keep-keys', { k: 'settle-key-0123456789abcdef' }), binding('keep', 'keep', [{ namespace: 'gov', name: 'echo' }])];
  writeFileSync(join(dir, 'bus.yaml'), [...base, ...clients].map((o) => stringify(o)).join('---\n'));
  const src = source(dir);
  t.teardown(src.stop);
  await waitFor(() => src.delivered.length === 1, 5000, () => 'the first snapshot never came');
  t.equal(src.delivered[0]?.bindings.length, 1, 'the binding is served');

  // Rewritten in place, in two pieces: the first ends exactly at a document boundary, so on its
  // own it is valid YAML that lacks the binding. The pause outlasts the debounce, so the source
  // reads the half file; the second piece lands within the settle window.
  const half = `${base.map((o) => stringify(o)).join('---\n')}---\n`;
  const rest = clients.map((o) => stringify(o)).join('---\n');
  writeFileSync(join(dir, 'bus.yaml'), half);
  await sleep(250);
  appendFileSync(join(dir, 'bus.yaml'), rest);
  await sleep(1500);
  t.ok(src.delivered.length >= 1, `snapshots delivered: ${src.delivered.length}`);
  t.same(src.delivered.map((s) => s.bindings.length), src.delivered.map(() => 1), 'no snapshot without the binding was ever delivered');
  t.same(src.failed, [], 'nothing failed');
});

t.test('a file that cannot be read is a failure naming it, and the source keeps watching', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-unreadable-'));
  writeFileSync(join(dir, 'bus.yaml'), [provider('agency', 'http://127.0.0.1:9'), route('echo', 'agency', '/settle/v1/echo')].map((o) => stringify(o)).join('---\n'));
  const src = source(dir);
  t.teardown(src.stop);
  await waitFor(() => src.delivered.length === 1, 5000, () => 'the first snapshot never came');
  symlinkSync(join(dir, 'loop-b.yaml'), join(dir, 'loop-a.yaml'));
  symlinkSync(join(dir, 'loop-a.yaml'), join(dir, 'loop-b.yaml'));
  await waitFor(() => src.failed.some((m) => m.includes('loop-a.yaml')), 5000, () => `no failure named the loop: ${JSON.stringify(src.failed)}`);
  t.match(src.failed.at(-1), /ELOOP/, 'the failure says what is wrong');
  t.equal(src.delivered.length, 1, 'nothing was delivered while the loop was there');
  unlinkSync(join(dir, 'loop-a.yaml'));
  unlinkSync(join(dir, 'loop-b.yaml'));
  appendFileSync(join(dir, 'bus.yaml'), `---\n${stringify(route('more', 'agency', '/settle/v1/more'))}`);
  await waitFor(() => src.delivered.length === 2, 5000, () => 'the repaired directory was never delivered');
  t.equal(src.delivered[1]?.routes.length, 2, 'the repaired directory serves both routes');
});

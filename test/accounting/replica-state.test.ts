// Without Redis: one replica counts alone, says so at start, and with --state-dir its quotas
// survive a restart (a restart must not hand every client a fresh quota).
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane } from '../helpers/dataplane.ts';
import { ask, fleetManifests, keyOf } from '../helpers/fleet.ts';

const agency = await startAgency();
t.teardown(() => agency.close());
const dir = fleetManifests(agency.url, { capped: { quota: { requests: 3, period: 'Day' } } });

async function serve(dp: Awaited<ReturnType<typeof startDataplane>>, n: number): Promise<number[]> {
  const pool = new Pool(dp.url);
  const statuses = [];
  for (let i = 0; i < n; i++) statuses.push((await ask(pool, keyOf('capped'), 0)).status);
  await pool.close();
  return statuses;
}

t.test('with --state-dir, a restarted replica keeps the quota used', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'gozargah-state-'));
  const first = await startDataplane(['--manifests', dir, '--state-dir', state]);
  t.match(first.logs(), /limits are per replica/, 'it says at start that limits are per replica');
  t.same(await serve(first, 2), [200, 200]);
  t.equal(await first.stop(), 0);
  t.match(JSON.parse(readFileSync(join(state, 'quotas.json'), 'utf8')), { 'clients/capped': { used: 2 } }, 'the count is saved at shutdown');
  const second = await startDataplane(['--manifests', dir, '--state-dir', state]);
  t.teardown(() => second.stop());
  const after = await serve(second, 3);
  t.same(after, [200, 429, 429], 'one request left of 3, not a fresh quota');
});

t.test('a crash keeps what was saved in the last second', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'gozargah-state-'));
  const dp = await startDataplane(['--manifests', dir, '--state-dir', state]);
  t.same(await serve(dp, 2), [200, 200]);
  await new Promise((r) => setTimeout(r, 1500));
  await dp.stop('SIGKILL');
  const again = await startDataplane(['--manifests', dir, '--state-dir', state]);
  t.teardown(() => again.stop());
  t.same(await serve(again, 2), [200, 429]);
});

t.test('an unreadable state file is reported and the replica starts counting from zero', async (t) => {
  const state = mkdtempSync(join(tmpdir(), 'gozargah-state-'));
  writeFileSync(join(state, 'quotas.json'), '{not json');
  const dp = await startDataplane(['--manifests', dir, '--state-dir', state]);
  t.teardown(() => dp.stop());
  t.match(dp.logs(), /saved quotas are not JSON; counting from zero/);
  t.same(await serve(dp, 1), [200]);
});

t.test('without --state-dir, the start says quotas reset on restart', async (t) => {
  const dp = await startDataplane(['--manifests', dir]);
  t.teardown(() => dp.stop());
  t.match(dp.logs(), /"quotasSurviveRestart":false/);
});

// The ways a dataplane reaches Redis: a password from the environment or a file (never shown in
// /config or a log), a unix socket, and a Redis that refuses the password (the replica serves on
// its own limits and says why).
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, waitFor, type RunningDataplane } from '../helpers/dataplane.ts';
import { ask, fleetManifests, keyOf } from '../helpers/fleet.ts';
import { startRedis } from '../helpers/redis.ts';

const PASSWORD = 'demo-only-redis-pw-7Hq2Lm';
const redis = await startRedis({ password: PASSWORD, unixSocket: true });
t.teardown(() => redis.close());
const agency = await startAgency();
t.teardown(() => agency.close());
const dir = fleetManifests(agency.url, { c: { quota: { requests: 5, period: 'Day' } } });

async function accounting(dp: RunningDataplane): Promise<{ redis: { state: string; url: string; lastError: string | null }; pendingRecords: number }> {
  return ((await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { accounting: never }).accounting;
}

async function served(dp: RunningDataplane, n: number): Promise<void> {
  const pool = new Pool(dp.url);
  for (let i = 0; i < n; i++) await ask(pool, keyOf('c'), 0);
  await pool.close();
}

t.test('the password from GOZARGAH_REDIS_PASSWORD; /config and the logs never show it', async (t) => {
  const dp = await startDataplane(['--manifests', dir, '--redis', redis.url], { env: { GOZARGAH_REDIS_PASSWORD: PASSWORD } });
  t.teardown(() => dp.stop());
  await waitFor(async () => (await accounting(dp)).redis.state === 'up', 5000, () => dp.logs());
  await served(dp, 2);
  await waitFor(async () => (await accounting(dp)).pendingRecords === 0, 5000, () => 'counts never left for Redis');
  const config = await (await fetch(`${dp.adminUrl}/config`)).text();
  t.match(config, redis.url, '/config names the Redis');
  t.notMatch(config + dp.logs(), PASSWORD, 'and never its password');
});

t.test('a password in the URL works and is never shown either', async (t) => {
  const url = redis.url.replace('redis://', `redis://:${PASSWORD}@`);
  const dp = await startDataplane(['--manifests', dir, '--redis', url]);
  t.teardown(() => dp.stop());
  await waitFor(async () => (await accounting(dp)).redis.state === 'up', 5000, () => dp.logs());
  const config = await (await fetch(`${dp.adminUrl}/config`)).text();
  t.notMatch(config + dp.logs() + JSON.stringify(await accounting(dp)), PASSWORD);
});

t.test('the password from a file, over a unix socket', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'gozargah-pw-')), 'password');
  writeFileSync(file, `${PASSWORD}\n`);
  const dp = await startDataplane(['--manifests', dir, '--redis', `unix://${redis.socket}`, '--redis-password-file', file]);
  t.teardown(() => dp.stop());
  await waitFor(async () => (await accounting(dp)).redis.state === 'up', 5000, () => dp.logs());
  t.equal((await accounting(dp)).redis.url, `unix://${redis.socket}`);
});

t.test('a wrong password: the replica serves on its own limits and says why, once', async (t) => {
  const dp = await startDataplane(['--manifests', dir, '--redis', redis.url], { env: { GOZARGAH_REDIS_PASSWORD: 'not-the-password' } });
  t.teardown(() => dp.stop());
  await waitFor(async () => (await accounting(dp)).redis.lastError !== null, 5000, () => dp.logs());
  const state = await accounting(dp);
  t.equal(state.redis.state, 'down');
  t.match(state.redis.lastError, /WRONGPASS|invalid username-password|NOAUTH/, 'the reason is Redis\'s own');
  const pool = new Pool(dp.url);
  t.equal((await ask(pool, keyOf('c'), 0)).status, 200, 'local mode: still served');
  await pool.close();
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(dp.logs().split('\n').filter((l) => l.includes('Redis unreachable')).length, 1, 'logged once, not at every retry');
});

t.test('an unreachable Redis at start: the replica starts, serves and reports it', async (t) => {
  const dp = await startDataplane(['--manifests', dir, '--redis', 'redis://127.0.0.1:1']);
  t.teardown(() => dp.stop());
  const res = await fetch(`${dp.adminUrl}/readyz`);
  t.equal(res.status, 200, 'ready in local mode');
  t.equal(((await res.json()) as { accounting: { redis: { state: string } } }).accounting.redis.state, 'down');
});

// Reloads: the manifests directory rewritten continuously under load without one failed request,
// invalid configurations refused while the last good snapshot keeps serving, a new upstream in
// force after a reload, requests in flight finishing on the snapshot they started with, and
// --snapshot FILE mode fed by `gozargah compile -o json`.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool, request } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { NODE, ROOT, startDataplane, waitFor, type RunningDataplane } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route, writeManifests } from '../helpers/manifests.ts';

const KEY = 'test-key-reload-0123456789';
const OTHER_KEY = 'test-key-reload-other-0123456789';

const first = await startAgency();
const second = await startAgency();
t.teardown(() => Promise.all([first.close(), second.close()]));

/**
 * The bus in one of five shapes (variant 0 to 4). All keep the route the load uses (gov/echo,
 * granted to `client`); the variant moves the second route and changes the rate limits and the
 * agency's protection. Five, not two: the source reloads at most every 150 ms, so with writes
 * every 100 ms it may see every second write, and would never see two alternating shapes change.
 */
function bus(upstream: string, variant = 0): Record<string, unknown>[] {
  return [
    provider('agency', upstream, { protection: { maxConcurrent: 5000 - variant, maxRequestsPerSecond: 100_000 - variant } }),
    route('echo', 'agency', '/reload/v1/echo/{id}', { upstreamPath: '/echo/{id}' }),
    route('slow', 'agency', '/reload/v1/slow', { upstreamPath: '/slow/1500' }),
    route('upload', 'agency', '/reload/v1/upload', { methods: ['POST'], upstreamPath: '/upload' }),
    route('other', 'agency', `/reload/v1/other-${variant}`),
    keySecret('client-keys', { k: KEY }),
    binding('client', 'client', [{ namespace: 'gov', selector: {} }], { rateLimit: { requestsPerSecond: 50_000 + variant } }),
    keySecret('other-keys', { k: OTHER_KEY }),
    binding('other', 'other', [{ namespace: 'gov', name: 'other' }], { rateLimit: { requestsPerSecond: 10 + variant } }),
  ];
}

interface ConfigView {
  loaded: boolean;
  generation: number;
  hash: string;
  loadedAt: string;
  lastError: string | null;
  providers: { id: string; url: string }[];
  routes: { id: string; path: string }[];
}

async function config(dp: RunningDataplane): Promise<ConfigView> {
  return (await (await fetch(`${dp.adminUrl}/config`)).json()) as ConfigView;
}

/** The value of one sample of a counter in /metrics, 0 when absent. */
async function metric(dp: RunningDataplane, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const reloads = (dp: RunningDataplane, result: 'loaded' | 'rejected'): Promise<number> => metric(dp, 'gozargah_snapshot_reloads_total', `result="${result}"`);

/** Waits until /config satisfies `check` and answers it. */
async function configWhere(dp: RunningDataplane, check: (c: ConfigView) => boolean, what: string): Promise<ConfigView> {
  let last: ConfigView | null = null;
  await waitFor(async () => check((last = await config(dp))), 15_000, () => `/config never showed ${what}; last: ${JSON.stringify(last)}\n${dp.logs()}`);
  return last as unknown as ConfigView;
}

const dir = manifestDir(bus(first.url));
const dp = await startDataplane(['--manifests', dir]);
t.teardown(() => dp.stop());
const pool = new Pool(dp.url, { connections: 8 });
t.teardown(() => pool.close());

async function get(path: string, key = KEY): Promise<{ status: number; text: string }> {
  const res = await pool.request({ path, method: 'GET', headers: { 'x-api-key': key } });
  return { status: res.statusCode, text: await res.body.text() };
}

t.test('the manifests rewritten every 100 ms under load: no request fails, the generation advances', async (t2) => {
  const before = await config(dp);
  const loadedBefore = await reloads(dp, 'loaded');
  let writes = 0;
  const writer = setInterval(() => writeManifests(dir, bus(first.url, ++writes % 5)), 100);
  const statuses = new Map<number, number>();
  const failures: string[] = [];
  const deadline = Date.now() + 3000;
  const clients = Array.from({ length: 8 }, async (_, c) => {
    // For 3 s, and at most 5,000 requests per client however fast the machine.
    for (let i = 0; i < 5000 && Date.now() < deadline; i++) {
      try {
        const res = await get(`/reload/v1/echo/${c}-${i}`);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status !== 200 && failures.length < 5) failures.push(`${res.status} ${res.text}`);
      } catch (err) {
        if (failures.length < 5) failures.push((err as Error).message);
        statuses.set(0, (statuses.get(0) ?? 0) + 1);
      }
    }
  });
  await Promise.all(clients);
  clearInterval(writer);
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t2.ok(total >= 8 * 10, `the load ran (${total} requests)`);
  t2.same(Object.fromEntries(statuses), { 200: total }, 'every answer is 200');
  t2.same(failures, [], 'no failure');
  // The last write may still be debouncing; the generation has moved several times anyway.
  const after = await config(dp);
  t2.ok(after.generation >= before.generation + 4, `generation ${before.generation} -> ${after.generation}`);
  t2.ok((await reloads(dp, 'loaded')) >= loadedBefore + 4, 'gozargah_snapshot_reloads_total{result="loaded"} counted them');
  t2.equal(await reloads(dp, 'rejected'), 0, 'nothing was refused');
  t2.ok(Date.parse(after.loadedAt) >= Date.parse(before.loadedAt), `loadedAt moved forward (${before.loadedAt} -> ${after.loadedAt})`);
  t2.ok(Math.abs(Date.parse(after.loadedAt) - Date.now()) < 60_000, `loadedAt ${after.loadedAt} is wall-clock time`);
  t2.ok(writes >= 20, `the manifests were rewritten ${writes} times`);
  // Settle on variant 0 for the next tests.
  writeManifests(dir, bus(first.url));
  await configWhere(dp, (c) => c.routes.some((r) => r.path === '/reload/v1/other-0'), 'variant 0');
});

t.test('a YAML syntax error is refused; the last good snapshot keeps serving', async (t2) => {
  const before = await config(dp);
  const rejectedBefore = await reloads(dp, 'rejected');
  writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: gozargah.io/v1alpha1\nkind: InquiryRoute\nmetadata: { name: broken, namespace: gov\nspec:\n  path: /x\n');
  await waitFor(async () => (await reloads(dp, 'rejected')) > rejectedBefore, 15_000, () => `no rejection counted:\n${dp.logs()}`);
  t2.equal(await reloads(dp, 'rejected'), rejectedBefore + 1, 'gozargah_snapshot_reloads_total{result="rejected"} + 1');
  const during = await config(dp);
  t2.equal(during.generation, before.generation, 'the generation in force did not change');
  t2.equal(during.hash, before.hash, 'nor the snapshot');
  t2.match(during.lastError, /broken\.yaml/, '/config says which file is wrong');
  const refusal = dp
    .logs()
    .split('\n')
    .find((l) => l.includes('snapshot refused') && l.includes('broken.yaml'));
  t2.ok(refusal, 'the log says the snapshot was refused, naming the file');
  t2.match(JSON.parse(refusal ?? '{}'), { level: 'error', error: /broken\.yaml \(document 1\)/ });
  t2.equal((await get('/reload/v1/echo/still')).status, 200, 'the last good snapshot serves');
  t2.equal((await fetch(`${dp.adminUrl}/readyz`)).status, 200, 'and the replica stays ready');

  rmSync(join(dir, 'broken.yaml'));
  await configWhere(dp, (c) => c.lastError === null, 'lastError cleared once the directory is valid again');
  t2.equal((await config(dp)).hash, before.hash, 'the same configuration is in force');
  t2.equal((await get('/reload/v1/echo/again')).status, 200);
});

t.test('a new upstream URL takes effect after the reload', async (t2) => {
  first.seen.length = 0;
  second.seen.length = 0;
  t2.equal((await get('/reload/v1/echo/one')).status, 200);
  t2.equal(first.seen.length, 1, 'the first agency answers before the change');
  writeManifests(dir, bus(second.url));
  await configWhere(dp, (c) => c.providers[0]?.url === second.url, 'the second agency');
  const res = await get('/reload/v1/echo/two');
  t2.equal(res.status, 200, res.text);
  t2.equal(second.seen.length, 1, 'the second agency answers after the change');
  t2.equal(second.seen[0]?.url, '/echo/two');
  t2.equal(first.seen.length, 1, 'the first agency sees nothing more');
});

/** Sends a POST's headers and the first part of its body; `finish` sends the rest and reads the answer. */
function partialPost(dp: RunningDataplane, path: string, body: string): { finish: () => Promise<string> } {
  const { port } = new URL(dp.url);
  const socket = connect(Number(port), '127.0.0.1');
  let answer = '';
  socket.on('data', (c: Buffer) => (answer += c.toString()));
  const ended = new Promise<string>((resolve, reject) => {
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\nx-api-key: ${KEY}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body.slice(0, half)}`);
  return {
    finish: () => {
      socket.write(body.slice(half));
      return ended;
    },
  };
}

t.test('requests in flight finish on the snapshot they started with', async (t2) => {
  // The second agency is in force (previous test); move back to the first while calls are open.
  first.seen.length = 0;
  second.seen.length = 0;
  const before = await config(dp);
  let slowDone = false;
  const slow = get('/reload/v1/slow').finally(() => (slowDone = true));
  await waitFor(() => second.seen.some((s) => s.url === '/slow/1500'), 10_000, () => 'the slow call never reached the second agency');
  // A request whose body is still arriving has matched its route, but not yet called the agency.
  const upload = partialPost(dp, '/reload/v1/upload', JSON.stringify({ nationalId: '0012345678', note: 'sent in two parts' }));
  await new Promise((r) => setTimeout(r, 300));
  writeManifests(dir, bus(first.url));
  await configWhere(dp, (c) => c.generation > before.generation && c.providers[0]?.url === first.url, 'the first agency again');
  t2.notOk(slowDone, 'the slow call was still in flight when the reload took effect');

  const answer = await slow;
  t2.equal(answer.status, 200, `the slow call completes: ${answer.text}`);
  t2.same(JSON.parse(answer.text), { slept: 1500 });
  t2.notOk(first.seen.some((s) => s.url === '/slow/1500'), 'the first agency never saw the slow call');

  const raw = await upload.finish();
  t2.match(raw, /^HTTP\/1\.1 200 /, `the upload completes on the snapshot it started with:\n${raw.slice(0, 600)}`);
  t2.ok(second.seen.some((s) => s.url === '/upload' && s.body.includes('sent in two parts')), 'the second agency received the whole body');
  t2.notOk(first.seen.some((s) => s.url === '/upload'), 'the first agency did not');

  t2.equal((await get('/reload/v1/echo/three')).status, 200);
  t2.ok(first.seen.some((s) => s.url === '/echo/three'), 'new requests go to the first agency');
});

/** `gozargah compile -f DIR -o json`, run as the real CLI. */
function compileDir(manifests: string): string {
  const run = spawnSync(NODE, ['cli/main.ts', 'compile', '-f', manifests, '-o', 'json'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) throw new Error(`gozargah compile failed (${run.status}):\n${run.stderr}`);
  return run.stdout;
}

/** Replaces the snapshot file atomically (write then rename), as a mounted ConfigMap update does. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

t.test('--snapshot FILE: the compiled output serves, reloads on each replacement, and a wrong hash is refused', async (t2) => {
  const work = mkdtempSync(join(tmpdir(), 'gozargah-snapshot-'));
  const file = join(work, 'snapshot.json');
  const compiledFirst = compileDir(manifestDir(bus(first.url)));
  const compiledSecond = compileDir(manifestDir(bus(second.url)));
  writeFileSync(file, compiledFirst);
  const sdp = await startDataplane(['--snapshot', file]);
  t2.teardown(() => sdp.stop());
  const call = async (id: string): Promise<number> => {
    const res = await request(`${sdp.url}/reload/v1/echo/${id}`, { headers: { 'x-api-key': KEY } });
    await res.body.dump();
    return res.statusCode;
  };
  const start = await config(sdp);
  t2.equal(start.hash, (JSON.parse(compiledFirst) as { snapshots: Record<string, { hash: string }> }).snapshots['default']?.hash, 'the compiled snapshot of bus default is in force');
  first.seen.length = 0;
  second.seen.length = 0;
  t2.equal(await call('s1'), 200);
  t2.equal(first.seen.length, 1, 'served by the first agency');

  // A replacement takes effect; so does the one after it (the watch survives the rename).
  replaceFile(file, compiledSecond);
  await configWhere(sdp, (c) => c.providers[0]?.url === second.url, 'the second snapshot');
  t2.equal(await call('s2'), 200);
  t2.equal(second.seen.length, 1, 'served by the second agency');
  replaceFile(file, compiledFirst);
  const back = await configWhere(sdp, (c) => c.providers[0]?.url === first.url, 'the first snapshot again');

  // A snapshot whose content does not match its hash: the upstream is changed, the hash is not.
  const rejectedBefore = await reloads(sdp, 'rejected');
  const tampered = JSON.parse(compiledFirst) as { snapshots: Record<string, { providers: { url: string }[] }> };
  (tampered.snapshots['default']?.providers[0] as { url: string }).url = 'http://127.0.0.1:1';
  replaceFile(file, JSON.stringify(tampered));
  await waitFor(async () => (await reloads(sdp, 'rejected')) > rejectedBefore, 15_000, () => `the tampered snapshot was not refused:\n${sdp.logs()}`);
  const during = await config(sdp);
  t2.equal(during.hash, back.hash, 'the last good snapshot stays in force');
  t2.equal(during.generation, back.generation);
  t2.match(during.lastError, /does not match the content/, '/config says why');
  t2.match(sdp.logs(), /snapshot refused; the last good one stays in force.*does not match the content/, 'so does the log');
  first.seen.length = 0;
  t2.equal(await call('s3'), 200, 'and it serves');
  t2.equal(first.seen.length, 1, 'from the first agency, not the tampered URL');

  // Valid again: loaded.
  replaceFile(file, compiledSecond);
  await configWhere(sdp, (c) => c.providers[0]?.url === second.url && c.lastError === null, 'the second snapshot after the refusal');
  t2.equal(await call('s4'), 200);
  t2.equal(await sdp.stop(), 0);
});

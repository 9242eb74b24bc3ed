// Graceful shutdown: on SIGTERM the replica stops being ready and stops accepting connections,
// lets the requests in flight finish, writes every audit record, and exits with code 0.
import t from 'tap';
import { connect } from 'node:net';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'test-key-shutdown-0123456789';
const SLOW = 5;

const agency = await startAgency();
t.teardown(() => agency.close());
const dir = manifestDir([
  provider('agency', agency.url, { timeout: '10s' }),
  route('slow', 'agency', '/registry/v1/slow', { upstreamPath: '/slow/1500' }),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client', [{ namespace: 'gov', name: 'slow' }]),
]);

/** Resolves with the error code of a TCP connection attempt, or 'connected'. */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

t.test('SIGTERM drains: in-flight requests complete, not ready, no new connections, exit 0, every audit record written', async (t2) => {
  const dp = await startDataplane(['--manifests', dir]);
  t2.teardown(() => dp.stop('SIGKILL'));
  const pool = new Pool(dp.url, { connections: SLOW });
  t2.teardown(() => pool.close());
  const port = Number(new URL(dp.url).port);

  let settled = 0;
  const ids = Array.from({ length: SLOW }, (_, i) => `shutdown-${i}`);
  const calls = ids.map(async (id) => {
    try {
      const res = await pool.request({ path: '/registry/v1/slow', method: 'GET', headers: { 'x-api-key': KEY, 'x-request-id': id } });
      return { status: res.statusCode, text: await res.body.text() };
    } finally {
      settled++;
    }
  });
  await waitFor(() => agency.seen.filter((s) => s.url === '/slow/1500').length === SLOW, 10_000, () => `only ${agency.seen.length} calls reached the agency`);

  const exited = dp.stop('SIGTERM');
  // Poll right after the signal: the drain starts at once.
  let ready: { status: number; body: Record<string, unknown> } | null = null;
  await waitFor(
    async () => {
      const res = await fetch(`${dp.adminUrl}/readyz`);
      ready = { status: res.status, body: (await res.json()) as Record<string, unknown> };
      return res.status === 503;
    },
    5000,
    () => `/readyz never turned 503: ${JSON.stringify(ready)}\n${dp.logs()}`,
  );
  const inFlightWhenNotReady = SLOW - settled;
  t2.match(ready, { status: 503, body: { ready: false, draining: true } }, '/readyz is 503 while draining');
  t2.equal(await tryConnect(port), 'ECONNREFUSED', 'a new connection is refused once the drain began');
  const inFlightWhenRefused = SLOW - settled;
  t2.equal(inFlightWhenNotReady, SLOW, 'all the slow requests were still in flight when /readyz said 503');
  t2.equal(inFlightWhenRefused, SLOW, 'and when the new connection was refused');

  const answers = await Promise.all(calls);
  t2.same(
    answers.map((a) => a.status),
    ids.map(() => 200),
    'every request in flight completed with 200',
  );
  for (const a of answers) t2.same(JSON.parse(a.text), { slept: 1500 });
  t2.equal(await exited, 0, 'the process exits with code 0');

  const records = dp.audit();
  t2.equal(records.length, SLOW, 'the audit log holds exactly one record per request');
  t2.same(records.map((r) => r['requestId']).sort(), ids, 'one for each request id');
  t2.ok(
    records.every((r) => r['status'] === 200 && r['code'] === 'ok' && r['route'] === 'gov/slow'),
    'each records the completed call',
  );
  const logs = dp.logs();
  t2.match(logs, new RegExp(`"msg":"shutting down","signal":"SIGTERM","inFlight":${SLOW}`), 'the log says how many requests were in flight');
  t2.match(logs, new RegExp(`"msg":"stopped","served":${SLOW}`), 'and how many were served');
  t2.notMatch(logs, /grace period over/, 'nothing was cut off');
});

t.test('a request still in flight when the grace period ends is cut off, and still audited', async (t2) => {
  const dp = await startDataplane(['--manifests', dir, '--grace', '0.5']);
  t2.teardown(() => dp.stop('SIGKILL'));
  agency.seen.length = 0;
  const pool = new Pool(dp.url);
  t2.teardown(() => pool.close());
  const call = pool
    .request({ path: '/registry/v1/slow', method: 'GET', headers: { 'x-api-key': KEY, 'x-request-id': 'cut-off' } })
    .then(async (res) => `${res.statusCode} ${await res.body.text()}`)
    .catch((err: Error) => err);
  await waitFor(() => agency.seen.some((s) => s.url === '/slow/1500'), 10_000, () => 'the call never reached the agency');
  t2.equal(await dp.stop('SIGTERM'), 0, 'the process exits with code 0');
  t2.type(await call, Error, 'the client sees its connection closed');
  t2.match(dp.logs(), /"msg":"grace period over; closing connections","inFlight":1/);
  t2.match(dp.audit(), [{ requestId: 'cut-off', route: 'gov/slow', status: 503, code: 'cut_at_shutdown' }], 'the cut-off request has its audit record, as cut at shutdown');
});

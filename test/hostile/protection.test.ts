// Protection that cannot be turned against the agency or its other clients. Each test makes a
// client (or the agency) misbehave against a real dataplane process, checks the answer, and
// checks that the agency is still reachable for everyone else afterwards.
import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'test-key-protection-0123456789';
const QUOTA_KEY = 'test-key-protection-quota-0123';

const agency = await startAgency();
t.teardown(() => agency.close());

const granted = (names: string[]): Record<string, string>[] => names.map((name) => ({ namespace: 'gov', name }));
const dir = manifestDir([
  // Opens after one failure, half-opens after 300 ms: the trial is what these tests attack.
  provider('fragile', agency.url, { timeout: '5s', circuitBreaker: { consecutiveFailures: 1, openFor: '300ms' } }),
  route('fragile-fail', 'fragile', '/fragile/fail', { upstreamPath: '/status/500' }),
  route('fragile-ok', 'fragile', '/fragile/ok', { upstreamPath: '/echo' }),
  route('fragile-slow', 'fragile', '/fragile/slow', { upstreamPath: '/slow/3000' }),
  route('fragile-post', 'fragile', '/fragile/post', { methods: ['POST'], upstreamPath: '/echo', maxBodyBytes: 32, requestSchema: { type: 'object', required: ['id'] } }),
  // At most one call per second reaches it, and the breaker opens after one failure.
  provider('metered', agency.url, { protection: { maxRequestsPerSecond: 1 }, circuitBreaker: { consecutiveFailures: 1, openFor: '200ms' } }),
  route('metered-fail', 'metered', '/metered/fail', { upstreamPath: '/status/500' }),
  route('metered-ok', 'metered', '/metered/ok', { upstreamPath: '/echo' }),
  // One call in flight at a time: a trickling client must not hold it.
  provider('narrow', agency.url, { protection: { maxConcurrent: 1 }, circuitBreaker: { consecutiveFailures: 2 } }),
  route('narrow-post', 'narrow', '/narrow/post', { methods: ['POST', 'GET'], upstreamPath: '/echo', maxBodyBytes: 1_000_000 }),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client', granted(['fragile-fail', 'fragile-ok', 'fragile-slow', 'fragile-post', 'metered-fail', 'metered-ok', 'narrow-post'])),
  keySecret('quota-keys', { k: QUOTA_KEY }),
  binding('quota', 'quota', granted(['fragile-post', 'fragile-ok', 'fragile-slow']), { quota: { requests: 2, period: 'Day' } }),
]);
const dp = await startDataplane(['--manifests', dir]);
t.teardown(() => dp.stop());
const client = new Pool(dp.url, { connections: 8 });
t.teardown(() => client.close());

interface Answer {
  status: number;
  code: string | null;
}

async function call(path: string, init: { method?: string; key?: string; body?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'x-api-key': init.key ?? KEY, ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await client.request({ path, method: (init.method ?? 'GET') as 'GET', headers, body: init.body, signal: init.signal });
  await res.body.dump();
  const code = res.headers['x-gozargah-error'];
  return { status: res.statusCode, code: typeof code === 'string' ? code : null };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The breaker toward `provider` opens with one agency failure; waits until it half-opens. */
async function openThenHalfOpen(t2: Test, failPath: string, okPath: string, waitMs: number): Promise<void> {
  t2.same(await call(failPath), { status: 500, code: null }, 'the agency fails (its own 500, passed through)');
  t2.same(await call(okPath), { status: 503, code: 'provider_unavailable' }, 'the breaker is open');
  await sleep(waitMs);
}

/** The agency is reachable again for everyone: the breaker closed on a trial that got an answer. */
async function servingAgain(t2: Test, okPath: string): Promise<void> {
  t2.same(await call(okPath), { status: 200, code: null }, 'the next call is the trial, and the agency answers it');
  t2.same(await call(okPath), { status: 200, code: null }, 'the breaker is closed again');
}

t.test('a trial whose client leaves before the agency answers ends, and the next call tries', async (t2) => {
  await openThenHalfOpen(t2, '/fragile/fail', '/fragile/ok', 400);
  const leaving = new AbortController();
  const trial = call('/fragile/slow', { signal: leaving.signal }).catch((err: Error) => err);
  await waitFor(() => agency.seen.some((s) => s.url === '/slow/3000'), 5_000, () => 'the trial never reached the agency');
  leaving.abort();
  t2.type(await trial, Error, 'the client went away');
  // The bus learns of it when the socket's close reaches it, a moment after the client gave up
  // (longer on a loaded machine): its record says the trial has ended.
  await waitFor(() => dp.audit().some((r) => r['route'] === 'gov/fragile-slow'), 5_000, () => `no record of the abandoned trial:\n${JSON.stringify(dp.audit())}`);
  await servingAgain(t2, '/fragile/ok');
  t2.match(
    dp.audit().filter((r) => r['route'] === 'gov/fragile-slow'),
    [{ code: 'client_gone', status: 499 }],
    'the abandoned trial is recorded as client_gone',
  );
});

t.test('a request refused for its body never holds the trial', async (t2) => {
  await openThenHalfOpen(t2, '/fragile/fail', '/fragile/ok', 400);
  t2.same(await call('/fragile/post', { method: 'POST', body: JSON.stringify({ id: 1, pad: 'x'.repeat(64) }) }), { status: 413, code: 'body_too_large' });
  t2.same(await call('/fragile/post', { method: 'POST', body: '{"no-id":true}' }), { status: 400, code: 'request_invalid' });
  t2.same(await call('/fragile/post', { method: 'POST', body: '{"id":' }), { status: 400, code: 'request_invalid' });
  await servingAgain(t2, '/fragile/ok');
});

t.test('a trial refused by the agency\'s own protection ends', async (t2) => {
  await openThenHalfOpen(t2, '/metered/fail', '/metered/ok', 300);
  // The per-second token was spent by the failing call: the trial is refused by protection.
  t2.same(await call('/metered/ok'), { status: 503, code: 'provider_saturated' }, 'the trial is refused by the agency\'s calls-per-second limit');
  await sleep(1_100);
  t2.same(await call('/metered/ok'), { status: 200, code: null }, 'a second later the next call is the trial, and the agency answers it');
  await sleep(1_100);
  t2.same(await call('/metered/ok'), { status: 200, code: null }, 'the breaker is closed again');
});

/** Sends raw bytes on a new connection and returns everything read until the server closes or `untilMs` passes. */
function raw(port: number, chunks: { data: string; afterMs?: number; when?: (soFar: string) => boolean }[], untilMs = 5_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => socket.destroy(), untilMs);
    let next = 0;
    const pump = (): void => {
      const chunk = chunks[next];
      if (chunk === undefined) return;
      if (chunk.when !== undefined && !chunk.when(got)) return;
      next++;
      setTimeout(() => {
        socket.write(chunk.data);
        pump();
      }, chunk.afterMs ?? 0);
    };
    socket.on('connect', pump);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      pump();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

const port = Number(new URL(dp.url).port);
const postHead = (path: string, key: string, length: number, extra = ''): string =>
  `POST ${path} HTTP/1.1\r\nhost: bus\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n${extra}connection: close\r\n\r\n`;

t.test('Expect: 100-continue: answered by the bus, never forwarded, never counted against the agency', async (t2) => {
  const body = JSON.stringify({ id: 7 });
  for (let i = 0; i < 3; i++) {
    const answer = await raw(port, [
      { data: postHead('/fragile/post', KEY, body.length, 'expect: 100-continue\r\n') },
      { data: body, when: (soFar) => soFar.startsWith('HTTP/1.1 100 Continue') },
    ]);
    t2.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, 'told to continue, then the agency\'s answer');
  }
  const seen = agency.seen.filter((s) => s.url === '/echo' && s.method === 'POST');
  t2.ok(seen.length >= 3, 'the bodies reached the agency');
  t2.notOk(seen.some((s) => 'expect' in s.headers), 'the agency never receives Expect');
  t2.same(await call('/fragile/ok'), { status: 200, code: null }, 'the breaker (one failure opens it) stayed closed');

  const refused = await raw(port, [{ data: postHead('/fragile/post', 'not-a-key-of-anyone-at-all', body.length, 'expect: 100-continue\r\n') }]);
  t2.match(refused, /^HTTP\/1\.1 401 /, 'an unknown client gets its final answer without being asked for the body');
  t2.notMatch(refused, /100 Continue/);
  t2.match(refused.toLowerCase(), /connection: close/, 'and the connection closes, since the body may or may not follow');

  const odd = await raw(port, [{ data: postHead('/fragile/post', KEY, body.length, 'expect: something-else\r\n') }]);
  t2.match(odd, /^HTTP\/1\.1 417 /, 'an expectation the bus cannot meet gets 417');
  t2.same(await call('/fragile/ok'), { status: 200, code: null }, 'still serving');
});

t.test('a client trickling its body holds no agency slot, and is cut at the body deadline', async (t2) => {
  // maxConcurrent 1: the slow sender must not keep the next client out.
  const trickle = raw(
    port,
    [{ data: postHead('/narrow/post', KEY, 1000).replace('connection: close\r\n', '') }, { data: '{"a":', afterMs: 50 }],
    20_000,
  );
  await sleep(300);
  t2.same(await call('/narrow/post', { method: 'POST', body: '{"b":1}' }), { status: 200, code: null }, 'another client reaches the agency meanwhile');
  t2.same(await call('/narrow/post', { method: 'POST', body: '{"c":1}' }), { status: 200, code: null }, 'and again');
  const answer = await trickle;
  t2.match(answer, /^HTTP\/1\.1 408 /, 'the trickling client is answered 408 at the body deadline');
  t2.match(answer, /"code":"body_timeout"/);
  t2.same(await call('/narrow/post', { method: 'GET' }), { status: 200, code: null }, 'still serving');
});

t.test('quota is charged for what the agency answered, not for what the bus refused', async (t2) => {
  t2.same(await call('/fragile/post', { key: QUOTA_KEY, method: 'POST', body: '{"missing":"id"}' }), { status: 400, code: 'request_invalid' });
  t2.same(await call('/fragile/post', { key: QUOTA_KEY, method: 'POST', body: JSON.stringify({ id: 'x'.repeat(64) }) }), { status: 413, code: 'body_too_large' });
  const leaving = new AbortController();
  const gone = call('/fragile/slow', { key: QUOTA_KEY, signal: leaving.signal }).catch((err: Error) => err);
  await sleep(200);
  leaving.abort();
  await gone;
  // None of those three reached an agency answer: the quota of 2 is still whole.
  t2.same(await call('/fragile/ok', { key: QUOTA_KEY }), { status: 200, code: null }, 'first of 2');
  t2.same(await call('/fragile/ok', { key: QUOTA_KEY }), { status: 200, code: null }, 'second of 2');
  t2.same(await call('/fragile/ok', { key: QUOTA_KEY }), { status: 429, code: 'quota_exhausted' }, 'the third is over quota');
});

t.test('the dataplane is alive and its audit has a record per request', async (t2) => {
  t2.same(await call('/fragile/ok'), { status: 200, code: null });
  t2.equal(dp.process.exitCode, null, 'the process is running');
});

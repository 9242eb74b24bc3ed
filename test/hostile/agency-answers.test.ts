// An agency that misbehaves: answers that break off, stall, trickle, flood, lie about their
// Content-Type or come compressed. The bus must say truthfully whose failure it was, bound what
// it buffers, never pass a private field through, and keep serving.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, waitFor } from '../helpers/dataplane.ts';
import { startHostileAgency, PRIVATE_VALUES } from '../helpers/hostile-agency.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'test-key-agency-answers-012345';
const MB = 1024 * 1024;

const hostile = await startHostileAgency();
t.teardown(() => hostile.close());
const healthy = await startAgency();
t.teardown(() => healthy.close());

const privacy = { dropResponseFields: ['person.fatherName', 'person.birthDate', 'items.phone'] };
const routes = [
  // One provider per failure, each opening its breaker after one failure, so each test sees its own.
  ...['close-mid-body', 'bad-chunking', 'hang-after-headers', 'trickle', 'hang'].map((name) =>
    provider(name, hostile.url, { timeout: '800ms', circuitBreaker: { consecutiveFailures: 1, openFor: '60s' } }),
  ),
  route('close-mid-body', 'close-mid-body', '/broken/close-mid-body', { upstreamPath: '/close-mid-body' }),
  route('bad-chunking', 'bad-chunking', '/broken/bad-chunking', { upstreamPath: '/bad-chunking' }),
  route('hang-after-headers', 'hang-after-headers', '/broken/hang-after-headers', { upstreamPath: '/hang-after-headers' }),
  route('trickle', 'trickle', '/broken/trickle', { upstreamPath: '/trickle/100' }),
  route('hang', 'hang', '/broken/hang', { upstreamPath: '/hang' }),
  provider('hostile', hostile.url, { timeout: '20s', circuitBreaker: { consecutiveFailures: 1000 } }),
  route('typed', 'hostile', '/private/typed/{type}', { upstreamPath: '/content-type/{type}', privacy }),
  route('gzip', 'hostile', '/private/gzip', { upstreamPath: '/gzip', privacy }),
  route('gzip-always', 'hostile', '/private/gzip-always', { upstreamPath: '/gzip-always', privacy }),
  route('huge-private', 'hostile', '/private/huge', { upstreamPath: '/huge/52428800', privacy }),
  route('huge', 'hostile', '/open/huge', { upstreamPath: '/huge/52428800' }),
  provider('healthy', healthy.url),
  route('not-json', 'healthy', '/private/not-json', { upstreamPath: '/notjson', privacy }),
  route('person', 'healthy', '/registry/persons/{nationalId}', { upstreamPath: '/echo/{nationalId}' }),
];
const dir = manifestDir([
  ...routes,
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client', routes.filter((o) => o['kind'] === 'InquiryRoute').map((o) => ({ namespace: 'gov', name: (o['metadata'] as { name: string }).name }))),
]);
const dp = await startDataplane(['--manifests', dir]);
t.teardown(() => dp.stop());
const client = new Pool(dp.url, { connections: 8 });
t.teardown(() => client.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function call(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await client.request({ path, method: 'GET', headers: { 'x-api-key': KEY, ...headers } });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** The audit record of the latest request to `route`, once written. */
async function recordOf(route: string): Promise<Record<string, unknown>> {
  await waitFor(() => dp.audit().some((r) => r['route'] === route), 10_000, () => `no audit record for ${route}`);
  return dp.audit().filter((r) => r['route'] === route).at(-1) as Record<string, unknown>;
}

/** The healthy agency is still served: the process is alive and nothing else was switched off. */
async function stillServing(t2: Test): Promise<void> {
  const ok = await call('/registry/persons/0012345678');
  t2.equal(ok.status, 200, 'the dataplane still serves another agency');
  t2.equal(dp.process.exitCode, null, 'the process is alive');
}

/** Whose failure: the agency's answer broke after its head, the client got a cut response, the breaker counted it. */
async function brokeOff(t2: Test, path: string, route: string, expect: { status: number; code: string }): Promise<void> {
  const outcome = await call(path).then(
    (a) => a,
    (err: Error) => err,
  );
  if (outcome instanceof Error) t2.pass(`the client's response was cut (${(outcome as { code?: string }).code ?? outcome.message}), so it cannot take part of an answer for all of it`);
  else t2.same({ status: outcome.status, code: outcome.headers['x-gozargah-error'] }, { status: expect.status, code: expect.code }, 'the bus answered for the agency');
  t2.match(await recordOf(`gov/${route}`), expect, `recorded as ${expect.code}, the agency's failure, not client_gone`);
  const after = await call(path);
  t2.same({ status: after.status, code: after.headers['x-gozargah-error'] }, { status: 503, code: 'provider_unavailable' }, 'it counted against the agency: its breaker (one failure) is open');
  await stillServing(t2);
}

t.test('an agency that closes mid-body', (t2) => brokeOff(t2, '/broken/close-mid-body', 'close-mid-body', { status: 502, code: 'upstream_broken' }));
t.test('an agency whose chunked encoding is broken', (t2) => brokeOff(t2, '/broken/bad-chunking', 'bad-chunking', { status: 502, code: 'upstream_broken' }));
t.test('an agency that stalls after its headers: the route timeout bounds the body too', (t2) =>
  brokeOff(t2, '/broken/hang-after-headers', 'hang-after-headers', { status: 504, code: 'upstream_timeout' }),
);
t.test('an agency that trickles its body past the route timeout', (t2) => brokeOff(t2, '/broken/trickle', 'trickle', { status: 504, code: 'upstream_timeout' }));
t.test('an agency that never answers', (t2) => brokeOff(t2, '/broken/hang', 'hang', { status: 504, code: 'upstream_timeout' }));

t.test('privacy: dropped fields never reach the client, whatever the Content-Type says', async (t2) => {
  for (const type of ['none', 'two', 'text', 'problem', 'charset', 'vnd', 'json']) {
    const a = await call(`/private/typed/${type}`);
    t2.equal(a.status, 200, `${type}: the answer is filtered and sent`);
    for (const value of PRIVATE_VALUES) t2.notOk(a.text.includes(value), `${type}: ${value} is not in the answer`);
    t2.match(JSON.parse(a.text), { person: { name: 'Sara' }, items: [{ id: 1 }] }, `${type}: the rest of the answer is intact`);
  }
  await stillServing(t2);
});

t.test('privacy: compressed answers are asked for plain, and decoded when sent anyway', async (t2) => {
  const asked = await call('/private/gzip', { 'accept-encoding': 'gzip, br' });
  t2.equal(asked.status, 200);
  const seen = hostile.seen.filter((s) => s.url === '/gzip').at(-1);
  t2.equal(seen?.headers['accept-encoding'], 'identity', 'the agency was asked for an unencoded answer');
  const forced = await call('/private/gzip-always', { 'accept-encoding': 'gzip' });
  t2.equal(forced.status, 200, 'a gzip answer sent regardless is decoded and filtered');
  t2.equal(forced.headers['content-encoding'], undefined, 'and sent plain');
  for (const a of [asked, forced]) for (const value of PRIVATE_VALUES) t2.notOk(a.text.includes(value), `${value} is not in the answer`);
  t2.match(JSON.parse(forced.text), { person: { name: 'Sara' } });
});

t.test('privacy: an answer that cannot be filtered is withheld, never passed through', async (t2) => {
  const a = await call('/private/not-json');
  t2.same({ status: a.status, code: a.headers['x-gozargah-error'] }, { status: 502, code: 'response_invalid' });
  t2.notOk(a.text.includes('{not json'), 'the agency\'s body is not passed through');
  await stillServing(t2);
});

function residentMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:')) ?? 'VmRSS: 0 kB';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) / 1024;
}

/** Largest gap between answers of the admin port while `during` runs: how long the event loop was held. */
async function adminStalls(during: Promise<unknown>): Promise<number> {
  let done = false;
  void during.finally(() => (done = true));
  let worst = 0;
  for (let i = 0; i < 2_000 && !done; i++) {
    const start = performance.now();
    await fetch(`${dp.adminUrl}/healthz`).then((r) => r.text());
    worst = Math.max(worst, performance.now() - start);
    await new Promise((r) => setTimeout(r, 5));
  }
  return worst;
}

t.test('a 50 MB answer: streamed with backpressure, or refused when it would have to be buffered', async (t2) => {
  const pid = dp.process.pid as number;
  const before = residentMb(pid);
  const refused = call('/private/huge');
  const refusedStall = await adminStalls(refused);
  const r = await refused;
  t2.same({ status: r.status, code: r.headers['x-gozargah-error'] }, { status: 502, code: 'response_too_large' }, 'a privacy route refuses an answer larger than it may buffer');
  t2.match(JSON.parse(r.text)['detail'], /exceeds 2097152 bytes/);
  let received = 0;
  const streamed = (async () => {
    const res = await client.request({ path: '/open/huge', method: 'GET', headers: { 'x-api-key': KEY } });
    for await (const chunk of res.body) received += (chunk as Buffer).length;
    return res.statusCode;
  })();
  const streamStall = await adminStalls(streamed);
  t2.equal(await streamed, 200);
  t2.equal(received, 50 * MB, 'a route without privacy rules streams all 50 MB to the client');
  const grown = residentMb(pid) - before;
  t2.ok(grown < 120, `the dataplane did not hold the answer in memory (resident grew ${grown.toFixed(0)} MB for 50 MB passed)`);
  t2.comment(`event loop: admin port answered within ${refusedStall.toFixed(1)} ms while refusing, ${streamStall.toFixed(1)} ms while streaming (worst gap)`);
  await stillServing(t2);
});

t.test('clients with no key cannot make the audit log grow without bound', async (t2) => {
  const long = 'x'.repeat(8_000);
  for (let i = 0; i < 5; i++) {
    const res = await client.request({ path: `/registry/persons/${long}${i}`, method: 'GET', headers: {} });
    await res.body.dump();
    t2.equal(res.statusCode, 401);
  }
  const ok = await call(`/registry/persons/${long}`);
  t2.equal(ok.status, 200, 'a known client may send a long parameter');
  const anonymousOf = (): Record<string, unknown>[] => dp.audit().filter((r) => r['route'] === 'gov/person' && r['code'] === 'credentials_missing');
  const longOf = (): Record<string, unknown>[] => dp.audit().filter((r) => r['route'] === 'gov/person' && String((r['params'] as Record<string, string> | null)?.['nationalId']).startsWith('xxx'));
  await waitFor(() => anonymousOf().length >= 5 && longOf().length >= 1, 10_000, () => 'records missing');
  const lines = readFileSync(dp.auditPath, 'utf8').split('\n').filter((l) => l.includes('"gov/person"'));
  const anonymous = anonymousOf();
  t2.equal(anonymous.length, 5, 'each refused request has its record');
  t2.equal(String((longOf()[0]?.['params'] as Record<string, string>)['nationalId']).length, 257, 'the known client\'s parameter is recorded cut to 256 characters and an ellipsis');
  t2.ok(anonymous.every((r) => r['params'] === null), 'an unauthenticated request records no path parameter');
  t2.ok(lines.every((l) => l.length < 1_024), 'every record of the route stays under 1 KiB, the known client\'s too (parameters are cut to 256 characters)');
});

// Every error the dataplane returns: status, stable code, x-gozargah-error, and the headers
// that go with it. The dataplane runs as a real process in front of a real agency server.
import t, { type Test } from 'tap';
import { Pool, request } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'test-key-errors-0123456789';
const LIMITED_KEY = 'test-key-limited-0123456789';
const QUOTA_KEY = 'test-key-quota-0123456789';
const EXPIRED_KEY = 'test-key-expired-0123456789';
const CIDR_KEY = 'test-key-cidr-0123456789';

const agency = await startAgency();
t.teardown(() => agency.close());
// An address nothing listens on: connections are refused.
const refused = await startAgency();
const refusedUrl = refused.url;
await refused.close();

const dir = manifestDir([
  provider('agency', agency.url, { timeout: '300ms', circuitBreaker: { consecutiveFailures: 1000 } }),
  provider('down', refusedUrl, { circuitBreaker: { consecutiveFailures: 2, openFor: '30s' } }),
  provider('tight', agency.url, { protection: { maxConcurrent: 1 } }),
  route('person', 'agency', '/registry/v1/persons/{nationalId}', { upstreamPath: '/echo/{nationalId}' }),
  route('slow', 'agency', '/registry/v1/slow', { upstreamPath: '/slow/2000' }),
  route('hold', 'tight', '/registry/v1/hold', { upstreamPath: '/slow/600' }),
  route('down', 'down', '/registry/v1/down'),
  route('not-granted', 'agency', '/registry/v1/secret'),
  route('literacy', 'agency', '/education/v1/literacy', {
    methods: ['POST'],
    maxBodyBytes: 64,
    requestSchema: { type: 'object', required: ['nationalId'], properties: { nationalId: { type: 'string', pattern: '^[0-9]{10}$' } } },
  }),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client', [{ namespace: 'gov', name: 'person' }, { namespace: 'gov', name: 'slow' }, { namespace: 'gov', name: 'hold' }, { namespace: 'gov', name: 'down' }, { namespace: 'gov', name: 'literacy' }]),
  keySecret('limited-keys', { k: LIMITED_KEY }),
  binding('limited', 'limited', [{ namespace: 'gov', name: 'person' }], { rateLimit: { requestsPerSecond: 1, burst: 2 } }),
  keySecret('quota-keys', { k: QUOTA_KEY }),
  binding('quota', 'quota', [{ namespace: 'gov', name: 'person' }], { quota: { requests: 2, period: 'Day' } }),
  keySecret('expired-keys', { k: EXPIRED_KEY }),
  binding('expired', 'expired', [{ namespace: 'gov', name: 'person' }], { validity: { notBefore: '2020-01-01T00:00:00Z', notAfter: '2021-01-01T00:00:00Z' } }),
  keySecret('cidr-keys', { k: CIDR_KEY }),
  binding('cidr', 'cidr', [{ namespace: 'gov', name: 'person' }], { sourceCIDRs: ['10.99.0.0/16'] }),
]);
const dp = await startDataplane(['--manifests', dir]);
t.teardown(() => dp.stop());
// A pool sends the path as written: fetch() and request(url) would normalize the dot segments away.
const client = new Pool(dp.url);
t.teardown(() => client.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

async function call(path: string, init: { method?: string; key?: string | null; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key !== null) headers['x-api-key'] = init.key ?? KEY;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await client.request({ path, method: (init.method ?? 'GET') as 'GET', headers, body: init.body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function isProblem(t2: Test, a: Answer, status: number, code: string): void {
  t2.equal(a.status, status, `status ${status}`);
  t2.equal(a.json['code'], code, `code ${code}`);
  t2.equal(a.headers['x-gozargah-error'], code, 'x-gozargah-error header');
  t2.match(a.headers['content-type'], /^application\/problem\+json/, 'problem+json');
  t2.equal(a.json['status'], status);
  t2.type(a.json['title'], 'string');
  t2.type(a.json['detail'], 'string');
  t2.equal(a.json['type'], `https://gozargah.io/problems/${code}`);
  t2.equal(a.json['requestId'], a.headers['x-request-id'], 'requestId matches x-request-id');
}

t.test('path_invalid: dot segments, encoded slashes and dots, double slashes', async (t2) => {
  for (const path of ['/registry/v1/persons/../secret', '/registry/v1/persons/a%2Fb', '/registry/v1/persons/%2e%2e', '/registry//v1/persons/1', '/registry/v1/persons/%zz']) {
    isProblem(t2, await call(path), 400, 'path_invalid');
  }
});

t.test('route_not_found and method_not_allowed with Allow', async (t2) => {
  isProblem(t2, await call('/nowhere/at/all'), 404, 'route_not_found');
  const wrong = await call('/registry/v1/persons/0012345678', { method: 'DELETE' });
  isProblem(t2, wrong, 405, 'method_not_allowed');
  t2.equal(wrong.headers['allow'], 'GET');
});

t.test('credentials: missing, invalid, in the query string', async (t2) => {
  isProblem(t2, await call('/registry/v1/persons/0012345678', { key: null }), 401, 'credentials_missing');
  isProblem(t2, await call('/registry/v1/persons/0012345678', { key: 'not-a-known-key-at-all' }), 401, 'credentials_invalid');
  isProblem(t2, await call(`/registry/v1/persons/0012345678?api_key=${KEY}`, { key: null }), 400, 'credentials_in_query');
});

t.test('binding_expired and source_not_allowed', async (t2) => {
  isProblem(t2, await call('/registry/v1/persons/0012345678', { key: EXPIRED_KEY }), 401, 'binding_expired');
  isProblem(t2, await call('/registry/v1/persons/0012345678', { key: CIDR_KEY }), 403, 'source_not_allowed');
});

t.test('route_not_granted', async (t2) => {
  isProblem(t2, await call('/registry/v1/secret'), 403, 'route_not_granted');
});

t.test('rate_limited with Retry-After and RateLimit-* headers', async (t2) => {
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await call('/registry/v1/persons/0012345678', { key: LIMITED_KEY }));
  t2.same(answers.slice(0, 2).map((a) => a.status), [200, 200], 'the burst passes');
  const limited = answers[3] as Answer;
  isProblem(t2, limited, 429, 'rate_limited');
  t2.match(limited.headers['retry-after'], /^[1-9][0-9]*$/);
  t2.equal(limited.headers['ratelimit-limit'], '1');
  t2.equal(limited.headers['ratelimit-remaining'], '0');
  t2.match(limited.headers['ratelimit-reset'], /^[1-9][0-9]*$/);
});

t.test('quota_exhausted with Retry-After until the period ends', async (t2) => {
  t2.equal((await call('/registry/v1/persons/0012345678', { key: QUOTA_KEY })).status, 200);
  t2.equal((await call('/registry/v1/persons/0012345678', { key: QUOTA_KEY })).status, 200);
  const out = await call('/registry/v1/persons/0012345678', { key: QUOTA_KEY });
  isProblem(t2, out, 429, 'quota_exhausted');
  const seconds = Number(out.headers['retry-after']);
  t2.ok(seconds > 0 && seconds <= 86_400, `Retry-After ${seconds}s is within the day`);
});

t.test('provider_saturated when the agency is at maxConcurrent', async (t2) => {
  const first = call('/registry/v1/hold');
  await new Promise((r) => setTimeout(r, 150));
  const second = await call('/registry/v1/hold');
  isProblem(t2, second, 503, 'provider_saturated');
  t2.equal(second.headers['retry-after'], '1');
  t2.equal((await first).status, 200, 'the call in flight completes');
});

t.test('request_invalid with the failing paths, and body_too_large', async (t2) => {
  const bad = await call('/education/v1/literacy', { method: 'POST', body: JSON.stringify({ nationalId: '12' }) });
  isProblem(t2, bad, 400, 'request_invalid');
  t2.same(bad.json['errors'], [{ path: '/nationalId', message: 'must match pattern "^[0-9]{10}$"' }]);
  isProblem(t2, await call('/education/v1/literacy', { method: 'POST', body: '{"nationalId":' }), 400, 'request_invalid');
  isProblem(t2, await call('/education/v1/literacy', { method: 'POST', body: JSON.stringify({ nationalId: '0012345678', pad: 'x'.repeat(100) }) }), 413, 'body_too_large');
  const good = await call('/education/v1/literacy', { method: 'POST', body: JSON.stringify({ nationalId: '0012345678' }) });
  t2.equal(good.status, 200, 'a valid body reaches the agency');
  t2.equal(good.json['body'], JSON.stringify({ nationalId: '0012345678' }));
});

t.test('upstream_timeout', async (t2) => {
  isProblem(t2, await call('/registry/v1/slow'), 504, 'upstream_timeout');
});

t.test('upstream_unavailable, then provider_unavailable once the breaker opens', async (t2) => {
  isProblem(t2, await call('/registry/v1/down'), 502, 'upstream_unavailable');
  isProblem(t2, await call('/registry/v1/down'), 502, 'upstream_unavailable');
  const open = await call('/registry/v1/down');
  isProblem(t2, open, 503, 'provider_unavailable');
  t2.match(open.headers['retry-after'], /^[1-9][0-9]*$/);
});

t.test('the agency\'s own errors pass through unchanged, without x-gozargah-error', async (t2) => {
  const res = await request(`${dp.url}/registry/v1/persons/0012345678`, { headers: { 'x-api-key': KEY } });
  await res.body.dump();
  t2.equal(res.statusCode, 200);
  t2.equal(res.headers['x-gozargah-error'], undefined);
});

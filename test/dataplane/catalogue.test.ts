// What a client can learn from the bus itself: its catalogue and the OpenAPI document of exactly
// its grants, on a real dataplane process, for two clients with different grants; and how a
// route being retired answers: Deprecation and Sunset headers, then 410 after its sunset.
import t from 'tap';
import { request } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';
import { openApiProblems } from '../helpers/openapi.ts';

const ALPHA = 'demo-only-alpha-key-0123456789';
const BETA = 'demo-only-beta-key-0123456789ab';
const SINCE = '2026-09-01T00:00:00Z';
const SUNSET = '2099-01-01T00:00:00Z';
const PERSON_SCHEMA = { type: 'object', properties: { name: { type: 'string' } } };
const BOOKLET_SCHEMA = { type: 'object', required: ['number'], properties: { number: { type: 'string', pattern: '^[0-9]{10}$' } }, additionalProperties: false };

const agency = await startAgency();
t.teardown(() => agency.close());
const dir = manifestDir([
  provider('agency', agency.url),
  route('person', 'agency', '/registry/v2/persons/{nationalId}', {
    upstreamPath: '/echo/{nationalId}',
    summary: 'The person behind a national ID',
    description: 'Name and birth date of the holder.',
    tags: ['identity'],
    responseSchema: PERSON_SCHEMA,
    privacy: { sensitive: true },
  }),
  route('legacy', 'agency', '/registry/v1/persons/{nationalId}', {
    upstreamPath: '/echo/{nationalId}',
    summary: 'Version 1, being retired',
    deprecated: true,
    deprecatedSince: SINCE,
    sunset: SUNSET,
    deprecationLink: 'https://registry.example/v1-retirement',
  }),
  route('retired', 'agency', '/registry/v0/persons/{nationalId}', {
    upstreamPath: '/echo/{nationalId}',
    deprecated: true,
    deprecatedSince: '2025-01-01T00:00:00Z',
    sunset: '2026-01-01T00:00:00Z',
  }),
  route('booklet', 'agency', '/insurance/v1/booklet-checks', { methods: ['POST'], upstreamPath: '/echo/booklet', requestSchema: BOOKLET_SCHEMA, tags: ['insurance'] }),
  route('undated', 'agency', '/insurance/v0/booklets/{number}', { upstreamPath: '/echo/{number}', deprecated: true }),
  keySecret('alpha-keys', { k: ALPHA }),
  binding('alpha', 'alpha', [{ namespace: 'gov', name: 'person' }, { namespace: 'gov', name: 'legacy' }, { namespace: 'gov', name: 'retired' }]),
  keySecret('beta-keys', { k: BETA }),
  binding('beta', 'beta', [{ namespace: 'gov', name: 'booklet' }, { namespace: 'gov', name: 'undated' }], {
    rateLimit: { requestsPerSecond: 100, burst: 200 },
    quota: { requests: 1000, period: 'Month' },
    validity: { notAfter: '2099-12-31T23:59:59Z' },
  }),
]);
const dp = await startDataplane(['--manifests', dir]);
t.teardown(() => dp.stop());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function get(path: string, key: string | null, init: { method?: 'GET' | 'HEAD' | 'POST'; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (key !== null) headers['x-api-key'] = key;
  const res = await request(`${dp.url}${path}`, { method: init.method ?? 'GET', headers, body: init.body });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

/** The audit record of one request, once it is written (records go out in batches). */
async function recordOf(requestId: string): Promise<Record<string, unknown> | undefined> {
  await waitFor(() => dp.audit().some((r) => r['requestId'] === requestId), 10_000, () => `no audit record of ${requestId}`);
  return dp.audit().find((r) => r['requestId'] === requestId);
}

const json = (a: Answer): Record<string, unknown> => JSON.parse(a.body) as Record<string, unknown>;
const pathsOf = (doc: Record<string, unknown>): string[] => Object.keys(doc['paths'] as object).sort();

t.test('each client\'s catalogue lists exactly its grants, without a route past its sunset', async (t2) => {
  const alpha = await get('/.well-known/gozargah/catalogue', ALPHA);
  t2.equal(alpha.status, 200, alpha.body);
  t2.match(alpha.headers['content-type'], /application\/json/);
  const a = json(alpha);
  t2.same(a['client'], { id: 'alpha', name: 'alpha' });
  t2.same((a['inquiries'] as { route: string }[]).map((i) => i.route), ['gov/legacy', 'gov/person'], 'retired is past its sunset: not offered');
  t2.match((a['inquiries'] as unknown[])[1], {
    route: 'gov/person',
    path: '/registry/v2/persons/{nationalId}',
    methods: ['GET'],
    summary: 'The person behind a national ID',
    tags: ['identity'],
    deprecated: false,
  });
  t2.match((a['inquiries'] as unknown[])[0], { route: 'gov/legacy', deprecated: true, deprecatedSince: SINCE, sunset: SUNSET, deprecationLink: 'https://registry.example/v1-retirement' });
  t2.same(a['usage'], null, 'alpha has no quota');

  const beta = json(await get('/.well-known/gozargah/catalogue', BETA));
  t2.same((beta['inquiries'] as { route: string }[]).map((i) => i.route), ['gov/undated', 'gov/booklet'], 'in path order');
  t2.match((beta['bindings'] as unknown[])[0], {
    id: 'clients/beta',
    rateLimit: { requestsPerSecond: 100, burst: 200 },
    quota: { requests: 1000, period: 'Month' },
    notAfter: '2099-12-31T23:59:59Z',
    credentials: ['apiKey'],
  });
  t2.match(beta['usage'], { used: 0, limit: 1000, period: /^\d{4}-\d{2}$/ });
});

t.test('the catalogue shows the quota used', async (t2) => {
  const call = await get('/insurance/v1/booklet-checks', BETA, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"number":"0123456789"}' });
  t2.equal(call.status, 200, call.body);
  const beta = json(await get('/.well-known/gozargah/catalogue', BETA));
  t2.match(beta['usage'], { used: 1, limit: 1000 });
});

t.test('each client\'s OpenAPI document has exactly its inquiries and is valid OpenAPI 3.1', async (t2) => {
  const alphaAnswer = await get('/.well-known/gozargah/openapi.json', ALPHA);
  t2.equal(alphaAnswer.status, 200, alphaAnswer.body);
  const alpha = json(alphaAnswer);
  t2.same(await openApiProblems(alpha), [], 'alpha\'s document validates');
  t2.equal(alpha['openapi'], '3.1.0');
  t2.same(pathsOf(alpha), ['/registry/v1/persons/{nationalId}', '/registry/v2/persons/{nationalId}']);
  const person = (alpha['paths'] as Record<string, Record<string, Record<string, unknown>>>)['/registry/v2/persons/{nationalId}']?.['get'] as Record<string, unknown>;
  t2.match(person, { summary: 'The person behind a national ID', tags: ['identity'], parameters: [{ name: 'nationalId', in: 'path', required: true, 'x-gozargah-sensitive': true }] });
  const responses = person['responses'] as Record<string, Record<string, unknown>>;
  t2.same((responses['200']?.['content'] as Record<string, { schema: unknown }>)['application/json']?.schema, PERSON_SCHEMA, 'the response schema is the route\'s');
  t2.ok((responses['401']?.['x-gozargah-codes'] as string[]).includes('credentials_invalid'), 'the error contract names the codes');
  t2.equal(responses['429'], undefined, 'alpha has no rate limit or quota: no 429');
  t2.equal(responses['410'], undefined, 'no sunset on this route: no 410');
  const legacy = (alpha['paths'] as Record<string, Record<string, Record<string, unknown>>>)['/registry/v1/persons/{nationalId}']?.['get'] as Record<string, unknown>;
  t2.equal(legacy['deprecated'], true);
  t2.same((legacy['responses'] as Record<string, Record<string, unknown>>)['410']?.['x-gozargah-codes'], ['route_sunset']);
  t2.same(alpha['security'], [{ apiKey: [] }]);
  t2.match((alpha['components'] as Record<string, unknown>)['securitySchemes'], { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } });

  const beta = json(await get('/.well-known/gozargah/openapi.json', BETA));
  t2.same(await openApiProblems(beta), [], 'beta\'s document validates');
  t2.same(pathsOf(beta), ['/insurance/v0/booklets/{number}', '/insurance/v1/booklet-checks']);
  const booklet = (beta['paths'] as Record<string, Record<string, Record<string, unknown>>>)['/insurance/v1/booklet-checks']?.['post'] as Record<string, unknown>;
  t2.same(booklet['requestBody'], { required: true, content: { 'application/json': { schema: BOOKLET_SCHEMA } } });
  const codes = Object.values(booklet['responses'] as Record<string, { 'x-gozargah-codes'?: string[] }>).flatMap((r) => r['x-gozargah-codes'] ?? []);
  for (const code of ['request_invalid', 'rate_limited', 'quota_exhausted', 'binding_expired', 'body_too_large']) t2.ok(codes.includes(code), `beta's booklet operation lists ${code}`);
});

t.test('the validator used above does refuse a broken document', async (t2) => {
  const broken = json(await get('/.well-known/gozargah/openapi.json', ALPHA));
  broken['paths'] = { 'no-leading-slash': { get: { responses: 'none' } } };
  t2.not((await openApiProblems(broken)).length, 0);
});

t.test('the documents need credentials, take GET and HEAD, and revalidate by ETag', async (t2) => {
  const anonymous = await get('/.well-known/gozargah/openapi.json', null);
  t2.equal(anonymous.status, 401);
  t2.equal(json(anonymous)['code'], 'credentials_missing');
  const wrongKey = await get('/.well-known/gozargah/catalogue', 'demo-only-unknown-key-000000000');
  t2.equal(json(wrongKey)['code'], 'credentials_invalid');
  const post = await get('/.well-known/gozargah/catalogue', ALPHA, { method: 'POST' });
  t2.equal(post.status, 405);
  t2.equal(post.headers['allow'], 'GET, HEAD');
  const head = await get('/.well-known/gozargah/openapi.json', ALPHA, { method: 'HEAD' });
  t2.equal(head.status, 200);
  t2.equal(head.body, '');
  const etag = head.headers['etag'] as string;
  t2.match(etag, /^"[A-Za-z0-9_-]+"$/);
  const again = await get('/.well-known/gozargah/openapi.json', ALPHA, { headers: { 'if-none-match': etag } });
  t2.equal(again.status, 304);
  const other = await get('/.well-known/gozargah/openapi.json', BETA, { method: 'HEAD' });
  t2.not(other.headers['etag'], etag, 'another client\'s document differs');
  const keyInQuery = await get(`/.well-known/gozargah/catalogue?api_key=${ALPHA}`, ALPHA);
  t2.equal(json(keyInQuery)['code'], 'credentials_in_query');
});

t.test('a document fetch is recorded as served by the bus itself', async (t2) => {
  await get('/.well-known/gozargah/catalogue', BETA, { headers: { 'x-request-id': 'catalogue-fetch-0001' } });
  t2.match(await recordOf('catalogue-fetch-0001'), { client: 'beta', binding: 'clients/beta', provider: 'gozargah', route: 'gozargah/catalogue', status: 200, code: 'ok' });
});

t.test('a deprecated route says so on every answer: Deprecation, Sunset and Link', async (t2) => {
  const ok = await get('/registry/v1/persons/0012345678', ALPHA);
  t2.equal(ok.status, 200, ok.body);
  t2.equal(ok.headers['deprecation'], `@${Date.parse(SINCE) / 1000}`, 'RFC 9745: a structured-field date');
  t2.equal(ok.headers['sunset'], new Date(SUNSET).toUTCString(), 'RFC 8594: an HTTP date');
  t2.equal(ok.headers['link'], '<https://registry.example/v1-retirement>; rel="deprecation"');
  const refused = await get('/registry/v1/persons/0012345678', BETA);
  t2.equal(refused.status, 403, 'beta is not granted the route');
  t2.equal(refused.headers['deprecation'], `@${Date.parse(SINCE) / 1000}`, 'a refusal on the route says it too');
  const current = await get('/registry/v2/persons/0012345678', ALPHA);
  t2.equal(current.status, 200);
  t2.equal(current.headers['deprecation'], undefined, 'a route that is not deprecated says nothing');
  t2.equal(current.headers['sunset'], undefined);
});

t.test('a deprecated route without deprecatedSince dates its deprecation when the replica first served it', async (t2) => {
  const first = await get('/insurance/v0/booklets/0012345678', BETA);
  t2.equal(first.status, 200, first.body);
  const date = Number(String(first.headers['deprecation']).slice(1));
  t2.ok(Number.isInteger(date) && Math.abs(date * 1000 - Date.now()) < 120_000, `a date near now: ${String(first.headers['deprecation'])}`);
  t2.equal(first.headers['sunset'], undefined, 'no sunset given');
  const second = await get('/insurance/v0/booklets/0012345678', BETA);
  t2.equal(second.headers['deprecation'], first.headers['deprecation'], 'the same date on every answer');
});

t.test('after its sunset a route answers 410 route_sunset and never reaches the agency', async (t2) => {
  const before = agency.seen.length;
  const gone = await get('/registry/v0/persons/0012345678', ALPHA, { headers: { 'x-request-id': 'after-sunset-0001' } });
  t2.equal(gone.status, 410, gone.body);
  const problem = json(gone);
  t2.equal(problem['code'], 'route_sunset');
  t2.match(problem['detail'], /gov\/retired was retired on 2026-01-01T00:00:00\.000Z/);
  t2.equal(gone.headers['x-gozargah-error'], 'route_sunset');
  t2.equal(gone.headers['sunset'], new Date('2026-01-01T00:00:00Z').toUTCString());
  t2.equal(agency.seen.length, before, 'the agency saw nothing');
  t2.match(await recordOf('after-sunset-0001'), { route: 'gov/retired', status: 410, code: 'route_sunset' });
  const anonymous = await get('/registry/v0/persons/0012345678', null);
  t2.equal(anonymous.status, 401, 'an unknown caller learns nothing about the route');
});

// What reaches the agency and what comes back: identity headers set by the bus and never by the
// client, the upstream path built from the template, hop-by-hop headers, privacy rules,
// retries for idempotent methods only, TLS and mTLS toward the agency, and client aborts.
import t from 'tap';
import { connect } from 'node:net';
import { Agent, Pool, request } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, waitFor, auditCount } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';
import { makePki } from '../helpers/pki.ts';

const KEY = 'test-key-forwarding-0123456789';
const pki = makePki();
const agency = await startAgency();
const tlsAgency = await startAgency({ tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca.cert, requestCert: true } });
t.teardown(() => Promise.all([agency.close(), tlsAgency.close()]));
const agencyClient = pki.client('dataplane', 'Gozargah');

const dir = manifestDir([
  provider('agency', `${agency.url}/base`, { timeout: '2s' }),
  provider('flaky', agency.url, { circuitBreaker: { consecutiveFailures: 100 } }),
  provider('secure', tlsAgency.url, { upstream: { url: tlsAgency.url, tls: { caSecretRef: { name: 'agency-ca' }, clientCertificateSecretRef: { name: 'agency-client' } } } }),
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'agency-ca', namespace: 'gov' }, stringData: { 'ca.crt': pki.ca.cert } },
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'agency-client', namespace: 'gov' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': agencyClient.cert, 'tls.key': agencyClient.key } },
  route('person', 'agency', '/registry/v1/persons/{nationalId}/cards/{card}', { upstreamPath: '/people/{card}/of/{nationalId}', privacy: { neverLog: ['nationalId'] } }),
  route('private', 'agency', '/registry/v1/private', { upstreamPath: '/private', privacy: { dropResponseFields: ['person.fatherName', 'items.phone'] } }),
  route('notjson', 'agency', '/registry/v1/notjson', { upstreamPath: '/notjson', privacy: { dropResponseFields: ['x'] } }),
  route('retry-get', 'flaky', '/flaky/v1/get', { upstreamPath: '/status/503', retries: { attempts: 2 } }),
  route('retry-post', 'flaky', '/flaky/v1/post', { methods: ['POST'], upstreamPath: '/status/503', retries: { attempts: 2 } }),
  route('agency-error', 'flaky', '/flaky/v1/missing', { upstreamPath: '/status/404' }),
  route('slow', 'agency', '/registry/v1/slow', { upstreamPath: '/slow/3000' }),
  route('secure', 'secure', '/secure/v1/echo'),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'snapp', [{ namespace: 'gov', selector: {} }]),
]);
const dp = await startDataplane(['--manifests', dir]);
t.teardown(() => dp.stop());
const client = new Pool(dp.url);
t.teardown(() => client.close());

async function get(path: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await client.request({ path, method: method as 'GET', headers: { 'x-api-key': KEY, ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

t.test('identity headers come from the bus; the client\'s are stripped', async (t2) => {
  agency.seen.length = 0;
  const res = await get('/registry/v1/persons/0012345678/cards/7', {
    'x-gozargah-client': 'ministry-of-defence',
    'x-gozargah-binding': 'spoofed/binding',
    'X-Gozargah-Anything': 'spoofed',
    'x-request-id': 'trace-abc.123',
  });
  t2.equal(res.status, 200);
  const seen = agency.seen[0];
  t2.ok(seen, 'the agency saw the call');
  t2.equal(seen?.url, '/base/people/7/of/0012345678', 'upstream path from the template parameters, under the provider base path');
  t2.equal(seen?.headers['x-gozargah-client'], 'snapp');
  t2.equal(seen?.headers['x-gozargah-binding'], 'clients/client');
  t2.equal(seen?.headers['x-gozargah-route'], 'gov/person');
  t2.equal(seen?.headers['x-gozargah-anything'], undefined);
  t2.equal(seen?.headers['x-api-key'], undefined, 'the client\'s key never reaches the agency');
  t2.equal(seen?.headers['x-request-id'], 'trace-abc.123', 'a well-formed request id is kept');
  t2.equal(res.headers['x-request-id'], 'trace-abc.123', 'and echoed');
  t2.equal(res.headers['x-agency'], 'yes', 'the agency\'s headers pass through');
});

t.test('headers named by Connection are hop-by-hop (raw HTTP/1.1 over a socket)', async (t2) => {
  agency.seen.length = 0;
  const { port } = new URL(dp.url);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(
        `GET /registry/v1/persons/1/cards/2 HTTP/1.1\r\nhost: x\r\nx-api-key: ${KEY}\r\nconnection: close, x-hop\r\nx-hop: must not pass\r\nkeep-alive: timeout=5\r\n\r\n`,
      );
    });
    let data = '';
    socket.on('data', (c) => (data += c.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
  t2.match(answer, /^HTTP\/1\.1 200/);
  t2.equal(agency.seen[0]?.headers['x-hop'], undefined, 'x-hop was named by Connection');
  t2.equal(agency.seen[0]?.headers['keep-alive'], undefined, 'keep-alive is hop-by-hop');
});

t.test('a malformed request id is replaced', async (t2) => {
  const res = await get('/registry/v1/persons/0012345678/cards/7', { 'x-request-id': 'bad id with spaces' });
  t2.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/);
});

t.test('privacy: listed response fields are dropped, never-to-log parameters are redacted in the audit', async (t2) => {
  const res = await get('/registry/v1/private');
  t2.same(res.json(), { person: { name: 'Sara', birthDate: '1990-01-01' }, items: [{ id: 1 }] });
  t2.equal(Number(res.headers['content-length']), Buffer.byteLength(res.text), 'content-length matches the filtered body');
  const notJson = await get('/registry/v1/notjson');
  t2.equal(notJson.status, 502);
  t2.equal(notJson.headers['x-gozargah-error'], 'response_invalid', 'an answer that cannot be filtered is withheld');
  const records = await auditCount(dp, 1);
  const person = records.find((r) => r['route'] === 'gov/person');
  t2.same(person?.['params'], { nationalId: '[redacted]', card: '7' });
  t2.notMatch(JSON.stringify(records), /0012345678/, 'the national id is in no audit record');
});

t.test('retries: idempotent methods only, and the agency\'s final answer passes through', async (t2) => {
  agency.seen.length = 0;
  const got = await get('/flaky/v1/get');
  t2.equal(got.status, 503, 'the agency\'s 503 passes through after retries');
  t2.equal(got.headers['x-gozargah-error'], undefined, 'it is the agency\'s answer, not the bus\'s');
  t2.equal(agency.seen.filter((s) => s.url === '/status/503' && s.method === 'GET').length, 3, 'GET tried 1 + 2 times');
  agency.seen.length = 0;
  const posted = await get('/flaky/v1/post', { 'content-type': 'application/json' }, 'POST');
  t2.equal(posted.status, 503);
  t2.equal(agency.seen.filter((s) => s.method === 'POST').length, 1, 'POST is never retried');
  const missing = await get('/flaky/v1/missing');
  t2.equal(missing.status, 404);
  t2.same(missing.json(), { agencySays: 'status 404' }, 'agency errors pass through unchanged');
});

t.test('TLS toward the agency with its CA and our client certificate (mTLS)', async (t2) => {
  tlsAgency.seen.length = 0;
  const res = await get('/secure/v1/echo');
  t2.equal(res.status, 200, res.text);
  t2.equal(tlsAgency.seen.length, 1);
});

t.test('a client that goes away aborts the upstream call', async (t2) => {
  const agent = new Agent();
  const controller = new AbortController();
  const pending = request(`${dp.url}/registry/v1/slow`, { headers: { 'x-api-key': KEY }, signal: controller.signal, dispatcher: agent }).catch((e: Error) => e);
  await waitFor(() => agency.seen.some((s) => s.url === '/base/slow/3000'), 5000, () => 'the call never reached the agency');
  controller.abort();
  t2.type(await pending, Error);
  const records = await auditCount(dp, 1);
  await waitFor(() => dp.audit().some((r) => r['route'] === 'gov/slow'), 5000, () => 'no audit record for the aborted call');
  const aborted = dp.audit().find((r) => r['route'] === 'gov/slow');
  t2.equal(aborted?.['code'], 'client_gone', 'the aborted transaction is still counted');
  t2.ok(records.length > 0);
  await agent.close();
});

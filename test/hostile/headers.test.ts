// Hostile clients and misbehaving agencies never get a wrong answer out of the bus, through the
// headers, the query string or an ambiguous body. The real dataplane runs as a process between
// raw sockets (exact bytes) and real agencies on loopback:
//   1. a credential in the query string, whatever its spelling, encoding or separator, is refused
//      with 400 credentials_in_query and never reaches the agency; innocent queries pass intact;
//   2. an agency's own x-gozargah-* headers never reach the client, streamed or privacy-filtered:
//      x-gozargah-error only ever means that the bus refused;
//   3. X-Forwarded-For, Forwarded, X-Real-IP and their kin from the client never reach the agency,
//      which receives X-Forwarded-For set by the bus to the connection's address, and never open
//      a binding restricted by sourceCIDRs to a client calling from elsewhere;
//   4. a JSON body with a key twice (exactly, through escapes, or in another case), nested too
//      deep or not UTF-8 is refused with 400 request_invalid before the schema, and never reaches
//      the agency; a valid body reaches it byte for byte;
//   5. a header that carries the client's API key under another name (Authorization: Bearer,
//      Basic, a cookie) never reaches the agency.
// Every test ends by checking that the dataplane still serves.
import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'hostile-headers-main-key-0123456789';
const ELSEWHERE_KEY = 'hostile-headers-elsewhere-key-0123456789';
const LOOPBACK_KEY = 'hostile-headers-loopback-key-0123456789';

const agency = await startAgency();
t.teardown(() => agency.close());

/**
 * An agency that speaks in the bus's name: every answer carries x-gozargah-* headers (the error
 * header among them, in several spellings). The status and body come from the path: /lie/STATUS.
 */
const liar = createServer((req: IncomingMessage, res: ServerResponse) => {
  req.resume();
  req.on('end', () => {
    const status = Number(/\/lie\/(\d{3})/.exec(req.url ?? '')?.[1] ?? 200);
    const body = JSON.stringify({ agencySays: status, person: { name: 'Sara', fatherName: 'Ali' } });
    res.writeHead(status, [
      ['content-type', 'application/json'],
      ['content-length', String(Buffer.byteLength(body))],
      ['x-gozargah-error', 'rate_limited'],
      ['X-Gozargah-Error', 'quota_exhausted'],
      ['x-gozargah-client', 'ministry-of-defence'],
      ['X-GOZARGAH-ROUTE', 'gov/secret'],
      ['x-gozargah-request-hash', 'forged-by-the-agency'],
      ['retry-after', '7'],
      ['x-agency', 'liar'],
    ].flat());
    res.end(body);
  });
});
await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => liar.close(() => resolve())));
const liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;

const SCHEMA = {
  type: 'object',
  required: ['nationalId'],
  properties: { nationalId: { type: 'string', pattern: '^[0-9]{10}$' }, person: { type: 'object' }, items: { type: 'array' } },
};

const dir = manifestDir([
  provider('agency', agency.url),
  provider('liar', liarUrl, { circuitBreaker: { consecutiveFailures: 1000 } }),
  route('echo', 'agency', '/echo/v1/{id}', { upstreamPath: '/echo/{id}' }),
  route('inquiry', 'agency', '/echo/v1/inquiries', { methods: ['POST'], upstreamPath: '/inquiries', requestSchema: SCHEMA }),
  route('lie', 'liar', '/liar/v1/{status}', { upstreamPath: '/lie/{status}' }),
  route('lie-filtered', 'liar', '/liar/v1/filtered/{status}', { upstreamPath: '/lie/{status}', privacy: { dropResponseFields: ['person.fatherName'] } }),
  keySecret('main-keys', { k: KEY }),
  keySecret('elsewhere-keys', { k: ELSEWHERE_KEY }),
  keySecret('loopback-keys', { k: LOOPBACK_KEY }),
  binding('main', 'snapp', [{ namespace: 'gov', selector: {} }]),
  binding('elsewhere', 'bank', [{ namespace: 'gov', selector: {} }], { sourceCIDRs: ['203.0.113.0/24', '2001:db8::/32'] }),
  binding('loopback', 'post', [{ namespace: 'gov', selector: {} }], { sourceCIDRs: ['127.0.0.0/8'] }),
]);
const dp = await startDataplane(['--manifests', dir]);
t.teardown(() => dp.stop());
const { port } = new URL(dp.url);

interface RawAnswer {
  status: number;
  /** every header line as sent, names lower-cased, in order */
  headers: [string, string][];
  body: string;
}

/** One request as exact bytes on its own connection; the answer as the bytes came back. */
function raw(request: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = (split < 0 ? text : text.slice(0, split)).split('\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
      const headers = head.slice(1).map((line): [string, string] => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      });
      resolve({ status, headers, body: split < 0 ? '' : text.slice(split + 4) });
    });
  });
}

const header = (a: RawAnswer, name: string): string | undefined => a.headers.find(([n]) => n === name)?.[1];
/** The x-gozargah-* headers of an answer, but the request hash, which the bus adds to the agency's answers (checked apart). */
const busHeaders = (a: RawAnswer): string[] => a.headers.filter(([n]) => n.startsWith('x-gozargah-') && n !== 'x-gozargah-request-hash').map(([n, v]) => `${n}: ${v}`);
/** SHA-256 of no bytes: the request hash of a GET. */
const EMPTY_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function get(target: string, key = KEY, extra = ''): Promise<RawAnswer> {
  return raw(`GET ${target} HTTP/1.1\r\nhost: bus\r\nx-api-key: ${key}\r\n${extra}connection: close\r\n\r\n`);
}

function post(body: string | Buffer, key = KEY): Promise<RawAnswer> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const head = `POST /echo/v1/inquiries HTTP/1.1\r\nhost: bus\r\nx-api-key: ${key}\r\ncontent-type: application/json\r\ncontent-length: ${bytes.length}\r\nconnection: close\r\n\r\n`;
  return raw(Buffer.concat([Buffer.from(head, 'latin1'), bytes]));
}

/** The bus's own refusal: status, code in body and header, problem+json. */
function refusedBy(t2: Test, a: RawAnswer, status: number, code: string, what: string): void {
  t2.equal(a.status, status, `${what}: status ${status}`);
  t2.equal(header(a, 'x-gozargah-error'), code, `${what}: x-gozargah-error ${code}`);
  t2.match(header(a, 'content-type'), /^application\/problem\+json/, `${what}: problem+json`);
  t2.equal((JSON.parse(a.body) as { code?: string }).code, code, `${what}: code in the body`);
}

/** After every test: the dataplane still answers a plain call, and the agency gets it. */
async function stillServing(t2: Test): Promise<void> {
  const before = agency.seen.length;
  const a = await get('/echo/v1/alive?check=1');
  t2.equal(a.status, 200, 'the dataplane still serves');
  t2.equal(agency.seen.length, before + 1, 'and the agency received the call');
  t2.equal(agency.seen.at(-1)?.url, '/echo/alive?check=1');
}

/** Query strings that carry a credential: each spelling was seen from a client. */
const CREDENTIAL_QUERIES = [
  '?api_key=x',
  '?API_KEY=x',
  '?Api-Key=x',
  '?apikey=x',
  '?x-api-key=x',
  '?X_Api_Key=x',
  '?access_token=x',
  '?ACCESS-TOKEN=x',
  '?token=x',
  '?auth_token=x',
  '?client_secret=x',
  '?password=x',
  '?a=1&api_key=x',
  '?a=1;api_key=x',
  '?a=1;;&&x-api-key=x',
  '?api%2Dkey=x',
  '?api%5Fkey=x',
  '?API%5fKEY=x',
  '?%61%70%69%5f%6b%65%79=x',
  '?api%255Fkey=x',
  '?api%25255Fkey=x',
  '?api+key=x',
  '?api.key=x',
  '?api%20key=x',
  '?my_api_key=x',
  '?user[api_key]=x',
  '?apikey',
  '?a=1%26api_key%3Dx',
  '?%EF%BD%81%EF%BD%90%EF%BD%89%EF%BD%8B%EF%BD%85%EF%BD%99=x',
  '?api_%E2%84%AAey=x',
  `?k=${KEY}`,
  `?${KEY}`,
  `?q=${encodeURIComponent(encodeURIComponent(KEY))}`,
  `?a=1;note=${ELSEWHERE_KEY}`,
  '?x=1#api_key=x',
  `?x=1#${KEY}`,
];

const INNOCENT_QUERIES = ['?asOf=2026-01-01&lang=fa', '?q=api', '?monkey=1', '?key=postal', '?tokens_left=3', '?q=100%25', '?q=%E2%9C%93', '?next=%2Fp%2F1', '?%zz=1', '?a=b=c'];

t.test('1. a credential in the query string is refused, whatever its spelling, and never forwarded', async (t2) => {
  const before = agency.seen.length;
  for (const query of CREDENTIAL_QUERIES) refusedBy(t2, await get(`/echo/v1/1${query}`), 400, 'credentials_in_query', query);
  // Without a key in the header too: the query is looked at before anything else.
  refusedBy(t2, await raw(`GET /echo/v1/1?api%5Fkey=${KEY} HTTP/1.1\r\nhost: bus\r\nconnection: close\r\n\r\n`), 400, 'credentials_in_query', 'no header key');
  t2.equal(agency.seen.length, before, 'the agency received none of them');
  await stillServing(t2);
});

t.test('1b. queries that carry no credential reach the agency exactly as sent', async (t2) => {
  for (const query of INNOCENT_QUERIES) {
    const a = await get(`/echo/v1/7${query}`);
    t2.equal(a.status, 200, query);
    t2.equal(agency.seen.at(-1)?.url, `/echo/7${query}`, `${query}: forwarded unchanged`);
  }
  await stillServing(t2);
});

t.test('2. an agency\'s x-gozargah-* headers never reach the client: x-gozargah-error means the bus refused', async (t2) => {
  for (const status of ['200', '404', '429', '500', '503']) {
    for (const path of [`/liar/v1/${status}`, `/liar/v1/filtered/${status}`]) {
      const a = await get(path);
      t2.equal(a.status, Number(status), `${path}: the agency's status passes`);
      t2.same(busHeaders(a), [], `${path}: no x-gozargah-* header from the agency`);
      t2.equal(header(a, 'x-gozargah-request-hash'), EMPTY_HASH, `${path}: the request hash is the bus's, not the agency's forgery`);
      t2.equal(header(a, 'x-agency'), 'liar', `${path}: the agency's other headers pass`);
      t2.equal(header(a, 'retry-after'), '7', `${path}: its Retry-After too (it is the agency's to give)`);
      const body = JSON.parse(a.body) as { agencySays: number; person: Record<string, string> };
      t2.equal(body.agencySays, Number(status), `${path}: the agency's body`);
      if (path.includes('filtered')) t2.same(body.person, { name: 'Sara' }, `${path}: privacy rules still applied`);
    }
  }
  // The bus's own refusal still carries the header: the header keeps its one meaning.
  refusedBy(t2, await get('/liar/v1/200', 'not-a-known-key-at-all-0123'), 401, 'credentials_invalid', 'the bus refusing');
  await stillServing(t2);
});

/** Every way a client may claim another origin, each pointing inside the restricted binding's CIDRs. */
const ORIGIN_CLAIMS = [
  'x-forwarded-for: 203.0.113.7\r\n',
  'X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\n',
  'x-forwarded-for: 127.0.0.1\r\nx-forwarded-for: 203.0.113.7\r\n',
  'Forwarded: for=203.0.113.7;proto=https;by=203.0.113.1\r\n',
  'forwarded: for="[2001:db8::7]"\r\n',
  'X-Real-IP: 203.0.113.7\r\n',
  'True-Client-IP: 203.0.113.7\r\n',
  'X-Client-IP: 203.0.113.7\r\n',
  'X-Cluster-Client-IP: 203.0.113.7\r\n',
  'CF-Connecting-IP: 203.0.113.7\r\n',
  'X-Original-Forwarded-For: 203.0.113.7\r\n',
  'x-forwarded-for: 203.0.113.7\r\nforwarded: for=203.0.113.7\r\nx-real-ip: 203.0.113.7\r\nx-forwarded-host: registry.example\r\nx-forwarded-proto: https\r\n',
];

const ORIGIN_HEADERS = ['forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'true-client-ip', 'x-client-ip', 'x-cluster-client-ip', 'cf-connecting-ip', 'x-original-forwarded-for'];

t.test('3. spoofed origin headers never open a binding restricted to another CIDR', async (t2) => {
  const before = agency.seen.length;
  for (const claim of ORIGIN_CLAIMS) {
    const a = await get('/echo/v1/1', ELSEWHERE_KEY, claim);
    refusedBy(t2, a, 403, 'source_not_allowed', claim.trim());
    t2.match(JSON.parse(a.body).detail, /127\.0\.0\.1/, 'the refusal names the address the bus saw');
  }
  t2.equal(agency.seen.length, before, 'the agency received none of them');
  await stillServing(t2);
});

t.test('3b. the agency receives X-Forwarded-For set by the bus alone, and no client origin claim', async (t2) => {
  for (const claim of ORIGIN_CLAIMS) {
    for (const key of [KEY, LOOPBACK_KEY]) {
      const a = await get('/echo/v1/1', key, claim);
      t2.equal(a.status, 200, `${claim.trim()}: served (a binding without CIDRs, and one allowing loopback)`);
      const seen = agency.seen.at(-1);
      t2.equal(seen?.headers['x-forwarded-for'], '127.0.0.1', `${claim.trim()}: X-Forwarded-For is the connection's address`);
      for (const name of ORIGIN_HEADERS) t2.equal(seen?.headers[name], undefined, `${claim.trim()}: no ${name}`);
    }
  }
  await stillServing(t2);
});

/** Bodies that mean one thing to JSON.parse and may mean another to the agency's parser. */
const AMBIGUOUS_BODIES: [string, string][] = [
  ['{"nationalId":"0012345678","nationalId":"9999999999"}', '/nationalId'],
  ['{"nationalId":"0012345678","nationalId":"evil"}', '/nationalId'],
  ['{"nationalId":"0012345678","national\\u0049d":"9999999999"}', '/nationalId'],
  ['{"nationalId":"0012345678","NATIONALID":"9999999999"}', '/NATIONALID'],
  ['{"nationalId":"0012345678","NationalId":"9999999999"}', '/NationalId'],
  ['{"nationalId":"0012345678","person":{"id":"1","id":"2"}}', '/person/id'],
  ['{"nationalId":"0012345678","items":[{"a":1},{"a":1,"a":2}]}', '/items/1/a'],
  ['{"nationalId":"0012345678","nationalId":"0012345678"}', '/nationalId'],
];

t.test('4. a JSON body with a key twice is refused before the schema, and never forwarded', async (t2) => {
  const before = agency.seen.length;
  for (const [body, path] of AMBIGUOUS_BODIES) {
    const a = await post(body);
    refusedBy(t2, a, 400, 'request_invalid', body);
    const problem = JSON.parse(a.body) as { errors: { path: string; message: string }[]; detail: string };
    t2.equal(problem.errors[0]?.path, path, `${body}: the error names the key's path`);
    t2.match(problem.detail, /appears twice|differ only in case/, `${body}: the detail says why`);
  }
  const deep = await post(`{"nationalId":"0012345678","person":${'['.repeat(5000)}${']'.repeat(5000)}}`);
  refusedBy(t2, deep, 400, 'request_invalid', '5,000 levels of nesting');
  t2.match(JSON.parse(deep.body).detail, /deeper than 64 levels/);
  const latin1 = Buffer.concat([Buffer.from('{"nationalId":"001234567', 'utf8'), Buffer.from([0xff]), Buffer.from('"}', 'utf8')]);
  refusedBy(t2, await post(latin1), 400, 'request_invalid', 'a body that is not UTF-8');
  refusedBy(t2, await post('\ufeff{"nationalId":"0012345678"}'), 400, 'request_invalid', 'a byte order mark');
  t2.equal(agency.seen.length, before, 'the agency received none of them');

  const valid = '{"nationalId":"0012345678","person":{"id":"1","ID2":"x"},"items":[{"a":1},{"a":2}]}';
  const ok = await post(valid);
  t2.equal(ok.status, 200, 'a valid body is served');
  t2.equal(agency.seen.at(-1)?.body, valid, 'and reaches the agency byte for byte');
  refusedBy(t2, await post('{"nationalId":"evil"}'), 400, 'request_invalid', 'the schema still applies');
  await stillServing(t2);
});

t.test('5. the client\'s API key never reaches the agency under another header', async (t2) => {
  const carriers = [
    `Authorization: Bearer ${KEY}\r\n`,
    `authorization: Basic ${Buffer.from(`snapp:${KEY}`).toString('base64')}\r\n`,
    `Cookie: session=1; k=${KEY}\r\n`,
    `X-Client-Key: ${KEY}\r\n`,
    `X-Note: ${encodeURIComponent(`key=${KEY}`)}\r\n`,
  ];
  for (const carrier of carriers) {
    const a = await get('/echo/v1/1', KEY, `${carrier}x-trace: kept\r\n`);
    t2.equal(a.status, 200, `${carrier.trim()}: served`);
    const seen = agency.seen.at(-1);
    t2.notOk(JSON.stringify(seen?.headers).includes(KEY), `${carrier.trim()}: the key is in no header the agency received`);
    t2.equal(seen?.headers['x-trace'], 'kept', 'the other headers pass');
  }
  const own = await get('/echo/v1/1', KEY, 'Authorization: Bearer the-agency-own-token\r\n');
  t2.equal(own.status, 200);
  t2.equal(agency.seen.at(-1)?.headers['authorization'], 'Bearer the-agency-own-token', 'an Authorization header without the key passes');
  await stillServing(t2);
});

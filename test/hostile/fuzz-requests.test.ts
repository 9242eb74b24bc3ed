// Property test: thousands of generated hostile requests against one real dataplane, over real
// loopback sockets (undici for well-formed HTTP, raw TCP for what no HTTP client would send),
// with a misbehaving agency behind some routes. Properties:
//   1. the dataplane process never exits while it is being fuzzed;
//   2. no request hangs: every one ends within BOUND_MS (answer, or the connection closed);
//   3. every answer is either the agency's own (it carries the agency's marker header and no
//      x-gozargah-* header) or the bus's application/problem+json whose `code` is in the catalog
//      of dataplane/errors.ts, equals the x-gozargah-error header, has the catalog's status and
//      echoes x-request-id; the only other answers allowed are Node's own bare 400/431/417 to a
//      protocol violation, and only for the raw cases that commit one;
//   4. a route with privacy rules never lets a dropped value reach the client;
//   5. after SIGTERM the process exits 0 and the audit file holds one record per request whose
//      full head reached the dataplane (exactly: every request id we sent is there once, and the
//      total equals what we sent minus the heads Node's HTTP parser refused before the pipeline);
//   6. /metrics request totals equal the audit records, code by code;
//   7. the agencies never see an API key or a client-supplied x-gozargah-* header;
//   8. afterwards the dataplane still answers a normal request with 200.
// Seeded: FUZZ_SEED=<n> replays a run, FUZZ_COUNT=<n> changes the number of requests (default 3000).
import t from 'tap';
import { connect } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Pool, type Dispatcher } from 'undici';
import { Errors } from '../../dataplane/errors.ts';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, waitFor } from '../helpers/dataplane.ts';
import { PRIVATE_VALUES, startHostileAgency } from '../helpers/hostile-agency.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const COUNT = Number(process.env.FUZZ_COUNT ?? 3000);
const CONCURRENCY = 24;
/** No single request may take longer than this (the slowest designed answer is a 50 MB body). */
const BOUND_MS = 20_000;
/** The whole fuzz phase must end within this. */
const RUN_BOUND_MS = 180_000;
t.comment(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED}), ${COUNT} requests`);

// ---------------------------------------------------------------- seeded PRNG (mulberry32)
class Rand {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let z = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }
}
const rand = new Rand(SEED);

// ---------------------------------------------------------------- the bus under test
const KEYS = {
  main: 'fuzz-key-main-0123456789abcdef',
  rl: 'fuzz-key-ratelimited-0123456789',
  quota: 'fuzz-key-quota-0123456789abcdef',
  cidr: 'fuzz-key-cidr-0123456789abcdefg',
  expired: 'fuzz-key-expired-0123456789abcd',
};
const CLIENT_IDS = ['fz-main', 'fz-rl', 'fz-quota', 'fz-cidr', 'fz-expired'];
const PRIVACY = { dropResponseFields: ['person.fatherName', 'person.birthDate', 'items.phone'], neverLog: ['nationalId'] };
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
const SCHEMA = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', maxLength: 64 }, age: { type: 'integer', minimum: 0 }, tags: { type: 'array', items: { type: 'string' }, maxItems: 8 } },
};

interface RouteDef {
  name: string;
  template: string;
  methods: string[];
  /** privacy rules apply: no PRIVATE_VALUES may reach the client */
  privacy: boolean;
  /** generates a value for each template parameter */
  param?: (name: string) => string;
}
const ROUTES: RouteDef[] = [
  { name: 'echo', template: '/fz/v1/echo/{id}', methods: ALL_METHODS, privacy: false },
  { name: 'person', template: '/fz/v1/persons/{nationalId}/records/{year}', methods: ['GET'], privacy: true },
  { name: 'submit', template: '/fz/v1/submit', methods: ['POST', 'PUT'], privacy: false },
  { name: 'hang', template: '/fz/v1/hang', methods: ['GET', 'POST'], privacy: false },
  { name: 'hang-headers', template: '/fz/v1/hang-headers', methods: ['GET'], privacy: false },
  { name: 'close-mid', template: '/fz/v1/close-mid', methods: ['GET'], privacy: false },
  { name: 'bad-chunk', template: '/fz/v1/bad-chunk', methods: ['GET'], privacy: false },
  { name: 'huge', template: '/fz/v1/huge/{bytes}', methods: ['GET'], privacy: false, param: () => rand.pick(['1000', '65536', '100000', '1000000', '2500000']) },
  { name: 'trickle', template: '/fz/v1/trickle', methods: ['GET'], privacy: false },
  {
    name: 'ctype',
    template: '/fz/v1/ctype/{kind}',
    methods: ['GET'],
    privacy: true,
    param: () => rand.pick(['none', 'two', 'text', 'problem', 'charset', 'vnd', 'json', encodeURIComponent('text/html; charset=utf-8')]),
  },
  { name: 'gzip', template: '/fz/v1/gzip', methods: ['GET'], privacy: true },
  { name: 'gzip-always', template: '/fz/v1/gzip-always', methods: ['GET'], privacy: true },
  { name: 'spoof', template: '/fz/v1/spoof', methods: ['GET'], privacy: false },
  { name: 'status', template: '/fz/v1/status/{code}', methods: ['GET', 'POST'], privacy: false, param: () => String(rand.pick([200, 201, 204, 301, 400, 404, 418, 500, 502, 503, 504])) },
  { name: 'guarded', template: '/fz/v1/guarded', methods: ['GET'], privacy: false },
  { name: 'secret', template: '/fz/v1/secret', methods: ['GET'], privacy: false },
];
const PRIVACY_PREFIXES = ROUTES.filter((r) => r.privacy).map((r) => r.template.split('{')[0] as string);
/** The path is served by a route with privacy rules (judged on the path actually sent). */
const privacyPath = (path: string): boolean => PRIVACY_PREFIXES.some((prefix) => path.startsWith(prefix));

const agency = await startAgency();
t.teardown(() => agency.close());
const hostile = await startHostileAgency();
t.teardown(() => hostile.close());

const granted = (names: string[]): Record<string, unknown>[] => names.map((name) => ({ namespace: 'gov', name }));
const dir = manifestDir([
  provider('normal', agency.url, { timeout: '5s' }),
  provider('hostile', hostile.url, { timeout: '2s', circuitBreaker: { consecutiveFailures: 5, openFor: '1s' } }),
  provider('hostile-json', hostile.url, { timeout: '2s', circuitBreaker: { consecutiveFailures: 1000 } }),
  provider('guarded', hostile.url, { timeout: '5s', protection: { maxConcurrent: 2, maxRequestsPerSecond: 20 } }),
  route('echo', 'normal', '/fz/v1/echo/{id}', { methods: ALL_METHODS, upstreamPath: '/echo/{id}' }),
  route('person', 'hostile-json', '/fz/v1/persons/{nationalId}/records/{year}', { upstreamPath: '/private/{nationalId}/{year}', privacy: PRIVACY }),
  route('submit', 'normal', '/fz/v1/submit', { methods: ['POST', 'PUT'], upstreamPath: '/echo/submit', maxBodyBytes: 4096, requestSchema: SCHEMA }),
  route('hang', 'hostile', '/fz/v1/hang', { methods: ['GET', 'POST'], upstreamPath: '/hang', timeout: '300ms', retries: { attempts: 1, perTryTimeout: '150ms' } }),
  route('hang-headers', 'hostile', '/fz/v1/hang-headers', { upstreamPath: '/hang-after-headers', timeout: '300ms' }),
  route('close-mid', 'hostile', '/fz/v1/close-mid', { upstreamPath: '/close-mid-body' }),
  route('bad-chunk', 'hostile', '/fz/v1/bad-chunk', { upstreamPath: '/bad-chunking' }),
  route('huge', 'hostile', '/fz/v1/huge/{bytes}', { upstreamPath: '/huge/{bytes}', timeout: '15s' }),
  route('trickle', 'hostile', '/fz/v1/trickle', { upstreamPath: '/trickle/15', timeout: '5s' }),
  route('ctype', 'hostile-json', '/fz/v1/ctype/{kind}', { upstreamPath: '/content-type/{kind}', privacy: PRIVACY }),
  route('gzip', 'hostile-json', '/fz/v1/gzip', { upstreamPath: '/gzip', privacy: PRIVACY }),
  route('gzip-always', 'hostile-json', '/fz/v1/gzip-always', { upstreamPath: '/gzip-always', privacy: PRIVACY }),
  route('spoof', 'hostile-json', '/fz/v1/spoof', { upstreamPath: '/gozargah-headers' }),
  route('status', 'hostile-json', '/fz/v1/status/{code}', { methods: ['GET', 'POST'], upstreamPath: '/status/{code}', retries: { attempts: 1 } }),
  route('guarded', 'guarded', '/fz/v1/guarded', { upstreamPath: '/trickle/5' }),
  route('secret', 'normal', '/fz/v1/secret', { upstreamPath: '/echo/secret' }),
  keySecret('main-keys', { k: KEYS.main }),
  binding('main', 'fz-main', granted(ROUTES.map((r) => r.name).filter((n) => n !== 'secret'))),
  keySecret('rl-keys', { k: KEYS.rl }),
  binding('rl', 'fz-rl', granted(['echo', 'submit']), { rateLimit: { requestsPerSecond: 5, burst: 10 } }),
  keySecret('quota-keys', { k: KEYS.quota }),
  binding('quota', 'fz-quota', granted(['echo']), { quota: { requests: 30, period: 'Day' } }),
  keySecret('cidr-keys', { k: KEYS.cidr }),
  binding('cidr', 'fz-cidr', granted(['echo']), { sourceCIDRs: ['10.0.0.0/8'] }),
  keySecret('expired-keys', { k: KEYS.expired }),
  binding('expired', 'fz-expired', granted(['echo']), { validity: { notBefore: '2020-01-01T00:00:00Z', notAfter: '2021-01-01T00:00:00Z' } }),
]);
const dp = await startDataplane(['--manifests', dir]);
let exitedEarly: string | null = null;
let stopping = false;
dp.process.once('exit', (code, signal) => {
  if (!stopping) exitedEarly = `exit code ${code}, signal ${signal}`;
});
t.teardown(() => dp.stop('SIGKILL'));
const dpUrl = new URL(dp.url);
const DP_PORT = Number(dpUrl.port);

// ---------------------------------------------------------------- generation
const CATALOG = new Map<string, number>(Object.values(Errors).map((k) => [k.code, k.status]));

interface Plan {
  n: number;
  kind: string;
  transport: 'undici' | 'raw';
  /** the well-formed, unique x-request-id sent; null when none or a malformed one was sent */
  id: string | null;
  method: string;
  path: string;
  /** undici: flat [name, value, ...]; duplicates allowed */
  headers: string[];
  body: Buffer | null;
  /** raw: the exact bytes to write */
  raw: Buffer | null;
  /** what reaches the pipeline: a full head (one audit record), nothing (partial head), or a head Node refuses before the pipeline */
  expect: 'record' | 'no-head' | 'parser-refuses';
  /** raw: how the client leaves */
  leave: 'wait' | 'after-head' | 'after-delay';
  /** raw: Node may answer with its own bare 400 (a protocol violation in the body) */
  nodeMayAnswer: boolean;
  /** raw, leave after-delay: how long the client stays after its head */
  delayMs: number;
  /** answers may be cut short: the agency behind it misbehaves mid-body */
  mayTruncate: boolean;
  privacy: boolean;
}

const idOf = (n: number): string => `fz-${SEED}-${n}`;

function paramValue(): string {
  if (rand.chance(0.4)) return String(rand.int(0, 9_999_999_999));
  return rand.pick<() => string>([
    () => String(rand.int(0, 9_999_999_999)),
    () => String(rand.int(0, 9_999_999_999)),
    () => 'abc-XYZ_09.~',
    () => encodeURIComponent('سلام-دنیا'),
    () => encodeURIComponent('😀🚀'),
    () => '%00',
    () => 'a%2Fb',
    () => 'a%2fb',
    () => '%2e%2e',
    () => '..',
    () => '.',
    () => '',
    () => 'a%5Cb',
    () => '%C3%28',
    () => '%FF%FE',
    () => '%E0%80%AF',
    () => '%ED%A0%80',
    () => '%zz',
    () => '%',
    () => '%4',
    () => 'x'.repeat(rand.int(1000, 6000)),
    () => encodeURIComponent("'; DROP TABLE persons;--"),
    () => '%20%20',
    () => '+',
    () => 'a;b=c',
    () => 'a@b:c',
    () => '%25',
    () => '%252F',
    () => encodeURIComponent('\u0001\u007f'),
    () => '${jndi:x}',
    () => '*',
  ])();
}

function queryString(): string {
  if (rand.chance(0.6)) return '';
  return rand.pick<() => string>([
    () => `?a=${rand.int(0, 99)}&b=${encodeURIComponent('ب')}`,
    () => `?api_key=${KEYS.main}`,
    () => `?x=1&ApiKey=abc`,
    () => `?access_token=zzz`,
    () => `?q=${'y'.repeat(rand.int(100, 3000))}`,
    () => '?',
    () => '?&&&=&',
    () => '?a=%zz',
    () => '?a[]=1&a[]=2&__proto__[x]=1',
    () => `?redirect=${encodeURIComponent('http://evil.example/')}`,
  ])();
}

/** A path on a route's template, or a deliberately broken one. */
function pathFor(r: RouteDef): string {
  let path = r.template.replace(/\{([A-Za-z]+)\}/g, (_m, name: string) => (r.param !== undefined && rand.chance(0.85) ? r.param(name) : paramValue()));
  if (rand.chance(0.12)) {
    path = rand.pick<(p: string) => string>([
      (p) => `${p}/`,
      (p) => p.replace('/v1/', '//v1/'),
      (p) => p.replace('/v1/', '/v1/./'),
      (p) => p.replace('/v1/', '/v1/x/../'),
      (p) => p.toUpperCase(),
      (p) => `${p}/extra`,
      (p) => p.replace('/fz/', '/fz%2Fv1/'),
      (p) => p.replace('/v1/', '/v1\\'),
      () => '/',
      () => '/fz/v1',
      () => `/${'a/'.repeat(rand.int(50, 400))}`,
      () => '/fz/v1/secret/../echo/1',
      () => `/nope/${paramValue()}`,
    ])(path);
  }
  return path + queryString();
}

function jsonValue(depth: number): unknown {
  const k = rand.int(0, depth > 3 ? 3 : 6);
  if (k === 0) return rand.int(-1e6, 1e6);
  if (k === 1) return rand.pick(['', 'x', 'سلام', '\u0000', '\ud800', 'a"b\\c', 'z'.repeat(rand.int(0, 300))]);
  if (k === 2) return rand.pick([true, false, null, 1e308, -0, 0.1]);
  if (k === 3) return null;
  if (k === 4) return Array.from({ length: rand.int(0, 5) }, () => jsonValue(depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = rand.int(0, 5); i > 0; i--) o[rand.pick(['name', 'age', 'tags', '__proto__', 'constructor', 'x', 'نام', ''])] = jsonValue(depth + 1);
  return o;
}

function bodyFor(): Buffer | null {
  return rand.pick<() => Buffer | null>([
    () => null,
    () => Buffer.from(JSON.stringify({ name: 'Sara', age: rand.int(0, 120) })),
    () => Buffer.from(JSON.stringify({ name: 'Sara', tags: ['a', 'b'] })),
    () => Buffer.from(JSON.stringify(jsonValue(0))),
    () => Buffer.from(JSON.stringify(jsonValue(0))),
    () => Buffer.from('{"name": "a", "name": "b"}'),
    () => Buffer.from('{"name": '),
    () => Buffer.from('not json at all'),
    () => Buffer.from(''),
    () => Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`),
    () => Buffer.from(`{"name":"x","pad":"${'p'.repeat(rand.int(3000, 100_000))}"}`),
    () => Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]),
    () => Buffer.from(JSON.stringify({ name: 'n'.repeat(100) })),
  ])();
}

/** [x-api-key values] for a request: none, one, or two (duplicate header). */
function keysFor(): string[] {
  return rand.pick<() => string[]>([
    () => [KEYS.main],
    () => [KEYS.main],
    () => [KEYS.main],
    () => [KEYS.main],
    () => [KEYS.rl],
    () => [KEYS.quota],
    () => [KEYS.cidr],
    () => [KEYS.expired],
    () => ['wrong-key-' + String(rand.int(1e9, 9e9))],
    () => [],
    () => [''],
    () => [KEYS.main, 'wrong-key-0123456789abcdef'],
    () => [KEYS.main.toUpperCase()],
    () => [` ${KEYS.main} `],
  ])();
}

function pickRoute(): RouteDef {
  // Weighted toward the well-behaved echo route, with every hostile route in the mix.
  if (rand.chance(0.35)) return ROUTES[0] as RouteDef;
  return rand.pick(ROUTES);
}

const UNDICI_METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'PURGE', 'TRACE', 'REPORT', 'MKCOL', 'SEARCH'];

/** A request any HTTP client could send (undici), with hostile content. */
function undiciPlan(n: number): Plan {
  const r = pickRoute();
  const method = rand.chance(0.75) ? rand.pick(r.methods) : rand.pick(UNDICI_METHODS);
  let path = pathFor(r);
  if (!/^[\x21-\x7e]+$/.test(path)) path = '/fz/v1/echo/ascii-only';
  const headers: string[] = [];
  let id: string | null = idOf(n);
  const idStyle = rand.int(0, 19);
  if (idStyle === 0) id = null;
  else if (idStyle === 1) {
    headers.push('x-request-id', 'bad id with spaces');
    id = null;
  } else if (idStyle === 2) {
    headers.push('x-request-id', 'i'.repeat(200));
    id = null;
  } else if (idStyle === 3) {
    headers.push('x-request-id', idOf(n), 'x-request-id', `${idOf(n)}-twin`);
    id = null;
  } else headers.push('x-request-id', id);
  for (const key of keysFor()) headers.push('x-api-key', key);
  if (rand.chance(0.15)) headers.push('x-gozargah-client', 'evil-client', 'x-gozargah-binding', 'evil-binding', 'x-gozargah-route', 'gov/secret', 'x-gozargah-error', 'ok');
  if (rand.chance(0.05)) headers.push('X-Gozargah-Client', 'evil-client');
  if (rand.chance(0.1)) headers.push('x-forwarded-for', rand.pick(['10.1.2.3', '1.1.1.1, 10.0.0.1', 'not-an-ip', '::1']));
  if (rand.chance(0.1)) headers.push('x-huge', 'h'.repeat(rand.int(1000, 9000)));
  if (rand.chance(0.05)) for (let i = 0; i < 60; i++) headers.push(`x-many-${i}`, String(i));
  if (rand.chance(0.1)) headers.push('accept-encoding', rand.pick(['gzip', 'gzip, deflate, br', 'identity', '*']));
  if (rand.chance(0.05)) headers.push('connection', rand.pick(['close', 'keep-alive']));
  if (rand.chance(0.03)) headers.push('te', 'trailers');
  let body: Buffer | null = method === 'GET' || method === 'HEAD' ? (rand.chance(0.05) ? bodyFor() : null) : bodyFor();
  if (method === 'HEAD' || method === 'TRACE') body = null;
  if (body !== null) headers.push('content-type', rand.pick(['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/json, text/plain']));
  if (method === 'GET' && r.name === 'huge' && n % 997 === 0) path = '/fz/v1/huge/50000000';
  return {
    n,
    kind: `undici:${r.name}`,
    transport: 'undici',
    id,
    method,
    path,
    headers,
    body,
    raw: null,
    expect: 'record',
    leave: 'wait',
    delayMs: 0,
    nodeMayAnswer: false,
    mayTruncate: ['hang-headers', 'close-mid', 'bad-chunk', 'huge', 'trickle'].includes(r.name),
    privacy: privacyPath(path),
  };
}

interface RawCase {
  name: string;
  expect: 'record' | 'parser-refuses';
  nodeMayAnswer?: boolean;
  /** the request bytes; `id` goes in x-request-id, `path` is a valid route path */
  build: (id: string, path: string, key: string) => Buffer;
}

const crlf = (lines: string[], body = ''): Buffer => Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
const std = (id: string, key: string): string[] => ['Host: bus.example', `x-request-id: ${id}`, `x-api-key: ${key}`, 'Connection: close'];
const PAYLOAD = '{"name":"raw"}';

/** What only a raw socket can send. Node's parser refuses some heads before the pipeline (calibrated on Node 24's llhttp). */
const RAW_CASES: RawCase[] = [
  { name: 'plain', expect: 'record', build: (id, p, k) => crlf([`GET ${p} HTTP/1.1`, ...std(id, k)]) },
  { name: 'http10', expect: 'record', build: (id, p, k) => crlf([`GET ${p} HTTP/1.0`, `x-request-id: ${id}`, `x-api-key: ${k}`]) },
  { name: 'absolute-form', expect: 'record', build: (id, p, k) => crlf([`GET http://evil.example${p} HTTP/1.1`, ...std(id, k)]) },
  { name: 'asterisk', expect: 'record', build: (id, _p, k) => crlf(['OPTIONS * HTTP/1.1', ...std(id, k)]) },
  { name: 'propfind', expect: 'record', build: (id, p, k) => crlf([`PROPFIND ${p} HTTP/1.1`, ...std(id, k)]) },
  { name: 'm-search', expect: 'record', build: (id, p, k) => crlf([`M-SEARCH ${p} HTTP/1.1`, ...std(id, k)]) },
  { name: 'expect-100', expect: 'record', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Expect: 100-continue', 'Content-Type: application/json', `Content-Length: ${PAYLOAD.length}`], PAYLOAD) },
  { name: 'upgrade', expect: 'record', build: (id, p, k) => crlf([`GET ${p} HTTP/1.1`, 'Host: bus.example', `x-request-id: ${id}`, `x-api-key: ${k}`, 'Connection: upgrade, close', 'Upgrade: websocket']) },
  { name: 'te-uppercase', expect: 'record', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Transfer-Encoding: CHUNKED'], `${PAYLOAD.length.toString(16)}\r\n${PAYLOAD}\r\n0\r\n\r\n`) },
  { name: 'chunk-ext-trailer', expect: 'record', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Transfer-Encoding: chunked'], `${PAYLOAD.length.toString(16)};ext=1\r\n${PAYLOAD}\r\n0\r\nX-Trailer: 1\r\n\r\n`) },
  { name: 'chunked-http10', expect: 'record', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.0', `x-request-id: ${id}`, `x-api-key: ${k}`, 'Transfer-Encoding: chunked'], `${PAYLOAD.length.toString(16)}\r\n${PAYLOAD}\r\n0\r\n\r\n`) },
  { name: 'te-gzip-only', expect: 'record', nodeMayAnswer: true, build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Transfer-Encoding: gzip'], PAYLOAD) },
  { name: 'bad-chunk-size', expect: 'record', nodeMayAnswer: true, build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Transfer-Encoding: chunked'], `zz\r\n${PAYLOAD}\r\n0\r\n\r\n`) },
  { name: 'cl-over', expect: 'record', nodeMayAnswer: true, build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Content-Length: 4'], `${PAYLOAD}\x00\x01GARBAGE`) },
  { name: 'cl-under', expect: 'record', nodeMayAnswer: true, build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Content-Length: 400'], PAYLOAD) },
  { name: 'te-and-cl', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Transfer-Encoding: chunked', 'Content-Length: 5'], '0\r\n\r\n') },
  { name: 'two-cl', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Content-Length: 14', 'Content-Length: 15'], PAYLOAD) },
  { name: 'two-cl-equal', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Content-Length: 14', 'Content-Length: 14'], PAYLOAD) },
  { name: 'te-chunked-gzip', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Transfer-Encoding: chunked, gzip'], '0\r\n\r\n') },
  { name: 'te-twice', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], '0\r\n\r\n') },
  { name: 'te-space-colon', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Transfer-Encoding : chunked'], '0\r\n\r\n') },
  { name: 'cl-negative', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Content-Length: -1']) },
  { name: 'cl-plus', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Content-Length: +14'], PAYLOAD) },
  { name: 'cl-overflow', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Content-Length: 99999999999999999999999']) },
  { name: 'obs-fold', expect: 'parser-refuses', build: (id, p, k) => crlf([`GET ${p} HTTP/1.1`, ...std(id, k), 'X-Folded: a', ' b']) },
  { name: 'bare-lf', expect: 'parser-refuses', build: (id, p, k) => Buffer.from(`GET ${p} HTTP/1.1\nHost: x\nx-request-id: ${id}\nx-api-key: ${k}\nConnection: close\n\n`) },
  { name: 'http12', expect: 'parser-refuses', build: (id, p, k) => crlf([`GET ${p} HTTP/1.2`, ...std(id, k)]) },
  { name: 'no-host', expect: 'parser-refuses', build: (id, p, k) => crlf([`GET ${p} HTTP/1.1`, `x-request-id: ${id}`, `x-api-key: ${k}`, 'Connection: close']) },
  { name: 'nul-in-header', expect: 'parser-refuses', build: (id, p, k) => crlf([`GET ${p} HTTP/1.1`, ...std(id, k), 'X-A: b\x00c']) },
  { name: 'raw-utf8-path', expect: 'parser-refuses', build: (id, _p, k) => Buffer.concat([Buffer.from('GET /fz/v1/echo/'), Buffer.from('سلام'), crlf([' HTTP/1.1', ...std(id, k)])]) },
  { name: 'raw-bad-utf8-path', expect: 'parser-refuses', build: (id, _p, k) => Buffer.concat([Buffer.from('GET /fz/v1/echo/'), Buffer.from([0xc3, 0x28, 0xff]), crlf([' HTTP/1.1', ...std(id, k)])]) },
  { name: 'space-in-path', expect: 'parser-refuses', build: (id, _p, k) => crlf(['GET /fz/v1/echo/a b HTTP/1.1', ...std(id, k)]) },
  { name: 'ctl-in-path', expect: 'parser-refuses', build: (id, _p, k) => crlf(['GET /fz/v1/echo/a\x01b HTTP/1.1', ...std(id, k)]) },
  { name: 'unknown-method', expect: 'parser-refuses', build: (id, p, k) => crlf([`FOO ${p} HTTP/1.1`, ...std(id, k)]) },
  { name: 'lowercase-method', expect: 'parser-refuses', build: (id, p, k) => crlf([`get ${p} HTTP/1.1`, ...std(id, k)]) },
  { name: 'connect', expect: 'parser-refuses', build: (id, _p, k) => crlf(['CONNECT evil.example:443 HTTP/1.1', ...std(id, k)]) },
  { name: 'expect-other', expect: 'parser-refuses', build: (id, _p, k) => crlf(['POST /fz/v1/submit HTTP/1.1', ...std(id, k), 'Expect: bogus', `Content-Length: ${PAYLOAD.length}`], PAYLOAD) },
  { name: 'header-too-large', expect: 'parser-refuses', build: (id, p, k) => crlf([`GET ${p} HTTP/1.1`, ...std(id, k), `X-Big: ${'b'.repeat(17_000)}`]) },
];

/** A request over a raw socket: a protocol trick, or a client that leaves early. */
function rawPlan(n: number): Plan {
  const id = idOf(n);
  const key = rand.chance(0.8) ? KEYS.main : rand.pick(['wrong-key-0123456789abcdef', KEYS.rl]);
  const r = rand.chance(0.5) ? (ROUTES[0] as RouteDef) : rand.pick(ROUTES.filter((x) => x.name !== 'huge'));
  let path = pathFor(r);
  if (!/^[\x21-\x7e]+$/.test(path)) path = '/fz/v1/echo/1';
  const leaveRoll = rand.int(0, 9);
  const base = { n, transport: 'raw' as const, id, method: 'GET', path, headers: [] as string[], body: null, delayMs: 0, mayTruncate: true, privacy: privacyPath(path) };
  if (leaveRoll === 0) {
    // a partial head, then gone: the pipeline never sees it
    const full = crlf([`GET ${path} HTTP/1.1`, ...std(id, key)]);
    return { ...base, kind: 'raw:partial-head', raw: full.subarray(0, rand.int(1, full.length - 3)), expect: 'no-head', leave: 'after-head', nodeMayAnswer: false };
  }
  if (leaveRoll === 1) {
    // a full head then a half-close at once
    return { ...base, kind: `raw:leave-after-head:${r.name}`, raw: crlf([`GET ${path} HTTP/1.1`, ...std(id, key)]), expect: 'record', leave: 'after-head', nodeMayAnswer: false };
  }
  if (leaveRoll === 2) {
    // a full head, then gone mid-answer (a hang, a huge body, a trickle, ...)
    const target = rand.pick(['/fz/v1/hang', '/fz/v1/huge/50000000', '/fz/v1/trickle', '/fz/v1/guarded', '/fz/v1/hang-headers', path]);
    return { ...base, kind: 'raw:leave-after-delay', path: target, delayMs: rand.int(0, 400), raw: crlf([`GET ${target} HTTP/1.1`, ...std(id, key)]), expect: 'record', leave: 'after-delay', nodeMayAnswer: false };
  }
  const c = rand.pick(RAW_CASES);
  const raw = c.build(id, path, key);
  const method = raw.toString('latin1', 0, 16).split(' ')[0] as string;
  return { ...base, kind: `raw:${c.name}`, raw, expect: c.expect, leave: 'wait', nodeMayAnswer: c.nodeMayAnswer === true, method };
}

// ---------------------------------------------------------------- sending
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** the body ended before its declared end (connection cut) */
  truncated: boolean;
}
type Outcome = { kind: 'answer'; answer: Answer } | { kind: 'closed'; detail: string } | { kind: 'hung' } | { kind: 'left' } | { kind: 'not-sent'; detail: string };

const pool = new Pool(dp.url, { connections: CONCURRENCY, pipelining: 1, headersTimeout: BOUND_MS, bodyTimeout: BOUND_MS });
t.teardown(() => pool.destroy());

async function sendUndici(p: Plan): Promise<Outcome> {
  const signal = AbortSignal.timeout(BOUND_MS);
  let res: Dispatcher.ResponseData;
  try {
    res = await pool.request({ path: p.path, method: p.method as Dispatcher.HttpMethod, headers: p.headers, body: p.body ?? undefined, signal });
  } catch (err) {
    const e = err as { code?: string; name?: string; message: string };
    if (e.code === 'UND_ERR_INVALID_ARG' || e.code === 'UND_ERR_NOT_SUPPORTED') return { kind: 'not-sent', detail: e.message };
    if (e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT') return { kind: 'hung' };
    return { kind: 'closed', detail: `${e.code ?? e.name}: ${e.message}` };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size <= 4 << 20) chunks.push(chunk as Buffer);
    }
  } catch (err) {
    const e = err as { code?: string; name?: string };
    if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'hung' };
    truncated = true;
  }
  return { kind: 'answer', answer: { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), truncated } };
}

/** Parses one HTTP/1.1 response (skipping 1xx); null while incomplete. `closed`: the connection ended. */
function parseRaw(buf: Buffer, headRequest: boolean, closed: boolean): Answer | null {
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) return null;
    const lines = buf.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] as string)?.[1] ?? 0);
    const headers: Record<string, string | string[]> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prev = headers[name];
      headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    at = end + 4;
    if (status >= 100 && status < 200) continue;
    if (headRequest || status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0), truncated: false };
    const te = String(headers['transfer-encoding'] ?? '').toLowerCase();
    if (te.includes('chunked')) {
      const parts: Buffer[] = [];
      let pos = at;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', pos);
        if (lineEnd < 0) return closed ? { status, headers, body: Buffer.concat(parts), truncated: true } : null;
        const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) return { status, headers, body: Buffer.concat(parts), truncated: true };
        if (size === 0) return { status, headers, body: Buffer.concat(parts), truncated: false };
        if (buf.length < lineEnd + 2 + size + 2) return closed ? { status, headers, body: Buffer.concat(parts), truncated: true } : null;
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        pos = lineEnd + 2 + size + 2;
      }
    }
    const length = headers['content-length'];
    if (typeof length === 'string') {
      const n = Number(length);
      if (buf.length - at >= n) return { status, headers, body: buf.subarray(at, at + n), truncated: false };
      return closed ? { status, headers, body: buf.subarray(at), truncated: true } : null;
    }
    return closed ? { status, headers, body: buf.subarray(at), truncated: false } : null;
  }
}

function sendRaw(p: Plan): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(DP_PORT, '127.0.0.1');
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const head = p.method === 'HEAD';
    const finish = (o: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'hung' }), BOUND_MS);
    socket.on('error', () => undefined);
    socket.on('data', (c: Buffer) => {
      if (p.leave !== 'wait') return;
      size += c.length;
      if (size <= 8 << 20) chunks.push(c);
      const a = parseRaw(Buffer.concat(chunks), head, false);
      if (a !== null) finish({ kind: 'answer', answer: a });
    });
    socket.on('close', () => {
      if (p.leave !== 'wait') return finish({ kind: 'left' });
      const all = Buffer.concat(chunks);
      const a = parseRaw(all, head, true);
      finish(a === null ? { kind: 'closed', detail: `connection closed after ${all.length} bytes: ${JSON.stringify(all.subarray(0, 80).toString('latin1'))}` } : { kind: 'answer', answer: a });
    });
    socket.once('connect', () => {
      socket.write(p.raw as Buffer, (err) => {
        if (err) return finish({ kind: 'not-sent', detail: err.message });
        if (p.leave === 'after-head') socket.end();
        else if (p.leave === 'after-delay') setTimeout(() => socket.destroy(), p.delayMs);
        else if (p.kind === 'raw:cl-under') socket.end(); // the rest of the body never comes
      });
    });
  });
}

// ---------------------------------------------------------------- checking one answer
const violations = new Map<string, { count: number; examples: string[] }>();
function violation(cls: string, p: Plan, detail: string): void {
  let v = violations.get(cls);
  if (v === undefined) violations.set(cls, (v = { count: 0, examples: [] }));
  v.count++;
  if (v.examples.length < 3) {
    const hdr = p.transport === 'raw' ? JSON.stringify((p.raw as Buffer).subarray(0, 200).toString('latin1')) : JSON.stringify(p.headers.map((h) => (h.length > 60 ? `${h.slice(0, 60)}...(${h.length})` : h)));
    v.examples.push(`#${p.n} ${p.kind} ${p.method} ${p.path.slice(0, 120)} headers=${hdr} body=${p.body === null ? 'none' : `${p.body.length}B`} -> ${detail}`);
  }
}

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
const isNodeBare = (a: Answer): boolean => a.headers['x-request-id'] === undefined && a.headers['x-gozargah-error'] === undefined && [400, 417, 431].includes(a.status);
const codes = new Map<string, number>();
let refusedByParser = 0;
let notSent = 0;
let truncatedAnswers = 0;
let agencyAnswers = 0;
let busAnswers = 0;

function check(p: Plan, o: Outcome): void {
  if (o.kind === 'hung') return violation('request hung past the bound', p, `no end within ${BOUND_MS} ms`);
  if (o.kind === 'not-sent') {
    notSent++;
    return;
  }
  if (o.kind === 'left') return;
  if (o.kind === 'closed') {
    if (p.expect === 'parser-refuses' && p.kind === 'raw:connect') return void refusedByParser++;
    if (p.nodeMayAnswer) return; // the client broke the protocol mid-body; Node may just close
    return violation('connection closed without an answer', p, o.detail);
  }
  const a = o.answer;
  // The bus adds the request hash to the agency's answers; any other x-gozargah-* header there would be the agency's.
  const gozargahHeaders = Object.keys(a.headers).filter((h) => h.startsWith('x-gozargah-') && h !== 'x-gozargah-request-hash');
  const requestHash = a.headers['x-gozargah-request-hash'];
  if (requestHash !== undefined && !/^[0-9a-f]{64}$/.test(String(requestHash))) violation('x-gozargah-request-hash is not a SHA-256', p, String(requestHash));
  if (p.expect === 'parser-refuses') {
    if (isNodeBare(a)) refusedByParser++;
    else violation('a head Node should refuse reached the pipeline (fix the case table)', p, `status ${a.status} headers ${JSON.stringify(a.headers)}`);
    return;
  }
  if (isNodeBare(a)) {
    if (!p.nodeMayAnswer) violation("Node's bare error answer to a well-formed request", p, `status ${a.status}`);
    return;
  }
  if (a.truncated) {
    truncatedAnswers++;
    if (!p.mayTruncate) violation('answer cut short on a route whose agency answers in full', p, `status ${a.status}, ${a.body.length} bytes`);
  }
  const errorHeader = first(a.headers['x-gozargah-error']);
  const fromAgency = a.headers['x-agency'] === 'yes' || a.headers['x-hostile-agency'] === 'yes';
  if (errorHeader === undefined) {
    if (!fromAgency) violation('answer neither the agency\'s nor a bus problem', p, `status ${a.status} headers ${JSON.stringify(a.headers)}`);
    else agencyAnswers++;
    if (gozargahHeaders.length > 0) violation('agency answer carries x-gozargah-* headers (the agency can impersonate the bus)', p, gozargahHeaders.map((h) => `${h}: ${String(a.headers[h])}`).join(', '));
    codes.set(`agency ${a.status}`, (codes.get(`agency ${a.status}`) ?? 0) + 1);
  } else {
    if (fromAgency) {
      violation('agency answer carries x-gozargah-error (the agency can impersonate the bus)', p, `x-gozargah-error: ${String(a.headers['x-gozargah-error'])}, status ${a.status}`);
      return;
    }
    busAnswers++;
    codes.set(errorHeader, (codes.get(errorHeader) ?? 0) + 1);
    if (!CATALOG.has(errorHeader)) violation('x-gozargah-error not in the catalog', p, errorHeader);
    else if (CATALOG.get(errorHeader) !== a.status) violation('status differs from the catalog', p, `${errorHeader} with ${a.status}`);
    if (errorHeader === Errors.internal.code) violation('internal_error: the dataplane failed', p, a.body.toString('utf8').slice(0, 300));
    if (first(a.headers['content-type']) !== 'application/problem+json') violation('bus answer is not application/problem+json', p, String(a.headers['content-type']));
    if (p.id !== null && a.headers['x-request-id'] !== p.id) violation('x-request-id not echoed', p, String(a.headers['x-request-id']));
    if (p.method !== 'HEAD' && !a.truncated) {
      try {
        const doc = JSON.parse(a.body.toString('utf8')) as { code?: string; status?: number; requestId?: string; type?: string; title?: string; detail?: string };
        if (doc.code !== errorHeader) violation('problem code differs from x-gozargah-error', p, `${doc.code} vs ${errorHeader}`);
        if (doc.status !== a.status || doc.requestId !== a.headers['x-request-id'] || typeof doc.title !== 'string' || typeof doc.detail !== 'string' || typeof doc.type !== 'string') {
          violation('problem document incomplete or inconsistent', p, a.body.toString('utf8').slice(0, 200));
        }
      } catch {
        violation('problem body is not JSON', p, JSON.stringify(a.body.subarray(0, 120).toString('latin1')));
      }
    }
    if (errorHeader === Errors.rateLimited.code && a.headers['retry-after'] === undefined) violation('429 without Retry-After', p, '');
    if (errorHeader === Errors.methodNotAllowed.code && a.headers['allow'] === undefined) violation('405 without Allow', p, '');
  }
  if (p.privacy && errorHeader === undefined) {
    let text = a.body.toString('latin1');
    if (/gzip/i.test(String(a.headers['content-encoding'] ?? ''))) {
      try {
        text = gunzipSync(a.body).toString('utf8');
      } catch {
        // not decodable: the check below reads the raw bytes
      }
    }
    const leaked = PRIVATE_VALUES.filter((v) => text.includes(v));
    if (leaked.length > 0) violation('private field reached the client through a route that drops it', p, `content-type ${JSON.stringify(a.headers['content-type'])}, content-encoding ${String(a.headers['content-encoding'])}: ${leaked.join(', ')}`);
  }
}

// ---------------------------------------------------------------- run
const plans: Plan[] = [];
for (let n = 0; n < COUNT; n++) plans.push(rand.chance(0.22) ? rawPlan(n) : undiciPlan(n));
const outcomes: Outcome[] = new Array(plans.length);

t.test(`${COUNT} generated requests: no exit, no hang, every answer the agency's or a catalogued problem, privacy holds`, async (t2) => {
  const started = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < plans.length && Date.now() - started < RUN_BOUND_MS && exitedEarly === null) {
      const p = plans[next++] as Plan;
      const o = await (p.transport === 'undici' ? sendUndici(p) : sendRaw(p));
      outcomes[p.n] = o;
      check(p, o);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = Date.now() - started;
  const done = outcomes.filter((o) => o !== undefined).length;
  t2.comment(`seed ${SEED}: ${done} requests in ${elapsed} ms; ${agencyAnswers} agency answers, ${busAnswers} bus answers, ${refusedByParser} refused by Node's parser, ${truncatedAnswers} truncated, ${notSent} refused by the client library`);
  t2.comment(`answers by code: ${JSON.stringify(Object.fromEntries([...codes].sort()))}`);
  const kinds = new Map<string, number>();
  for (const p of plans) kinds.set(p.kind.split(':').slice(0, 2).join(':'), (kinds.get(p.kind.split(':').slice(0, 2).join(':')) ?? 0) + 1);
  t2.comment(`requests by kind: ${JSON.stringify(Object.fromEntries([...kinds].sort()))}`);
  t2.equal(exitedEarly, null, 'the dataplane process never exited');
  t2.equal(done, plans.length, `every request ran within ${RUN_BOUND_MS} ms (seed ${SEED})`);
  t2.ok(notSent < plans.length / 100, `the client library refused few generated requests (${notSent})`);
  for (const cls of ['request hung past the bound', 'connection closed without an answer']) {
    const v = violations.get(cls);
    t2.equal(v?.count ?? 0, 0, `${cls} (seed ${SEED})`, { examples: v?.examples ?? [] });
  }
  const others = [...violations].filter(([cls]) => !['request hung past the bound', 'connection closed without an answer'].includes(cls));
  for (const [cls, v] of others) t2.fail(`${cls}: ${v.count} times (seed ${SEED})`, { examples: v.examples });
  t2.equal(others.length, 0, `every answer is the agency's or a catalogued bus problem (seed ${SEED})`);
});

t.test('the agencies never see an API key or a client-supplied x-gozargah-* header', async (t2) => {
  const seen = [...agency.seen.map((s) => s.headers), ...hostile.seen.map((s) => s.headers)];
  t2.ok(seen.length > COUNT / 20, `the agencies saw ${seen.length} requests`);
  const keyed = seen.filter((h) => h['x-api-key'] !== undefined).length;
  t2.equal(keyed, 0, 'no x-api-key reached an agency');
  const spoofed = seen.filter((h) => JSON.stringify(h).includes('evil-') || !CLIENT_IDS.includes(String(h['x-gozargah-client'])));
  t2.equal(spoofed.length, 0, 'every x-gozargah-client the agencies saw is a real client, and no spoofed value got through', { example: spoofed[0] });
});

t.test('the dataplane still answers a normal request; /metrics and the audit log count every request; SIGTERM exits 0', async (t2) => {
  t2.equal(exitedEarly, null, 'still running');
  const okId = `fz-${SEED}-final`;
  const res = await pool.request({ path: '/fz/v1/echo/final', method: 'GET', headers: { 'x-api-key': KEYS.main, 'x-request-id': okId } });
  const text = await res.body.text();
  t2.equal(res.statusCode, 200, 'a normal request still gets 200');
  t2.match(JSON.parse(text), { url: '/echo/final' });

  const expectedIds = new Set(plans.filter((p) => p.expect === 'record' && p.id !== null && outcomes[p.n]?.kind !== 'not-sent').map((p) => p.id as string));
  expectedIds.add(okId);
  const expected = plans.filter((p) => p.expect === 'record' && outcomes[p.n]?.kind !== 'not-sent').length + 1;
  const parserRefused = plans.filter((p) => p.expect === 'parser-refuses').length;
  const partial = plans.filter((p) => p.expect === 'no-head').length;
  t2.comment(`sent ${plans.length + 1}: ${expected} full heads for the pipeline, ${parserRefused} heads Node's parser refuses before the pipeline, ${partial} partial heads, ${notSent} never sent`);

  /** Prometheus text -> sum of gozargah_requests_total by code. */
  const metricTotals = async (): Promise<Map<string, number>> => {
    const body = await (await fetch(`${dp.adminUrl}/metrics`)).text();
    const out = new Map<string, number>();
    for (const line of body.split('\n')) {
      if (!line.startsWith('gozargah_requests_total{')) continue;
      const code = /code="([^"]*)"/.exec(line)?.[1] ?? '';
      out.set(code, (out.get(code) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
    }
    return out;
  };
  const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  // Requests whose client left are recorded once their upstream call has ended: wait for them.
  let metrics = await metricTotals();
  await waitFor(
    async () => sum((metrics = await metricTotals())) >= expected,
    15_000,
    () => 'metrics never reached the expected total',
  ).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 500));
  metrics = await metricTotals();

  stopping = true;
  let stopTimer: NodeJS.Timeout | undefined;
  const exitCode = await Promise.race([dp.stop('SIGTERM'), new Promise<string>((r) => (stopTimer = setTimeout(() => r('still running 40 s after SIGTERM'), 40_000)))]);
  clearTimeout(stopTimer);
  t2.equal(exitCode, 0, 'SIGTERM: exit code 0');
  const records = dp.audit();
  t2.equal(records.length, expected, `the audit log holds one record per full request head (seed ${SEED}): ${expected} expected`);
  t2.equal(sum(metrics), records.length, '/metrics gozargah_requests_total equals the audit record count');
  const byCode = new Map<string, number>();
  for (const r of records) byCode.set(String(r['code']), (byCode.get(String(r['code'])) ?? 0) + 1);
  t2.same(Object.fromEntries([...metrics].sort()), Object.fromEntries([...byCode].sort()), '/metrics and the audit log agree code by code');

  const auditedIds = new Map<string, number>();
  for (const r of records) auditedIds.set(String(r['requestId']), (auditedIds.get(String(r['requestId'])) ?? 0) + 1);
  const missing = [...expectedIds].filter((id) => auditedIds.get(id) !== 1);
  t2.equal(missing.length, 0, `every request id we sent on a full head has exactly one audit record (seed ${SEED})`, {
    missing: missing.slice(0, 10).map((id) => {
      const p = plans.find((x) => x.id === id);
      return p === undefined ? id : `${id} ${p.kind} ${p.method} ${p.path.slice(0, 80)} -> ${JSON.stringify(outcomes[p.n]).slice(0, 200)} (records: ${auditedIds.get(id) ?? 0})`;
    }),
  });
  const refusedIds = plans.filter((p) => p.expect !== 'record').map((p) => p.id as string);
  const recordedRefused = refusedIds.filter((id) => auditedIds.has(id));
  t2.equal(recordedRefused.length, 0, 'no record for a head Node refused or a partial head', { ids: recordedRefused.slice(0, 10) });
  const unknown = [...byCode.keys()].filter((code) => !CATALOG.has(code) && !['ok', 'upstream_error', 'client_gone'].includes(code));
  t2.same(unknown, [], 'every audit code is in the catalog, or ok, upstream_error, client_gone');
  const neverLogged = records.filter((r) => r['route'] === 'gov/person' && r['params'] !== null && (r['params'] as Record<string, string>)['nationalId'] !== '[redacted]');
  t2.equal(neverLogged.length, 0, 'nationalId (neverLog) is redacted in every audit record');
});

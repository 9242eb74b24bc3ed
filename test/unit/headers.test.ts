// The header sets of dataplane/headers.ts: what the client claims about its origin never reaches
// the agency, and what the agency says in the bus's name never reaches the client.
import t from 'tap';
import { bearerToken, downstreamHeaders, plainAddress, upstreamHeaders } from '../../dataplane/headers.ts';

const IDENTITY = { client: 'snapp', binding: 'snapp/b', route: 'gov/r', requestId: 'rid-1', clientAddress: '::ffff:127.0.0.1' };

const pairs = (flat: readonly string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string]);
  return out;
};

t.test('upstream: the client\'s origin claims are dropped and X-Forwarded-For is the bus\'s alone', async (t2) => {
  const raw = [
    'X-Forwarded-For', '203.0.113.9', 'x-forwarded-for', '10.0.0.1', 'Forwarded', 'for=203.0.113.9;proto=https', 'X-Real-IP', '203.0.113.9',
    'X-Forwarded-Host', 'evil.example', 'X-Forwarded-Proto', 'https', 'True-Client-IP', '203.0.113.9', 'X-Client-IP', '203.0.113.9',
    'X-Gozargah-Client', 'ministry', 'x-gozargah-error', 'ok', 'Accept', 'application/json', 'X-Trace', 'abc',
  ];
  const out = pairs(upstreamHeaders(raw, IDENTITY, 0));
  t2.same(out, [
    ['accept', 'application/json'],
    ['x-trace', 'abc'],
    ['x-gozargah-client', 'snapp'],
    ['x-gozargah-binding', 'snapp/b'],
    ['x-gozargah-route', 'gov/r'],
    ['x-request-id', 'rid-1'],
    ['x-forwarded-for', '127.0.0.1'],
  ]);
});

t.test('plainAddress unwraps IPv4-mapped IPv6 only', async (t2) => {
  t2.equal(plainAddress('::ffff:192.0.2.1'), '192.0.2.1');
  t2.equal(plainAddress('192.0.2.1'), '192.0.2.1');
  t2.equal(plainAddress('::1'), '::1');
  t2.equal(plainAddress('::ffff:c000:201'), '::ffff:c000:201', 'hex form left as the socket gave it');
});

t.test('downstream: the agency\'s x-gozargah-* headers and hop-by-hop fields are dropped', async (t2) => {
  const out = downstreamHeaders(
    {
      'content-type': 'application/json',
      'content-length': '2',
      'x-gozargah-error': 'rate_limited',
      'x-gozargah-client': 'someone',
      'X-Gozargah-Error': 'quota_exhausted',
      'x-gozargah': 'no dash after: not the bus\'s prefix, passes',
      connection: 'close, x-hop',
      'x-hop': 'hop',
      'retry-after': '5',
      'set-cookie': ['a=1', 'b=2'],
    },
    false,
  );
  t2.same(out, { 'content-type': 'application/json', 'content-length': '2', 'x-gozargah': 'no dash after: not the bus\'s prefix, passes', 'retry-after': '5', 'set-cookie': ['a=1', 'b=2'] });
  t2.same(downstreamHeaders({ 'content-length': '2', 'x-a': '1' }, true), { 'x-a': '1' }, 'content-length dropped when the body changes');
});

t.test('upstream: a header that carries the client\'s API key under another name is dropped whole', async (t2) => {
  const key = 'client-key-0123456789abcdef';
  const raw = [
    'x-api-key', key,
    'Authorization', `Bearer ${key}`,
    'authorization', `Basic ${Buffer.from(`user:${key}`).toString('base64')}`,
    'Cookie', `session=1; k=${encodeURIComponent(`${key}/`)}`,
    'X-Client-Key', key,
    'X-Trace', 'abc',
    'Authorization', 'Bearer some-other-token-of-the-agency',
  ];
  t2.same(pairs(upstreamHeaders(raw, IDENTITY, 0)).slice(0, 2), [
    ['x-trace', 'abc'],
    ['authorization', 'Bearer some-other-token-of-the-agency'],
  ]);
});

t.test('upstream: a bearer token that authenticated the request is dropped, every copy of it too', async (t2) => {
  const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0YXgtb2ZmaWNlIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
  const raw = ['Authorization', `bearer ${token}`, 'Authorization', 'Bearer a-second-one-never-verified', 'X-Copy', token, 'X-Trace', 'abc'];
  t2.same(pairs(upstreamHeaders(raw, IDENTITY, 0)).slice(0, 1), [['x-trace', 'abc']]);
  t2.equal(bearerToken('Bearer  abc '), 'abc');
  t2.equal(bearerToken('Basic abc'), null);
  t2.equal(bearerToken('Bearer '), null);
});

t.test('upstream: with an API key, a bearer header is the client\'s business with the agency and passes', async (t2) => {
  const raw = ['x-api-key', 'client-key-0123456789abcdef', 'Authorization', 'Bearer token-for-the-agency'];
  t2.same(pairs(upstreamHeaders(raw, IDENTITY, 0)).slice(0, 1), [['authorization', 'Bearer token-for-the-agency']]);
});

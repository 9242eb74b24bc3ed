// The JWT verifier's cache, with real keys, real tokens and jose: a token verified once is
// answered synchronously after, until its time is up (min(exp, 60 s)); the cache is bounded,
// the oldest token forgotten first; an unknown token on an empty bus is refused at once.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT } from 'jose';
import { CACHE_MAX_MS, JwtVerifier } from '../../dataplane/jwt.ts';
import { DEFAULT_JWKS_OPTIONS, JwksRegistry } from '../../dataplane/jwks.ts';
import type { SnapshotBinding } from '../../api/snapshot/index.ts';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...(await exportJWK(publicKey)), kid: 'k' };
const entry = (claimValue: string): SnapshotBinding => ({
  id: `clients/${claimValue}`,
  source: { namespace: 'clients', name: claimValue, generation: 1 },
  clientId: claimValue,
  clientName: claimValue,
  apiKeys: [],
  certFingerprints: [],
  certSubjects: [],
  routes: [],
  rateLimit: null,
  quota: null,
  sourceCIDRs: [],
  notBefore: null,
  notAfter: null,
  jwt: { issuer: 'https://idp', audiences: ['bus'], claim: 'sub', claimValue, algorithms: ['ES256'], keys: [jwk], jwksURL: null },
});
const registry = new JwksRegistry(DEFAULT_JWKS_OPTIONS, () => {});
const nowSeconds = Math.floor(Date.now() / 1000);
const token = (sub: string, exp = nowSeconds + 3600): Promise<string> => new SignJWT({ iss: 'https://idp', aud: 'bus', sub, exp }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).sign(privateKey);

t.test('verified once, then answered synchronously until min(exp, 60 s)', async (t2) => {
  const verifier = new JwtVerifier([{ entry: entry('a'), binding: 'A' }], registry);
  const now = Date.now();
  const bearer = await token('a');
  const first = verifier.verify(bearer, now);
  t2.ok(first instanceof Promise, 'the first time verifies the signature');
  t2.equal(await first, 'A');
  t2.equal(verifier.verify(bearer, now + 1000), 'A', 'the second time is a lookup');
  t2.ok(verifier.verify(bearer, now + CACHE_MAX_MS + 1) instanceof Promise, 'after 60 s, verified again');
  const short = await token('a', Math.floor(now / 1000) + 5);
  t2.equal(await verifier.verify(short, now), 'A');
  t2.ok(verifier.verify(short, now + 40_000) instanceof Promise, 'a token past its exp (and the 30 s skew) is not answered from the cache');
});

t.test('the cache is bounded: the oldest token is forgotten first', async (t2) => {
  const verifier = new JwtVerifier([{ entry: entry('a'), binding: 'A' }, { entry: entry('b'), binding: 'B' }], registry, 2);
  const now = Date.now();
  const [a, b, c] = await Promise.all([token('a'), token('b'), token('a', nowSeconds + 1800)]);
  for (const bearer of [a, b, c]) await verifier.verify(bearer, now);
  t2.ok(verifier.verify(a, now) instanceof Promise, 'the oldest was forgotten');
  t2.equal(verifier.verify(c, now), 'A', 'the newest is remembered');
});

t.test('a bus without JWT bindings refuses a bearer token at once', async (t2) => {
  const verifier = new JwtVerifier<string>([], registry);
  const answer = verifier.verify(await token('a'), Date.now());
  t2.match(answer, { kind: { code: 'credentials_invalid' }, detail: /no client that authenticates with bearer tokens/ });
});

// OAuth2 clients: Authorization: Bearer <JWT>, verified by a real dataplane process against keys
// from a Secret and from a real JWKS server on 127.0.0.1 that the test rotates, breaks and stops.
// Each refusal is checked by status, code and the reason in detail; the agency never sees the
// token, and neither do the logs or the audit records.
import t, { type Test } from 'tap';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT, type JWK } from 'jose';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, auditCount, waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const AUDIENCE = 'gozargah-test';
const SECRET_ISSUER = 'https://idp-secret.example.gov';

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JWK;
}

async function signingKey(kid: string, kind: 'rsa' | 'ec'): Promise<SigningKey> {
  const { privateKey, publicKey } = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg: kind === 'rsa' ? 'RS256' : 'ES256', privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, use: 'sig' } };
}

const [k1, k2, secretKey, stranger] = await Promise.all([signingKey('k1', 'rsa'), signingKey('k2', 'ec'), signingKey('sec-1', 'ec'), signingKey('k1', 'rsa')]);

/** The identity provider's JWKS endpoint: what it serves is the test's to change. */
let served: string = JSON.stringify({ keys: [k1.jwk] });
let fetches = 0;
const jwksServer: Server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  // /huge.json: a JWKS past the dataplane's 512 KiB cap, never taken.
  if (req.url === '/huge.json') return res.end(JSON.stringify({ keys: [k1.jwk], padding: 'x'.repeat(600 << 10) }));
  fetches++;
  res.end(served);
});
await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
const jwksPort = (jwksServer.address() as AddressInfo).port;
const ISSUER = `http://127.0.0.1:${jwksPort}/idp`;
t.teardown(() => new Promise<void>((resolve) => (jwksServer.listening ? (jwksServer.closeAllConnections(), jwksServer.close(() => resolve())) : resolve())));

const agency = await startAgency();
t.teardown(() => agency.close());

const jwt = (spec: Record<string, unknown>): Record<string, unknown> => ({ credentials: { jwt: { audiences: [AUDIENCE], ...spec } } });
const echo = [{ namespace: 'gov', name: 'echo' }];
const dir = manifestDir([
  provider('agency', agency.url),
  route('echo', 'agency', '/tax/v1/echo/{id}', { upstreamPath: '/echo/{id}' }),
  binding('tax', 'tax-office', echo, jwt({ issuer: ISSUER, jwksURL: `http://127.0.0.1:${jwksPort}/jwks.json` })),
  binding('expired', 'old-client', echo, { ...jwt({ issuer: ISSUER, jwksURL: `http://127.0.0.1:${jwksPort}/jwks.json` }), validity: { notAfter: '2020-01-01T00:00:00Z' } }),
  binding('huge', 'huge-client', echo, jwt({ issuer: `${ISSUER}-huge`, jwksURL: `http://127.0.0.1:${jwksPort}/huge.json` })),
  keySecret('customs-jwks', { 'jwks.json': JSON.stringify({ keys: [secretKey.jwk] }) }),
  binding('customs', 'customs', echo, jwt({ issuer: SECRET_ISSUER, claim: 'client_id', claimValue: 'customs-dispatch', algorithms: ['ES256'], jwks: { secretRef: { name: 'customs-jwks' } } })),
]);
const dp = await startDataplane(['--manifests', dir, '--jwks-refresh-seconds', '0.5', '--jwks-min-refresh-seconds', '0.2']);
t.teardown(() => dp.stop());

const now = (): number => Math.floor(Date.now() / 1000);
const tokens: string[] = [];

/** A token of the test's identity provider, claims overridable; every token made is remembered, to look for it in logs. */
async function token(key: SigningKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const made = await new SignJWT({ iss: ISSUER, sub: 'tax-office', aud: AUDIENCE, exp: now() + 300, iat: now(), jti: String(tokens.length), ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey);
  tokens.push(made);
  return made;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

interface Answer {
  status: number;
  code: unknown;
  detail: string;
  body: Record<string, unknown>;
}

async function call(id: string, bearer: string, url = dp.url): Promise<Answer> {
  const res = await fetch(`${url}/tax/v1/echo/${id}`, { headers: { authorization: `Bearer ${bearer}` } });
  const body = (await res.json()) as Record<string, unknown>;
  return { status: res.status, code: body['code'], detail: String(body['detail'] ?? ''), body };
}

function refused(t2: Test, answer: Answer, detail: RegExp): void {
  t2.equal(answer.status, 401, JSON.stringify(answer.body));
  t2.equal(answer.code, 'credentials_invalid');
  t2.match(answer.detail, detail);
}

t.test('a valid token is the binding whose sub it names; the agency never sees the Authorization header', async (t2) => {
  const bearer = await token(k1);
  const answer = await call('valid', bearer);
  t2.equal(answer.status, 200, JSON.stringify(answer.body));
  const seen = agency.seen.find((s) => s.url === '/echo/valid');
  t2.equal(seen?.headers['x-gozargah-client'], 'tax-office');
  t2.equal(seen?.headers['authorization'], undefined, 'no Authorization header reached the agency');
  t2.notOk(JSON.stringify(seen?.headers).includes(bearer.split('.')[2] as string), 'nor the token under another name');
  t2.equal((await call('valid-again', bearer)).status, 200, 'the same token again (remembered)');
});

t.test('a token from the JWKS in a Secret, naming its client by client_id', async (t2) => {
  const bearer = await new SignJWT({ iss: SECRET_ISSUER, sub: 'service-account-7', client_id: 'customs-dispatch', aud: [AUDIENCE, 'other'], exp: now() + 60 })
    .setProtectedHeader({ alg: 'ES256', kid: 'sec-1' })
    .sign(secretKey.privateKey);
  tokens.push(bearer);
  const answer = await call('secret', bearer);
  t2.equal(answer.status, 200, JSON.stringify(answer.body));
  t2.equal(agency.seen.find((s) => s.url === '/echo/secret')?.headers['x-gozargah-client'], 'customs');
});

t.test('refusals name the reason', async (t2) => {
  refused(t2, await call('expired', await token(k1, { exp: now() - 120 })), /has expired/);
  refused(t2, await call('nbf', await token(k1, { nbf: now() + 300 })), /not yet valid/);
  refused(t2, await call('aud', await token(k1, { aud: 'someone-else' })), /audience \(aud\) is not one/);
  refused(t2, await call('iss', await token(k1, { iss: 'https://evil.example' })), /issuer \(iss\) is not one this bus accepts/);
  refused(t2, await call('kid', await token(stranger, {}, { kid: 'k-unknown' })), /matches its key id \(kid\)/);
  refused(t2, await call('sig', await token(stranger)), /signature is not valid/);
  refused(t2, await call('noexp', await token(k1, { exp: undefined })), /no exp claim/);
  refused(t2, await call('nobody', await token(k1, { sub: 'nobody-we-know' })), /sub claim names no client of this bus/);
  refused(t2, await call('malformed', 'not-a-jwt'), /malformed/);
  refused(t2, await call('garbled', `${b64({ alg: 'RS256', kid: 'k1' })}.%%%.abc`), /malformed/);
});

t.test('alg none and HS256 keyed with the public key are refused', async (t2) => {
  const claims = { iss: ISSUER, sub: 'tax-office', aud: AUDIENCE, exp: now() + 300 };
  const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  refused(t2, await call('none', none), /algorithm \(alg\) is not allowed/);
  // The classic confusion: the RSA public key (PEM, as published) used as an HMAC secret.
  const pem = k1.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${b64(claims)}`;
  const hs256 = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
  refused(t2, await call('hs256', hs256), /algorithm \(alg\) is not allowed/);
  t2.notOk(agency.seen.some((s) => s.url === '/echo/none' || s.url === '/echo/hs256'), 'neither reached the agency');
});

t.test('a JWKS past the size cap is never taken: its issuer\'s tokens cannot be verified', async (t2) => {
  refused(t2, await call('huge', await token(k1, { iss: `${ISSUER}-huge`, sub: 'huge-client' })), /keys \(jwksURL\) could not be fetched yet/);
  t2.match(dp.logs(), /"msg":"JWKS fetch failed; tokens of its issuer cannot be verified yet","url":"[^"]*huge.json","error":"answered more than 524288 bytes"/);
});

t.test('the binding of a JWT client keeps its validity window', async (t2) => {
  const answer = await call('old', await token(k1, { sub: 'old-client' }));
  t2.equal(answer.status, 401, JSON.stringify(answer.body));
  t2.equal(answer.code, 'binding_expired');
});

t.test('rotation: a new kid is fetched at once; a removed kid is refused after the next refresh', async (t2) => {
  served = JSON.stringify({ keys: [k1.jwk, k2.jwk] });
  // More than --jwks-min-refresh-seconds after the last fetch: an unknown kid fetches again.
  await new Promise((r) => setTimeout(r, 250));
  const rotated = await call('rotated', await token(k2));
  t2.equal(rotated.status, 200, JSON.stringify(rotated.body));
  served = JSON.stringify({ keys: [k2.jwk] });
  const before = fetches;
  await waitFor(() => fetches > before + 1, 5_000, () => 'the JWKS was not fetched again');
  refused(t2, await call('removed', await token(k1)), /matches its key id \(kid\)/);
});

t.test('a JWKS server answering garbage, then down, leaves the last good keys in force', async (t2) => {
  served = '<html>maintenance</html>';
  let before = fetches;
  await waitFor(() => fetches > before + 1, 5_000, () => 'the JWKS was not fetched again');
  t2.equal((await call('garbage', await token(k2))).status, 200, 'serving with the last good keys');
  await new Promise<void>((resolve) => {
    jwksServer.closeAllConnections();
    jwksServer.close(() => resolve());
  });
  before = fetches;
  await new Promise((r) => setTimeout(r, 1_200));
  t2.equal(fetches, before, 'the server is down');
  const answer = await call('down', await token(k2));
  t2.equal(answer.status, 200, JSON.stringify(answer.body));
  const warnings = dp.logs().split('\n').filter((l) => l.includes('JWKS fetch failed') && l.includes('/jwks.json'));
  t2.equal(warnings.length, 1, 'one warning for the whole failure streak');
  t2.match(warnings[0], /the last good keys stay in force/);
});

t.test('no token is in the logs or the audit records', async (t2) => {
  const records = await auditCount(dp, 10);
  const audit = JSON.stringify(records);
  const logs = dp.logs();
  for (const made of tokens) {
    const signature = made.split('.')[2] as string;
    t2.notOk(logs.includes(made) || (signature.length > 0 && logs.includes(signature)), 'not in the logs');
    t2.notOk(audit.includes(made) || (signature.length > 0 && audit.includes(signature)), 'not in the audit records');
  }
  t2.match(records.find((r) => (r['params'] as Record<string, unknown> | null)?.['id'] === 'valid'), { client: 'tax-office', binding: 'clients/tax', status: 200 });
});

t.test('a bearer token on a bus with no JWT client gets a clear 401', async (t2) => {
  const plain = await startDataplane(['--manifests', manifestDir([provider('agency', agency.url), route('echo', 'agency', '/tax/v1/echo/{id}'), keySecret('keyed-keys', { k: 'test-key-jwt-plain-0123456789' }), binding('keyed', 'keyed', echo)])]);
  t2.teardown(() => plain.stop());
  refused(t2, await call('plain', await token(k1), plain.url), /no client that authenticates with bearer tokens/);
});

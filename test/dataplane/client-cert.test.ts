// Client certificates over HTTPS (--tls-cert, --tls-key, --client-ca): a subject counts only when
// the bus's CA signed the certificate, a pinned fingerprint counts for any certificate, and API
// keys still work over HTTPS. The agency learns who called from x-gozargah-client.
import t from 'tap';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, auditCount } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';
import { makePki, type KeyPair } from '../helpers/pki.ts';

const KEY = 'test-key-client-cert-0123456789';
const SUBJECT = 'CN=student-registry,O=Ministry of Education';

const pki = makePki();
const registry = pki.client('student-registry', 'Ministry of Education');
// The same subject as most CAs encode it: the organization first, the common name last.
const registryOrgFirst = pki.clientWithSubject('/O=Ministry of Education/CN=student-registry');
const stranger = pki.client('someone-else', 'Ministry of Education');
const pinned = pki.selfSigned('pinned-device');
const impostor = pki.selfSigned('lonely-device');

const agency = await startAgency();
t.teardown(() => agency.close());
const certificates = (c: Record<string, string[]>): Record<string, unknown> => ({ credentials: { certificates: c } });
const dir = manifestDir([
  provider('agency', agency.url),
  route('echo', 'agency', '/education/v1/echo/{id}', { upstreamPath: '/echo/{id}' }),
  binding('registry', 'student-registry', [{ namespace: 'gov', name: 'echo' }], certificates({ subjects: [SUBJECT] })),
  // Written as `openssl x509 -fingerprint` prints it (upper case, colons): the compiler normalizes.
  binding('pinned', 'pinned-device', [{ namespace: 'gov', name: 'echo' }], certificates({ fingerprints: [(pinned.fingerprint.toUpperCase().match(/../g) ?? []).join(':')] })),
  // A subject alone is trusted only when the bus's CA vouches for it.
  binding('lonely', 'lonely-device', [{ namespace: 'gov', name: 'echo' }], certificates({ subjects: ['CN=lonely-device'] })),
  keySecret('keyed-keys', { k: KEY }),
  binding('keyed', 'keyed-client', [{ namespace: 'gov', name: 'echo' }]),
]);
const dp = await startDataplane(['--manifests', dir, '--tls-cert', pki.server.certPath, '--tls-key', pki.server.keyPath, '--client-ca', pki.ca.certPath]);
t.teardown(() => dp.stop());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

/** A GET over HTTPS, trusting the bus's CA, presenting `cert` when given. */
async function call(id: string, cert: KeyPair | null, headers: Record<string, string> = {}): Promise<Answer> {
  const agent = new Agent({ connect: cert === null ? { ca: pki.ca.cert } : { ca: pki.ca.cert, cert: cert.cert, key: cert.key } });
  try {
    const res = await request(`${dp.url}/education/v1/echo/${id}`, { headers, dispatcher: agent });
    return { status: res.statusCode, headers: res.headers, json: (await res.body.json()) as Record<string, unknown> };
  } finally {
    await agent.close();
  }
}

/** What the agency was told about the caller of /echo/ID. */
function seenBy(id: string): { client: unknown; binding: unknown } | undefined {
  const seen = agency.seen.find((s) => s.url === `/echo/${id}`);
  return seen === undefined ? undefined : { client: seen.headers['x-gozargah-client'], binding: seen.headers['x-gozargah-binding'] };
}

t.test('the dataplane serves HTTPS', async (t2) => {
  t2.match(dp.url, /^https:\/\//);
});

t.test('a CA-signed certificate with the bound subject is authenticated', async (t2) => {
  const res = await call('subject', registry);
  t2.equal(res.status, 200, JSON.stringify(res.json));
  t2.same(seenBy('subject'), { client: 'student-registry', binding: 'clients/registry' });
  const records = await auditCount(dp, 1);
  t2.match(
    records.find((r) => r['params'] !== null && (r['params'] as Record<string, unknown>)['id'] === 'subject'),
    { client: 'student-registry', binding: 'clients/registry', status: 200, code: 'ok' },
    'the audit record names the client',
  );
});

t.test('the subject matches whatever the order of its attributes in the certificate', async (t2) => {
  const res = await call('org-first', registryOrgFirst);
  t2.equal(res.status, 200, JSON.stringify(res.json));
  t2.same(seenBy('org-first'), { client: 'student-registry', binding: 'clients/registry' });
});

t.test('a self-signed certificate with a pinned fingerprint is authenticated', async (t2) => {
  const res = await call('pinned', pinned);
  t2.equal(res.status, 200, JSON.stringify(res.json));
  t2.same(seenBy('pinned'), { client: 'pinned-device', binding: 'clients/pinned' });
});

t.test('a CA-signed certificate with another subject: 401 credentials_invalid', async (t2) => {
  const res = await call('stranger', stranger);
  t2.equal(res.status, 401);
  t2.equal(res.json['code'], 'credentials_invalid');
  t2.equal(res.headers['x-gozargah-error'], 'credentials_invalid');
  t2.equal(seenBy('stranger'), undefined, 'the agency never saw it');
});

t.test('a self-signed certificate claiming a bound subject: 401 credentials_invalid', async (t2) => {
  const res = await call('impostor', impostor);
  t2.equal(res.status, 401);
  t2.equal(res.json['code'], 'credentials_invalid');
  t2.equal(seenBy('impostor'), undefined);
});

t.test('no certificate and no key: 401 credentials_missing', async (t2) => {
  const res = await call('nobody', null);
  t2.equal(res.status, 401);
  t2.equal(res.json['code'], 'credentials_missing');
  t2.equal(res.headers['x-gozargah-error'], 'credentials_missing');
});

t.test('an API key over HTTPS still works', async (t2) => {
  const res = await call('keyed', null, { 'x-api-key': KEY });
  t2.equal(res.status, 200, JSON.stringify(res.json));
  t2.same(seenBy('keyed'), { client: 'keyed-client', binding: 'clients/keyed' });
});

t.test('a resumed TLS session keeps the certificate\'s identity', async (t2) => {
  // No keep-alive, so each request opens a connection; the agent's session cache resumes the first.
  const agent = new HttpsAgent({ keepAlive: false, maxCachedSessions: 10, ca: pki.ca.cert, cert: registry.cert, key: registry.key });
  t2.teardown(() => agent.destroy());
  const get = (id: string): Promise<{ status: number; reused: boolean }> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(`${dp.url}/education/v1/echo/${id}`, { agent }, (res) => {
        const reused = (res.socket as TLSSocket).isSessionReused();
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, reused }));
      });
      req.on('error', reject);
      req.end();
    });
  const firstCall = await get('resume-1');
  t2.same(firstCall, { status: 200, reused: false }, 'a full handshake');
  const secondCall = await get('resume-2');
  t2.same(secondCall, { status: 200, reused: true }, 'a resumed session, still authenticated');
  t2.same(seenBy('resume-2'), { client: 'student-registry', binding: 'clients/registry' });
});

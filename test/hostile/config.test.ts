// Hostile configuration against real dataplane processes (--manifests) and a real agency:
// - an object the dataplane could not serve is refused alone, in its status, and the bus keeps
//   taking changes: a key deleted after it was applied stops working;
// - a route's schema pattern that backtracks catastrophically in JavaScript ('^(a+)+$') runs in
//   linear time, while other requests are served;
// - certificate subjects are compared as structured names (RFC 4514): a common name holding a
//   comma cannot pass for two attributes;
// - hostile files in the manifests directory (alias bomb, 100,000 levels, huge, binary, cut,
//   symlink loop, unreadable) never stop the process nor replace the last good configuration,
//   and /config's lastError names the file.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, waitFor, type RunningDataplane } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route, writeManifests } from '../helpers/manifests.ts';
import { makePki, type KeyPair } from '../helpers/pki.ts';

type Obj = Record<string, unknown>;
const KEEP = 'hostile-config-keep-0123456789';
const REVOKE = 'hostile-config-revoke-0123456789';

const agency = await startAgency();
t.teardown(() => agency.close());
const pki = makePki();

/** The bus every dataplane here starts from: one route, a binding that stays, one that goes. */
const base = (withRevoked = true): Obj[] => [
  provider('agency', agency.url),
  route('echo', 'agency', '/hostile/v1/echo/{id}', { upstreamPath: '/echo/{id}' }),
  route('redos', 'agency', '/hostile/v1/redos', {
    methods: ['POST'],
    upstreamPath: '/redos',
    requestSchema: { type: 'object', properties: { name: { type: 'string', pattern: '^(a+)+$' } } },
  }),
  keySecret('keep-keys', { k: KEEP }),
  binding('keep', 'keep', [{ namespace: 'gov', name: 'echo' }, { namespace: 'gov', name: 'redos' }, { namespace: 'gov', selector: { matchLabels: { hostile: 'marker' } } }]),
  ...(withRevoked ? [keySecret('revoke-keys', { k: REVOKE }), binding('revoke', 'revoke', [{ namespace: 'gov', name: 'echo' }])] : []),
];

async function get(dp: RunningDataplane, path: string, key: string): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${dp.url}${path}`, { headers: { 'x-api-key': key } });
  await res.arrayBuffer();
  return { status: res.status, code: res.headers.get('x-gozargah-error') ?? undefined };
}

async function config(dp: RunningDataplane): Promise<{ lastError: string | null; generation: number }> {
  return (await (await fetch(`${dp.adminUrl}/config`)).json()) as { lastError: string | null; generation: number };
}

/** The dataplane's "object not accepted" log records, by object. */
function notAccepted(dp: RunningDataplane): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of dp.logs().split('\n')) {
    if (!line.includes('"object not accepted"')) continue;
    const r = JSON.parse(line) as { kind: string; object: string; reason: string };
    out.set(`${r.kind}/${r.object}`, r.reason);
  }
  return out;
}

const marker = (n: number): Obj => {
  const r = route(`marker-${n}`, 'agency', `/hostile/v1/marker-${n}`, { upstreamPath: '/marker' });
  (r['metadata'] as Obj)['labels'] = { hostile: 'marker' };
  return r;
};
const tlsSecret = (name: string, data: Record<string, string>): Obj => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'gov', labels: { 'gozargah.io/credentials': 'true' } }, stringData: data });
const tlsProvider = (name: string, tls: Obj): Obj => provider(name, 'https://agency.gov.example:8443', { upstream: { url: 'https://agency.gov.example:8443', tls } });
const mangled = pki.ca.cert.replace(/\n([A-Za-z0-9+/]{10})/, '\n!!!!!!!!!!');
const otherClient = pki.client('other', 'Gozargah');
const busClient = pki.client('bus', 'Gozargah');

/** Each class of object the dataplane could not serve, with the status the compiler gives it. */
const HOSTILE: { name: string; objects: Obj[]; expect: [string, string][] }[] = [
  { name: 'port 99999', objects: [provider('bad-port', 'http://127.0.0.1:99999'), route('via-bad-port', 'bad-port', '/hostile/v1/bad-port')], expect: [['ServiceProvider/gov/bad-port', 'Invalid'], ['InquiryRoute/gov/via-bad-port', 'ProviderNotReady']] },
  { name: 'user:pass@ in the URL', objects: [provider('userinfo', 'http://user:secret@127.0.0.1:1')], expect: [['ServiceProvider/gov/userinfo', 'Invalid']] },
  { name: 'an IPv4 host out of range', objects: [provider('bad-host', 'http://1.2.3.999')], expect: [['ServiceProvider/gov/bad-host', 'Invalid']] },
  { name: 'a CA that looks like PEM but does not parse', objects: [tlsSecret('mangled-ca', { 'ca.crt': mangled }), tlsProvider('mangled', { caSecretRef: { name: 'mangled-ca' } })], expect: [['ServiceProvider/gov/mangled', 'InvalidCertificate']] },
  { name: 'a client key that is not the certificate\'s', objects: [tlsSecret('mismatch', { 'tls.crt': busClient.cert, 'tls.key': otherClient.key }), tlsProvider('mismatch', { clientCertificateSecretRef: { name: 'mismatch' } })], expect: [['ServiceProvider/gov/mismatch', 'InvalidCertificate']] },
  { name: 'an invalid CIDR', objects: [keySecret('cidr-keys', { k: 'hostile-config-cidr-0123456789' }), binding('cidr', 'cidr', [{ namespace: 'gov', name: 'echo' }], { sourceCIDRs: ['10.0.0.1/33'] })], expect: [['ClientBinding/clients/cidr', 'Invalid']] },
  { name: 'a leap second in validity', objects: [keySecret('leap-keys', { k: 'hostile-config-leap-0123456789' }), binding('leap', 'leap', [{ namespace: 'gov', name: 'echo' }], { validity: { notAfter: '2026-12-31T23:59:60Z' } })], expect: [['ClientBinding/clients/leap', 'Invalid']] },
  { name: 'a subject that is not an RFC 4514 name', objects: [binding('subject', 'subject', [{ namespace: 'gov', name: 'echo' }], { credentials: { certificates: { subjects: ['CN=a;b'] } } })], expect: [['ClientBinding/clients/subject', 'Invalid']] },
  { name: 'a backreference in a pattern', objects: [route('backref', 'agency', '/hostile/v1/backref', { requestSchema: { type: 'string', pattern: '(a)\\1' } })], expect: [['InquiryRoute/gov/backref', 'InvalidSchema']] },
  {
    name: 'two schemas with one $id',
    objects: [
      route('id-one', 'agency', '/hostile/v1/id-one', { methods: ['POST'], requestSchema: { $id: 'https://schemas.gov.example/one', type: 'object' } }),
      route('id-two', 'agency', '/hostile/v1/id-two', { methods: ['POST'], requestSchema: { $id: 'https://schemas.gov.example/one', type: 'object' } }),
    ],
    expect: [],
  },
];

t.test('objects the dataplane could not serve are refused alone; the bus keeps taking changes', async (t2) => {
  const dir = manifestDir(base());
  const dp = await startDataplane(['--manifests', dir]);
  t2.teardown(() => dp.stop());
  t2.equal((await get(dp, '/hostile/v1/echo/1', REVOKE)).status, 200, 'the key to revoke works at first');
  for (const [i, hostile] of HOSTILE.entries()) {
    writeManifests(dir, [...hostile.objects, marker(i)], 'hostile.yaml');
    // The marker route arrives in the same snapshot as the hostile objects: once it answers, that snapshot is in force.
    await waitFor(async () => (await get(dp, `/hostile/v1/marker-${i}`, KEEP)).status === 200, 10_000, () => `${hostile.name}: the snapshot with it never loaded:\n${dp.logs().slice(-2000)}`);
    t2.equal((await config(dp)).lastError, null, `${hostile.name}: the loader refused nothing`);
    const refused = notAccepted(dp);
    for (const [object, reason] of hostile.expect) t2.equal(refused.get(object), reason, `${hostile.name}: ${object} is ${reason}`);
  }
  // Everything at once, and the revoked binding deleted: the deletion takes effect.
  writeManifests(dir, HOSTILE.flatMap((h) => h.objects), 'hostile.yaml');
  writeManifests(dir, base(false));
  await waitFor(async () => (await get(dp, '/hostile/v1/echo/2', REVOKE)).status === 401, 10_000, () => `the deleted key kept working:\n${dp.logs().slice(-2000)}`);
  t2.same(await get(dp, '/hostile/v1/echo/3', REVOKE), { status: 401, code: 'credentials_invalid' }, 'the deleted key no longer works');
  t2.equal((await get(dp, '/hostile/v1/echo/3', KEEP)).status, 200, 'the key that stays still works');
  t2.equal((await config(dp)).lastError, null, 'no snapshot was refused');
  const metrics = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  t2.notMatch(metrics, /gozargah_snapshot_reloads_total\{[^}]*result="rejected"[^}]*\} [1-9]/, 'gozargah_snapshot_reloads_total{result="rejected"} stayed 0');
  t2.equal(dp.process.exitCode, null, 'the process is alive');
});

t.test('a pattern that backtracks in JavaScript runs in linear time while others are served', async (t2) => {
  const dir = manifestDir(base());
  const dp = await startDataplane(['--manifests', dir]);
  t2.teardown(() => dp.stop());
  const hostileBody = (n: number): string => JSON.stringify({ name: `${'a'.repeat(n)}!` });
  const post = async (body: string): Promise<{ status: number; code: string | undefined; ms: number }> => {
    const started = performance.now();
    const res = await fetch(`${dp.url}/hostile/v1/redos`, { method: 'POST', headers: { 'x-api-key': KEEP, 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    return { status: res.status, code: res.headers.get('x-gozargah-error') ?? undefined, ms: performance.now() - started };
  };
  // With JavaScript's RegExp, 50 a's and a ! take about 2^50 steps.
  const [redos, other] = await Promise.all([post(hostileBody(50)), (async () => {
    const started = performance.now();
    const res = await get(dp, '/hostile/v1/echo/meanwhile', KEEP);
    return { ...res, ms: performance.now() - started };
  })()]);
  t2.equal(redos.status, 400, 'the body is refused');
  t2.equal(redos.code, 'request_invalid', 'as request_invalid');
  t2.ok(redos.ms < 2000, `answered in ${Math.round(redos.ms)} ms`);
  t2.equal(other.status, 200, 'the request sent alongside is served');
  t2.ok(other.ms < 2000, `in ${Math.round(other.ms)} ms`);
  const long = await post(hostileBody(60_000));
  t2.equal(long.status, 400, '60,000 a\'s and a ! are refused too');
  t2.ok(long.ms < 2000, `in ${Math.round(long.ms)} ms: linear in the input`);
  t2.equal((await post(JSON.stringify({ name: 'aaaa' }))).status, 200, 'a matching body passes');
});

t.test('certificate subjects are compared as structured names', async (t2) => {
  const comma = pki.clientWithSubject('/CN=evil,O=Gov');
  const split = pki.clientWithSubject('/O=Gov/CN=evil');
  const multi = pki.clientWithSubject('/CN=multi+O=Gov');
  const extra = pki.clientWithSubject('/O=Gov/OU=Other/CN=evil');
  const certs = (subject: string): Obj => ({ credentials: { certificates: { subjects: [subject] } } });
  const dir = manifestDir([
    ...base(),
    binding('split', 'split', [{ namespace: 'gov', name: 'echo' }], certs('CN=evil,O=Gov')),
    binding('comma', 'comma', [{ namespace: 'gov', name: 'echo' }], certs('CN=evil\\,O=Gov')),
    binding('multi', 'multi', [{ namespace: 'gov', name: 'echo' }], certs('CN=multi+O=Gov')),
  ]);
  const dp = await startDataplane(['--manifests', dir, '--tls-cert', pki.server.certPath, '--tls-key', pki.server.keyPath, '--client-ca', pki.ca.certPath]);
  t2.teardown(() => dp.stop());
  const call = async (id: string, cert: KeyPair): Promise<{ status: number; binding: unknown }> => {
    const agent = new Agent({ connect: { ca: pki.ca.cert, cert: cert.cert, key: cert.key } });
    try {
      const res = await request(`${dp.url}/hostile/v1/echo/${id}`, { dispatcher: agent });
      const body = (await res.body.json()) as { headers?: Record<string, string> };
      return { status: res.statusCode, binding: body.headers?.['x-gozargah-binding'] };
    } finally {
      await agent.close();
    }
  };
  t2.same(await call('comma', comma), { status: 200, binding: 'clients/comma' }, 'CN "evil,O=Gov" is the binding written CN=evil\\,O=Gov, not CN=evil,O=Gov');
  t2.same(await call('split', split), { status: 200, binding: 'clients/split' }, 'CN=evil and O=Gov is the binding CN=evil,O=Gov');
  t2.same(await call('multi', multi), { status: 200, binding: 'clients/multi' }, 'a multi-valued RDN matches CN=multi+O=Gov');
  t2.equal((await call('extra', extra)).status, 401, 'one attribute more is another identity');
});

t.test('hostile files in the manifests directory never stop the bus', async (t2) => {
  const dir = manifestDir(base());
  const dp = await startDataplane(['--manifests', dir]);
  t2.teardown(() => dp.stop());
  const seed = 4514;
  t2.comment(`binary garbage from seed ${seed}`);
  let s = seed;
  const garbage = Buffer.from(Array.from({ length: 65_536 }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff));
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n');
  const duplicate = stringify(keySecret('keep-keys', { k: 'another-key-for-the-same-secret-0123' }));
  const files: { name: string; write: (path: string) => void }[] = [
    { name: 'alias-bomb.yaml', write: (p) => writeFileSync(p, `${laughs}\n`) },
    { name: 'deep.yaml', write: (p) => writeFileSync(p, `${'['.repeat(100_000)}${']'.repeat(100_000)}`) },
    { name: 'deep-block.yaml', write: (p) => writeFileSync(p, `${'- '.repeat(100_000)}x\n`) },
    { name: 'huge.yaml', write: (p) => writeFileSync(p, `# ${'x'.repeat(5 * 1024 * 1024)}\n`) },
    { name: 'garbage.yaml', write: (p) => writeFileSync(p, garbage) },
    // Redefines an object the bus has, cut in the middle: whatever survives the cut is an error naming the file.
    { name: 'cut.yaml', write: (p) => writeFileSync(p, `${duplicate}---\n${duplicate}`.slice(0, Math.floor(duplicate.length * 1.5))) },
    {
      name: 'loop-a.yaml',
      write: () => {
        symlinkSync(join(dir, 'loop-b.yaml'), join(dir, 'loop-a.yaml'));
        symlinkSync(join(dir, 'loop-a.yaml'), join(dir, 'loop-b.yaml'));
      },
    },
    {
      name: 'fifo.yaml',
      write: (p) => execFileSync('mkfifo', [p]),
    },
    {
      name: 'dir-loop',
      write: (p) => {
        mkdirSync(p);
        symlinkSync(dir, join(p, 'up'));
        writeFileSync(join(p, 'unreadable.yaml'), duplicate);
        chmodSync(join(p, 'unreadable.yaml'), 0o000);
      },
    },
  ];
  const root = process.getuid?.() === 0;
  for (const file of files) {
    const path = join(dir, file.name);
    file.write(path);
    // The unreadable file is read anyway by root; then it is a duplicate, still an error naming it.
    const named = file.name === 'dir-loop' ? 'unreadable.yaml' : file.name;
    await waitFor(async () => (await config(dp)).lastError?.includes(named) === true, 10_000, () => `${file.name}: /config never named it:\n${dp.logs().slice(-1500)}`);
    t2.pass(`${file.name}: /config's lastError names the file${file.name === 'dir-loop' && root ? ' (read as root: refused as a duplicate)' : ''}`);
    t2.equal((await get(dp, `/hostile/v1/echo/${file.name}`, KEEP)).status, 200, `${file.name}: the known key still gets 200`);
    t2.equal(dp.process.exitCode, null, `${file.name}: the process is alive`);
    rmSync(path, { recursive: true, force: true });
    if (file.name === 'loop-a.yaml') unlinkSync(join(dir, 'loop-b.yaml'));
    await waitFor(async () => (await config(dp)).lastError === null, 10_000, () => `${file.name}: removing it did not clear lastError:\n${dp.logs().slice(-1500)}`);
  }
  t2.match(dp.logs(), /"snapshot refused; the last good one stays in force"/, 'each refusal was logged');

  // Rewritten in place in two pieces, the first ending exactly at a ---: the key never stops working.
  const objects = base();
  const cutAt = objects.findIndex((o) => o['kind'] === 'Secret');
  const first = `${objects.slice(0, cutAt).map((o) => stringify(o)).join('---\n')}---\n`;
  const rest = objects.slice(cutAt).map((o) => stringify(o)).join('---\n');
  const statuses = new Map<number, number>();
  let polling = true;
  const poller = (async () => {
    for (let i = 0; polling && i < 500; i++) {
      const { status } = await get(dp, `/hostile/v1/echo/poll-${i}`, KEEP);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  writeFileSync(join(dir, 'bus.yaml'), first);
  await new Promise((r) => setTimeout(r, 100));
  appendFileSync(join(dir, 'bus.yaml'), rest);
  await new Promise((r) => setTimeout(r, 800));
  polling = false;
  await poller;
  t2.same([...statuses.keys()], [200], `the key was answered 200 throughout (${JSON.stringify(Object.fromEntries(statuses))})`);
});

// Hostile configuration, generated: thousands of mutated copies of valid objects (examples/ and a
// bus with upstream TLS, certificates, schemas, CIDRs and validity) go through the compiler, and
// every snapshot it produces is offered to the dataplane's real Loader (with a real Pipeline and
// Metering), as produced and after a JSON round trip (what --snapshot and the cluster source
// read). Two properties: compile never throws, and the loader never refuses what the compiler
// produced. A refused object must be refused alone, in its status, never by the whole bus.
//
// Seeded: FUZZ_SEED=<n> replays a run; FUZZ_CASES=<n> changes how many cases run.
import t from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, parseManifests } from '../../compiler/index.ts';
import { validateObject } from '../../api/v1alpha1/index.ts';
import { Accounting } from '../../dataplane/accounting.ts';
import { Loader } from '../../dataplane/loader.ts';
import { Metering } from '../../dataplane/metering.ts';
import { Pipeline } from '../../dataplane/pipeline.ts';
import { ROOT } from '../helpers/dataplane.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';
import { makePki } from '../helpers/pki.ts';

type Obj = Record<string, unknown>;

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261203);
const CASES = Number(process.env['FUZZ_CASES'] ?? 2500);
const TIME_BUDGET_MS = 25_000;
t.comment(`config fuzz: seed ${SEED} (FUZZ_SEED=${SEED} replays it), up to ${CASES} cases`);

/** mulberry32: small, seeded, good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
const chance = (p: number): boolean => rand() < p;

// ---- the valid starting points -------------------------------------------------------------

const exampleFiles = readdirSync(join(ROOT, 'examples'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ name: f, text: readFileSync(join(ROOT, 'examples', f), 'utf8') }));
const examples = parseManifests(exampleFiles).objects.map((o) => o.object);

const pki = makePki();
const clientA = pki.client('bus-a', 'Gozargah');
const clientB = pki.client('bus-b', 'Gozargah');
const tlsBus: Obj[] = [
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'agency-ca', namespace: 'gov', labels: { 'gozargah.io/credentials': 'true' } }, stringData: { 'ca.crt': pki.ca.cert } },
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bus-client', namespace: 'gov', labels: { 'gozargah.io/credentials': 'true' } }, stringData: { 'tls.crt': clientA.cert, 'tls.key': clientA.key } },
  provider('secure', 'https://agency.gov.example:8443/v2', { upstream: { url: 'https://agency.gov.example:8443/v2', tls: { caSecretRef: { name: 'agency-ca' }, clientCertificateSecretRef: { name: 'bus-client' }, serverName: 'agency.gov.example' } }, protection: { maxConcurrent: 10, maxRequestsPerSecond: 100 } }),
  provider('plain', 'http://127.0.0.1:20001'),
  route('person', 'secure', '/gov/v1/persons/{nationalId}', { upstreamPath: '/p/{nationalId}', methods: ['GET', 'POST'], requestSchema: { type: 'object', properties: { nationalId: { type: 'string', pattern: '^[0-9]{10}$' } } }, privacy: { neverLog: ['nationalId'], dropResponseFields: ['person.fatherName'] }, metadata: undefined }),
  route('address', 'plain', '/gov/v1/addresses/{postcode}', { responseSchema: { type: 'object', $id: 'https://schemas.gov.example/address' } }),
  route('letters', 'plain', '/gov/v1/letters', { methods: ['POST'], requestSchema: { $id: 'https://schemas.gov.example/address', type: 'object', patternProperties: { '^x-': { type: 'string' } } }, maxBodyBytes: 4096 }),
  keySecret('alpha-keys', { k1: 'fuzz-key-alpha-0123456789', k2: 'fuzz-key-alpha-rotated-0123' }),
  binding('alpha', 'alpha', [{ namespace: 'gov', name: 'person' }, { selector: { matchLabels: { tier: 'gold' } } }], {
    credentials: { apiKeys: { secretRef: { name: 'alpha-keys' } }, certificates: { subjects: ['CN=bus-b,O=Gozargah'], fingerprints: [clientB.fingerprint] } },
    rateLimit: { requestsPerSecond: 5, burst: 10 },
    quota: { requests: 1000, period: 'Day' },
    sourceCIDRs: ['10.0.0.0/8', '2001:db8::/32'],
    validity: { notBefore: '2026-01-01T00:00:00Z', notAfter: '2027-01-01T00:00:00+03:30' },
  }),
  keySecret('beta-keys', { k: 'fuzz-key-beta-0123456789abc' }),
  binding('beta', 'beta', [{ namespace: 'gov', selector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] } }], { bus: 'internal' }),
];
for (const o of tlsBus) if (o['kind'] === 'InquiryRoute') delete (o['spec'] as Obj)['metadata'];
(tlsBus[5] as { metadata: Obj }).metadata['labels'] = { tier: 'gold' };
(tlsBus[6] as { spec: Obj }).spec['buses'] = ['default', 'internal'];

// ---- hostile values, by class ----------------------------------------------------------------

const GARBAGE = [':', '@', '[', ']', '%', '%zz', '/', '\\', '?', '#', ' ', '\u0000', '\u00e9', 'ａ', '..', '{', '}', ',', '+', '=', ';', '"', '<', '\n', '9', '-', '.', '*'];
const garble = (s: string): string => {
  const i = int(s.length + 1);
  const op = int(3);
  if (op === 0) return s.slice(0, i) + pick(GARBAGE) + s.slice(i);
  if (op === 1) return s.slice(0, i) + s.slice(i + 1 + int(4));
  return s.slice(0, i) + s.slice(i).toUpperCase();
};
const PORTS = ['0', '1', '65535', '65536', '99999', '080', '-1', '', '4294967297', '8443'];
const HOSTS = ['agency.gov.example', '1.2.3.999', 'example.1', '127.0.0.1', '[::1]', '[::1', '[fe80::1%25eth0]', 'a..b', 'xn--a.example', 'ex^ample', '0x7f.1', 'u:p@h', 'user@agency', 'ａ.example', '%41.example', '_srv.example', 'a_b.example', ''];
const hostileURL = (): string => {
  const scheme = pick(['http', 'https', 'ftp', 'HTTP', 'http:']);
  const port = chance(0.5) ? `:${pick(PORTS)}` : '';
  const path = pick(['', '/', '/v2', '/v2/', '/a b', '/a?x=1', '/a#f', '/%2e%2e/x', '/a\\b', '//x']);
  const url = `${scheme}://${pick(HOSTS)}${port}${path}`;
  return chance(0.3) ? garble(url) : url;
};
const octet = (): string => pick([String(int(256)), String(256 + int(50)), `0${int(10)}`, '00', '255', '0']);
const hex = (): string => int(0x10000).toString(16);
const hostileCIDR = (): string => {
  const prefix = pick([String(int(33)), String(int(129)), '33', '129', '-1', '', '1e1', '032', '24']);
  if (chance(0.5)) return `${[octet(), octet(), octet(), octet()].slice(0, chance(0.9) ? 4 : 3).join('.')}/${prefix}`;
  const groups = Array.from({ length: 1 + int(9) }, hex);
  const v6 = chance(0.5) ? groups.join(':') : `${groups.slice(0, 2).join(':')}::${groups.slice(2, 4).join(':')}`;
  return `${chance(0.1) ? `${v6}%eth0` : chance(0.1) ? `::ffff:${octet()}.${octet()}.1.1` : v6}/${prefix}`;
};
const hostileDate = (): string =>
  pick([
    '2026-12-31T23:59:60Z',
    '2026-02-30T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '2026-01-01t00:00:00z',
    '2026-01-01 00:00:00Z',
    '2026-01-01T00:00:00+24:00',
    '275760-09-13T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '9999-12-31T23:59:59.999999999Z',
    `20${10 + int(90)}-${String(1 + int(13)).padStart(2, '0')}-${String(int(33)).padStart(2, '0')}T${String(int(26)).padStart(2, '0')}:${String(int(61)).padStart(2, '0')}:${String(int(62)).padStart(2, '0')}${pick(['Z', '+03:30', '-00:00', '+99:00', ''])}`,
  ]);
const hostilePEM = (pem: string, other: string): string => {
  const lines = pem.split('\n');
  switch (int(7)) {
    case 0:
      return pem.slice(0, int(pem.length));
    case 1: {
      const i = 1 + int(Math.max(1, lines.length - 3));
      const line = lines[i] ?? '';
      lines[i] = line.slice(0, 5) + pick(['!', 'A', '=', '*']) + line.slice(6);
      return lines.join('\n');
    }
    case 2:
      return other;
    case 3:
      return lines.filter((l) => !l.startsWith('-----END')).join('\n');
    case 4:
      return `${pem}\n${pem}`;
    case 5:
      return pem.replace(/[A-Za-z0-9+/]{20}/, 'AAAAAAAAAAAAAAAAAAAA');
    default:
      return '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n';
  }
};
const PATTERN_PIECES = ['(a+)+', '(a|aa)*', '\\1', '(?=x)', '(?!x)', '(?<=x)', '(?<n>x)\\k<n>', '[0-9', '\\d{2,}', '\\u00e9', '\\p{L}', '.*', '^', '$', '[^\\]]', '(?i)x', '\\b', '{3}', 'x{1000}', '\\'];
const hostilePattern = (): string => Array.from({ length: 1 + int(3) }, () => pick(PATTERN_PIECES)).join('');
const hostileSchema = (): Obj =>
  pick<() => Obj>([
    () => ({ type: 'string', pattern: hostilePattern() }),
    () => ({ type: 'object', patternProperties: { [hostilePattern()]: { type: 'string' } } }),
    () => ({ $id: 'https://schemas.gov.example/address', type: 'object' }),
    () => ({ $id: pick(['#frag', 'urn:x', 'not a uri', 'https://x/a']), properties: { a: { $id: 'https://schemas.gov.example/nested' } } }),
    () => ({ $ref: pick(['https://schemas.gov.example/address', '#/definitions/x', 'other.json', '#']) }),
    () => ({ type: pick(['strin', 'object', 5, null, ['string', 'null']]) }),
    () => ({ maximum: pick([Number.NaN, Number.POSITIVE_INFINITY, -0, 1e308, '5']) }),
    () => ({ format: pick(['date-time', 'no-such-format', 'regex', 'uri']) }),
    () => ({ $schema: pick(['https://json-schema.org/draft/2020-12/schema', 'http://json-schema.org/draft-07/schema#', 'x']) }),
    () => ({ allOf: [{ not: { anyOf: [{ const: 1 }, { enum: [] }] } }] }),
    () => ({ required: pick([['a', 'a'], 'a', [5]]) }),
  ])();
const hostileSubject = (): string => {
  const parts = Array.from({ length: 1 + int(3) }, () => `${pick(['CN', 'O', 'OU', 'cn', '2.5.4.3', 'E', 'X-Y', '1x'])}=${pick(['evil', 'evil,O=Gov', 'a\\,b', 'a\\2Cb', '#04', ' lead', 'trail ', 'a\\ ', '', 'é', 'a"b', 'a+b', 'a\\', 'a=b', '\\C3\\A9', '\\FF'])}`);
  return parts.join(pick([',', ', ', '+', ';', '\n']));
};
const hostileSelector = (): Obj => ({
  matchLabels: chance(0.5) ? { [pick(['tier', 'gozargah.io/category', 'x'])]: pick(['gold', '', 'a'.repeat(64)]) } : undefined,
  matchExpressions: Array.from({ length: int(4) }, () => ({
    key: pick(['tier', '', 'k'.repeat(400)]),
    operator: pick(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Like']),
    values: chance(0.7) ? Array.from({ length: int(5) }, () => pick(['gold', 'silver', ''])) : undefined,
  })),
});
const hostileTemplate = (): string => {
  const segs = Array.from({ length: 1 + int(5) }, () => pick(['v1', '{id}', '{id}', '{Id}', '{1x}', '..', '.', '', 'a b', '%2F', '{a}{b}', 'x:y', '*', '~']));
  return `/${segs.join('/')}`;
};
const NUMBERS = [0, -1, 1, 5, 2 ** 31, 2 ** 53 + 1, 1e12, 1e13, 0.5, Number.NaN, Number.POSITIVE_INFINITY];
const anyValue = (): unknown => pick<() => unknown>([() => pick(NUMBERS), () => garble('value'), () => null, () => true, () => [], () => ({}), () => [garble('x')], () => 'a'.repeat(3000)])();

// ---- mutations -------------------------------------------------------------------------------

const byKind = (objs: Obj[], kind: string): Obj[] => objs.filter((o) => o['kind'] === kind);
const specOf = (o: Obj): Obj => (o['spec'] ?? (o['spec'] = {})) as Obj;

/** Every [container, key] of an object's leaves and branches under spec (and metadata.labels). */
function slots(value: unknown, out: [Obj | unknown[], string | number][] = []): [Obj | unknown[], string | number][] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      slots(v, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Obj, k]);
      slots(v, out);
    }
  }
  return out;
}

type Mutation = (objs: Obj[]) => string | null;

const mutations: Record<string, Mutation> = {
  url: (objs) => {
    const p = pick(byKind(objs, 'ServiceProvider'));
    const upstream = specOf(p)['upstream'] as Obj;
    upstream['url'] = chance(0.5) ? hostileURL() : garble(String(upstream['url']));
    return 'url';
  },
  serverName: (objs) => {
    const p = pick(byKind(objs, 'ServiceProvider'));
    const upstream = specOf(p)['upstream'] as Obj;
    upstream['tls'] = { ...(upstream['tls'] as Obj), serverName: pick(['', 'a b', '1.2.3.4', 'ａ.example', '-x', 'x'.repeat(300), garble('agency.gov.example')]) };
    return 'serverName';
  },
  cidr: (objs) => {
    const b = pick(byKind(objs, 'ClientBinding'));
    specOf(b)['sourceCIDRs'] = Array.from({ length: 1 + int(3) }, hostileCIDR);
    return 'cidr';
  },
  date: (objs) => {
    const b = pick(byKind(objs, 'ClientBinding'));
    specOf(b)['validity'] = chance(0.5) ? { notBefore: hostileDate() } : { notBefore: hostileDate(), notAfter: hostileDate() };
    return 'date';
  },
  pem: (objs) => {
    const secret = pick(objs.filter((o) => o['kind'] === 'Secret' && /agency-ca|bus-client/.test(String((o['metadata'] as Obj)['name']))));
    if (secret === undefined) return null;
    const data = secret['stringData'] as Record<string, string>;
    const key = pick(Object.keys(data));
    data[key] = hostilePEM(data[key] as string, pick([clientB.key, clientB.cert, pki.ca.key, pki.server.cert]));
    return 'pem';
  },
  schema: (objs) => {
    const r = pick(byKind(objs, 'InquiryRoute'));
    specOf(r)[chance(0.6) ? 'requestSchema' : 'responseSchema'] = hostileSchema();
    return 'schema';
  },
  path: (objs) => {
    const r = pick(byKind(objs, 'InquiryRoute'));
    specOf(r)[chance(0.7) ? 'path' : 'upstreamPath'] = hostileTemplate();
    return 'path';
  },
  selector: (objs) => {
    const b = pick(byKind(objs, 'ClientBinding'));
    const routes = specOf(b)['routes'] as Obj[];
    routes.push({ selector: hostileSelector(), ...(chance(0.5) ? { namespace: pick(['gov', 'civil-registry', 'nowhere']) } : {}) });
    return 'selector';
  },
  access: (objs) => {
    const r = pick(byKind(objs, 'InquiryRoute'));
    specOf(r)['access'] = { namespaces: pick([{ from: 'Selector', selector: hostileSelector() }, { from: 'List', names: ['gov', 'clients', ''] }, { from: 'All' }, { from: 'Same' }]), ...(chance(0.3) ? { clients: ['alpha', 'snapp'] } : {}) };
    return 'access';
  },
  subject: (objs) => {
    const b = pick(byKind(objs, 'ClientBinding'));
    const creds = specOf(b)['credentials'] as Obj;
    creds['certificates'] = { subjects: Array.from({ length: 1 + int(2) }, hostileSubject) };
    return 'subject';
  },
  conflict: (objs) => {
    // Another binding claims a credential one already holds (a key Secret, a fingerprint, a subject written differently).
    const [a, b] = [pick(byKind(objs, 'ClientBinding')), pick(byKind(objs, 'ClientBinding'))];
    const credsA = specOf(a)['credentials'] as Obj;
    const credsB = specOf(b)['credentials'] as Obj;
    if (chance(0.5)) credsB['apiKeys'] = structuredClone(credsA['apiKeys']);
    credsB['certificates'] = pick([{ fingerprints: [clientB.fingerprint.toUpperCase()] }, { subjects: ['O=Gozargah, CN=bus-b'] }, { subjects: ['CN=bus-b\\,O=Gozargah'] }]);
    (b['metadata'] as Obj)['namespace'] = (a['metadata'] as Obj)['namespace'];
    return 'conflict';
  },
  number: (objs) => {
    const o = pick(objs.filter((x) => typeof x['spec'] === 'object'));
    const numeric = slots(o['spec']).filter(([c, k]) => typeof (c as Record<string | number, unknown>)[k] === 'number');
    if (numeric.length === 0) return null;
    const [container, key] = pick(numeric);
    (container as Record<string | number, unknown>)[key] = pick(NUMBERS);
    return 'number';
  },
  leaf: (objs) => {
    const o = pick(objs.filter((x) => typeof x['spec'] === 'object'));
    const all = slots(o['spec']);
    if (all.length === 0) return null;
    const [container, key] = pick(all);
    const c = container as Record<string | number, unknown>;
    if (typeof c[key] === 'string' && chance(0.6)) c[key] = garble(c[key] as string);
    else if (chance(0.1) && !Array.isArray(c)) delete c[key];
    else c[key] = anyValue();
    return 'leaf';
  },
  duplicate: (objs) => {
    const o = structuredClone(pick(objs.filter((x) => typeof x['spec'] === 'object')));
    (o['metadata'] as Obj)['name'] = `copy-${int(1000)}`;
    objs.push(o);
    return 'duplicate';
  },
  remove: (objs) => {
    objs.splice(int(objs.length), 1);
    return 'remove';
  },
};
const names = Object.keys(mutations);

/**
 * What an older CRD might let through (its patterns, formats and bounds were looser): the
 * compiler is then trusted with it, as the operator trusts the apiserver. Validation applies the
 * schema's defaults in place, as the apiserver does before anyone reads the object.
 */
const LOOSE = /^(must match pattern|must match format|must NOT have more than|must NOT have fewer than|must NOT be longer than|at most [0-9]+ route entries|must be a CIDR)/;
function passesOlderCrd(o: Obj): boolean {
  if (!['ServiceProvider', 'InquiryRoute', 'ClientBinding'].includes(String(o['kind']))) return true;
  return validateObject(o).every((e) => LOOSE.test(e.message));
}

// ---- the run ---------------------------------------------------------------------------------

const auditDir = mkdtempSync(join(tmpdir(), 'gozargah-fuzz-'));
const accounting = new Accounting({ bus: 'default', replica: 'fuzz', redis: null, redisUnavailable: 'local', stateDir: null, log: () => {} });
const metering = new Metering({ bus: 'default', auditLog: join(auditDir, 'audit.jsonl'), auditQueueBytes: 1 << 20, auditUnavailable: 'serve', log: () => {}, gauges: () => ({ generation: 0, openBreakers: new Map(), quotas: [] }), accounting, chain: null, checkpointMs: 10_000, checkpointed: () => {} });
const pipeline = new Pipeline({ metering, accounting, evidence: true, pseudonymKey: null });
const refusals: string[] = [];
const loader = new Loader('default', pipeline, metering, accounting, (r) => {
  if (r['level'] === 'error') refusals.push(String(r['error']));
});
t.teardown(async () => {
  for (const { ctx } of loader.state.providers.values()) await ctx.pool.close().catch(() => undefined);
  await metering.shutdown(500);
  rmSync(auditDir, { recursive: true, force: true });
});

t.test('every snapshot the compiler produces from mutated objects loads', async (t2) => {
  const bases = [examples, tlsBus];
  const failures: string[] = [];
  const reasons = new Map<string, number>();
  const applied = new Map<string, number>();
  let snapshots = 0;
  let cases = 0;
  let trusted = 0;
  let generation = 0;
  const started = performance.now();
  for (; cases < CASES && performance.now() - started < TIME_BUDGET_MS; cases++) {
    const objs = structuredClone(pick(bases));
    const steps: string[] = [];
    for (let k = 1 + int(4); k > 0; k--) {
      const name = pick(names);
      let done: string | null = null;
      try {
        done = (mutations[name] as Mutation)(objs);
      } catch {
        // an earlier mutation removed what this one edits (a provider, a spec, an upstream): skip it
      }
      if (done !== null) steps.push(done);
    }
    const trustSchema = chance(0.25) && objs.every((o) => passesOlderCrd(structuredClone(o))) && objs.every(passesOlderCrd);
    if (trustSchema) trusted++;
    const where = `case ${cases} (seed ${SEED}; mutations ${steps.join(', ')}${trustSchema ? '; trustSchema' : ''})`;
    let out: ReturnType<typeof compile>;
    try {
      out = compile({ objects: objs, now: '2026-11-23T10:00:00Z', trustSchema });
    } catch (err) {
      failures.push(`${where}: compile threw ${(err as Error).stack ?? String(err)}`);
      continue;
    }
    for (const s of steps) applied.set(s, (applied.get(s) ?? 0) + 1);
    for (const s of out.statuses) {
      for (const c of s.status.conditions) if (c.status === 'False' && c.type !== 'Ready' && c.type !== 'Programmed') reasons.set(c.reason, (reasons.get(c.reason) ?? 0) + 1);
    }
    for (const [bus, snapshot] of Object.entries(out.snapshots)) {
      for (const [form, candidate] of [['as compiled', snapshot], ['after JSON', JSON.parse(JSON.stringify(snapshot)) as unknown]] as const) {
        snapshots++;
        const before = refusals.length;
        loader.offer({ snapshot: candidate, generation: ++generation, origin: `fuzz ${cases}` });
        if (refusals.length > before || loader.lastError !== null) {
          failures.push(`${where}: bus ${bus} ${form} refused by the loader: ${loader.lastError ?? refusals.at(-1) ?? ''}`);
          loader.lastError = null;
        }
      }
    }
    if (failures.length >= 20) break;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  t2.comment(`${cases} cases (${trusted} with trustSchema), ${snapshots} snapshot loads in ${seconds} s`);
  t2.comment(`mutations applied: ${[...applied].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  t2.comment(`refusals in status: ${[...reasons].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  t2.same(failures, [], `the loader took every snapshot the compiler produced (seed ${SEED})`);
  t2.ok(cases >= Math.min(CASES, 1000), `at least 1000 cases ran within the time budget (${cases})`);
  t2.ok(snapshots > cases, 'every case produced snapshots to load');
  // The run reached the refusals it is about, not only schema errors.
  for (const reason of ['Invalid', 'InvalidSchema', 'InvalidCertificate', 'KeyConflict', 'PathConflict']) {
    t2.ok((reasons.get(reason) ?? 0) > 0, `some objects were refused as ${reason}`);
  }
  t2.ok(trusted > 50, 'many cases trusted the schema, as the operator does');
});

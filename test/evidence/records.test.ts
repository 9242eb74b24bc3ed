// What each audit record proves, on the real dataplane: the SHA-256 of the request body as the
// client sent it and of the response body as the client received it (JSON, not JSON, empty,
// chunked, filtered by privacy rules, a refusal), the same request hash in the client's and the
// agency's x-gozargah-request-hash, and sensitive values only as HMAC pseudonyms: a national ID
// sent in a path or a body is found in no audit line and no log line, in clear.
import t from 'tap';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { auditCount, startDataplane } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'test-key-evidence-records-0123456789';
const OTHER = 'test-key-evidence-other-0123456789';
const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** An agency that answers by path: the body echoed as received, a chunked answer, a person with private fields, plain text, nothing. */
interface SeenCall {
  url: string;
  requestHash: string | undefined;
  body: Buffer;
}
const seen: SeenCall[] = [];
const agency = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const header = req.headers['x-gozargah-request-hash'];
    seen.push({ url: req.url ?? '', requestHash: typeof header === 'string' ? header : undefined, body });
    const url = req.url ?? '';
    if (url.startsWith('/chunked')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"parts":[');
      setTimeout(() => res.write('"one",'), 5);
      setTimeout(() => res.end('"two"]}'), 10);
      return;
    }
    if (url.startsWith('/person')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'Sara', birthPlace: 'Tabriz', valid: true }));
    if (url.startsWith('/text')) return void res.writeHead(200, { 'content-type': 'text/plain' }).end('valid: yes\n');
    if (url.startsWith('/empty')) return void res.writeHead(204).end();
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
});
await new Promise<void>((resolve) => agency.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => agency.close(() => resolve())));
const agencyUrl = `http://127.0.0.1:${(agency.address() as AddressInfo).port}`;

const keys = mkdtempSync(join(tmpdir(), 'gozargah-evidence-keys-'));
const PSEUDONYM_KEY = 'demo-only-pseudonym-key-0123456789abcdef0123456789abcdef';
writeFileSync(join(keys, 'pseudonym.key'), `${PSEUDONYM_KEY}\n`);
const pseudonym = (value: string): string => `hmac:${createHmac('sha256', PSEUDONYM_KEY).update(value).digest('hex').slice(0, 32)}`;

const dir = manifestDir([
  provider('agency', agencyUrl),
  route('echo', 'agency', '/ev/v1/echo', { methods: ['POST'], upstreamPath: '/echo' }),
  route('chunked', 'agency', '/ev/v1/chunked', { upstreamPath: '/chunked' }),
  route('person', 'agency', '/ev/v1/persons/{nationalId}', { upstreamPath: '/person/{nationalId}', privacy: { sensitive: true, dropResponseFields: ['birthPlace'] } }),
  route('text', 'agency', '/ev/v1/text', { upstreamPath: '/text' }),
  route('empty', 'agency', '/ev/v1/empty', { upstreamPath: '/empty' }),
  route('lookup', 'agency', '/ev/v1/lookup', {
    methods: ['POST'],
    upstreamPath: '/echo',
    requestSchema: { type: 'object', required: ['person'], properties: { person: { type: 'object', properties: { nationalId: { type: 'string' } } }, items: { type: 'array' } } },
    privacy: { neverLog: ['person.nationalId', 'items.*.id'] },
  }),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client-a', ['echo', 'chunked', 'person', 'text', 'empty', 'lookup'].map((name) => ({ namespace: 'gov', name }))),
  keySecret('other-keys', { k: OTHER }),
  binding('other', 'client-b', [{ namespace: 'gov', name: 'text' }]),
]);
const dp = await startDataplane(['--manifests', dir, '--audit-pseudonym-key', join(keys, 'pseudonym.key')]);
t.teardown(() => dp.stop());
const pool = new Pool(dp.url);
t.teardown(() => pool.close());

interface Answer {
  status: number;
  body: Buffer;
  requestHash: string | undefined;
  requestId: string;
}

async function call(path: string, init: { method?: string; body?: string | Buffer | Readable; key?: string; type?: string } = {}): Promise<Answer> {
  const requestId = `ev-${Math.random().toString(36).slice(2)}`;
  const headers: Record<string, string> = { 'x-api-key': init.key ?? KEY, 'x-request-id': requestId };
  if (init.type !== undefined) headers['content-type'] = init.type;
  const res = await pool.request({ path, method: (init.method ?? 'GET') as 'GET', headers, body: init.body });
  const body = Buffer.from(await res.body.arrayBuffer());
  const header = res.headers['x-gozargah-request-hash'];
  return { status: res.statusCode, body, requestHash: typeof header === 'string' ? header : undefined, requestId };
}

async function recordOf(requestId: string): Promise<Record<string, unknown>> {
  let record: Record<string, unknown> | undefined;
  await auditCount(dp, 1);
  for (let i = 0; i < 100 && record === undefined; i++) {
    record = dp.audit().find((r) => r['requestId'] === requestId);
    if (record === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  if (record === undefined) throw new Error(`no audit record for ${requestId}`);
  return record;
}

t.test('a JSON body: the record, the client and the agency hold the same request hash; the response hash is of the bytes received', async (t2) => {
  const sent = JSON.stringify({ question: 'is this valid?', n: 1 });
  const a = await call('/ev/v1/echo', { method: 'POST', body: sent, type: 'application/json' });
  t2.equal(a.status, 200);
  const r = await recordOf(a.requestId);
  t2.equal(r['requestHash'], sha256(sent), 'requestHash is the SHA-256 of the body sent');
  t2.equal(a.requestHash, sha256(sent), 'the client receives it in x-gozargah-request-hash');
  const call1 = seen.find((s) => s.body.toString() === sent);
  t2.equal(call1?.requestHash, sha256(sent), 'the agency receives the same hash');
  t2.equal(sha256(call1?.body ?? ''), sha256(sent), 'of the body it received');
  t2.equal(r['responseHash'], sha256(a.body), 'responseHash is the SHA-256 of the body the client received');
});

t.test('a body that is not JSON, and a chunked one, hash as sent', async (t2) => {
  const binary = Buffer.from([0, 1, 2, 255, 254, 10, 13, 0x7b]);
  const a = await call('/ev/v1/echo', { method: 'POST', body: binary, type: 'application/octet-stream' });
  const r = await recordOf(a.requestId);
  t2.equal(r['requestHash'], sha256(binary), 'binary body');
  t2.equal(a.requestHash, sha256(binary));
  t2.equal(r['responseHash'], sha256(a.body));

  const parts = ['{"first":', '"part",', '"second":"part"}'];
  const b = await call('/ev/v1/echo', { method: 'POST', body: Readable.from(parts.map((p) => Buffer.from(p))), type: 'application/json' });
  const rb = await recordOf(b.requestId);
  t2.equal(b.status, 200);
  t2.equal(rb['requestHash'], sha256(parts.join('')), 'a chunked request body hashes as the whole body');
  t2.equal(b.requestHash, sha256(parts.join('')));
  t2.equal(rb['responseHash'], sha256(b.body));
});

t.test('an empty body, a chunked answer, a text answer and an answer with no body', async (t2) => {
  const empty = await call('/ev/v1/chunked');
  t2.equal(empty.body.toString(), '{"parts":["one","two"]}', 'the chunked answer arrives whole');
  const r = await recordOf(empty.requestId);
  t2.equal(r['requestHash'], sha256(''), 'no body: the SHA-256 of no bytes');
  t2.equal(empty.requestHash, sha256(''));
  t2.equal(r['responseHash'], sha256(empty.body), 'the chunked answer hashes as received');

  const text = await call('/ev/v1/text');
  t2.equal((await recordOf(text.requestId))['responseHash'], sha256('valid: yes\n'));
  const none = await call('/ev/v1/empty');
  t2.equal(none.status, 204);
  t2.equal((await recordOf(none.requestId))['responseHash'], sha256(''), 'a 204 hashes as no bytes');
});

t.test('privacy rules: the response hash is of the answer after the field is dropped; the national ID is a pseudonym', async (t2) => {
  const a = await call('/ev/v1/persons/0012345678');
  t2.equal(a.status, 200);
  t2.same(JSON.parse(a.body.toString()), { name: 'Sara', valid: true }, 'birthPlace dropped');
  const r = await recordOf(a.requestId);
  t2.equal(r['responseHash'], sha256(a.body), 'the hash of what the client received, not of what the agency sent');
  t2.not(r['responseHash'], sha256(JSON.stringify({ name: 'Sara', birthPlace: 'Tabriz', valid: true })));
  t2.same(r['params'], { nationalId: pseudonym('0012345678') }, 'the path parameter is an HMAC pseudonym');
  const encoded = await call('/ev/v1/persons/%30012345678');
  t2.same((await recordOf(encoded.requestId))['params'], { nationalId: pseudonym('0012345678') }, 'percent-encoded, the same ID has the same pseudonym');
});

t.test('a refusal: the response hash is of the problem the client received', async (t2) => {
  const a = await call('/ev/v1/echo', { method: 'POST', body: 'x', key: OTHER });
  t2.equal(a.status, 403);
  const r = await recordOf(a.requestId);
  t2.equal(r['responseHash'], sha256(a.body));
  t2.equal(r['requestHash'], null, 'the body was never read: no request hash is claimed');
  t2.equal(a.requestHash, undefined, 'and none is sent');
});

t.test('sensitive body fields: pseudonyms in the record, valid or refused by the schema', async (t2) => {
  const body = JSON.stringify({ person: { nationalId: '0098765432' }, items: [{ id: '0011111111' }, { id: 22222222 }] });
  const a = await call('/ev/v1/lookup', { method: 'POST', body, type: 'application/json' });
  t2.equal(a.status, 200);
  const r = await recordOf(a.requestId);
  t2.same(r['fields'], { 'person.nationalId': [pseudonym('0098765432')], 'items.*.id': [pseudonym('0011111111'), pseudonym('22222222')] });
  const refused = await call('/ev/v1/lookup', { method: 'POST', body: JSON.stringify({ nobody: true, person: 'x', items: [{ id: '0033333333' }] }), type: 'application/json' });
  t2.equal(refused.status, 400);
  t2.same((await recordOf(refused.requestId))['fields'], { 'items.*.id': [pseudonym('0033333333')] }, 'a refused lookup of an ID is recorded too');
});

t.test('an ID hidden behind a thousand decoys: the record says how many values it left out', async (t2) => {
  const items = Array.from({ length: 1100 }, (_, i) => ({ id: String(5_000_000_000 + i) }));
  const a = await call('/ev/v1/lookup', { method: 'POST', body: JSON.stringify({ person: { nationalId: '0044444444' }, items }), type: 'application/json' });
  t2.equal(a.status, 200);
  const fields = (await recordOf(a.requestId))['fields'] as Record<string, string[]>;
  t2.same(fields['person.nationalId'], [pseudonym('0044444444')]);
  const ids = fields['items.*.id'] as string[];
  t2.equal(ids.length, 1024, '1,023 pseudonyms (1,024 per record, one taken by person.nationalId) and the count left out');
  t2.equal(ids.at(-1), '+77 more');
  t2.equal(ids[0], pseudonym('5000000000'));
});

t.test('no national ID sent appears in clear in the audit file, the process log or the metrics', async (t2) => {
  const metrics = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  await dp.stop();
  const audit = readFileSync(dp.auditPath, 'utf8');
  const logs = dp.logs();
  for (const id of ['0012345678', '0098765432', '0011111111', '22222222', '0033333333']) {
    t2.notOk(audit.includes(id), `${id} not in the audit file`);
    t2.notOk(logs.includes(id), `${id} not in the process log`);
    t2.notOk(metrics.includes(id), `${id} not in /metrics`);
  }
  t2.ok(audit.includes(pseudonym('0012345678')), 'its pseudonym is');
});

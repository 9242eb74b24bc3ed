// neverLog means what the API says, on the examples as shipped: the real dataplane serves
// examples/ (only the agencies' URLs pointed at a stand-in on loopback) and no national ID, booklet
// number or body field marked neverLog reaches its audit records, its logs or its metrics,
// whichever client asks, however the ID is encoded, and whether the call is served or refused.
//   - civil-registry/person-by-national-id is privacy.sensitive: its {nationalId} is redacted;
//   - health-insurance/booklet-validity lists {bookletNumber} in neverLog;
//   - education/literacy-level lists the body field nationalId: no body reaches a record.
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { auditCount, ROOT, startDataplane, waitFor } from '../helpers/dataplane.ts';

/** Keys from examples/ (demo-only values, in the Secrets the examples ship). */
const EDUCATION_KEY = 'demo-only-education-Qm5Zt8Lk2Pw9';
const BANK_KEY = 'demo-only-bankmelli-Hc4Wq7Ns1Xe6';

const agency = await startAgency();
t.teardown(() => agency.close());

// examples/ as shipped, the agencies' URLs (127.0.0.1:18081-18084) pointed at the stand-in.
const dir = mkdtempSync(join(tmpdir(), 'gozargah-never-log-'));
for (const file of readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml'))) {
  const text = readFileSync(join(ROOT, 'examples', file), 'utf8');
  writeFileSync(join(dir, file), text.replace(/http:\/\/127\.0\.0\.1:1808[0-9]/g, agency.url));
}
const dp = await startDataplane(['--manifests', dir, '--bus', 'internal']);
t.teardown(() => dp.stop());
const client = new Pool(dp.url);
t.teardown(() => client.close());

/** Distinct ten-digit IDs that occur nowhere else in a record or log line. */
const ids = Array.from({ length: 24 }, (_, i) => `9${String(187_654_321 + i * 7_919).padStart(9, '0')}`);
const percentEncoded = (s: string): string => [...s].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');

async function call(path: string, key: string, init: { method?: string; body?: string } = {}): Promise<number> {
  const headers: Record<string, string> = { 'x-api-key': key };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await client.request({ path, method: (init.method ?? 'GET') as 'GET', headers, body: init.body });
  await res.body.text();
  return res.statusCode;
}

t.test('no national ID sent in the path of the civil-registry example reaches an audit record', async (t2) => {
  let sent = 0;
  const statuses = new Map<number, number>();
  const count = (status: number): void => {
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    sent++;
  };
  // One client: the bank's binding allows a burst of 40, the ministry's 400.
  const key = EDUCATION_KEY;
  for (const id of ids) {
    count(await call(`/civil-registry/v1/persons/${id}`, key));
    count(await call(`/civil-registry/v1/persons/${percentEncoded(id)}`, key));
    count(await call(`/civil-registry/v1/persons/${id}?asOf=2026-01-01&ref=${id}`, key));
    count(await call(`/civil-registry/v1/persons/${id}%20`, key));
  }
  t2.equal(statuses.get(200), sent, 'every call was served by the agency');
  t2.ok(agency.seen.some((s) => s.url === `/inquiry/person/${ids[0]}`), 'the agency did receive the national ID itself');
  const records = (await auditCount(dp, sent)).filter((r) => r['route'] === 'civil-registry/person-by-national-id');
  t2.equal(records.length, sent, 'one audit record per call');
  t2.ok(records.every((r) => (r['params'] as Record<string, string>)['nationalId'] === '[redacted]'), 'nationalId is [redacted] in every record');
  const audit = readFileSync(dp.auditPath, 'utf8');
  for (const id of ids) t2.notOk(audit.includes(id) || audit.includes(percentEncoded(id)), `${id} is in no audit record`);
});

t.test('nor does a booklet number (neverLog) or a national ID in a body, served or refused', async (t2) => {
  const before = dp.audit().length;
  let sent = 0;
  for (const id of ids.slice(0, 8)) {
    t2.equal(await call(`/health-insurance/v1/booklets/${id}/validity`, EDUCATION_KEY), 200, 'booklet: served');
    t2.equal(await call('/education/v1/literacy-inquiries', BANK_KEY, { method: 'POST', body: JSON.stringify({ nationalId: id }) }), 200, 'literacy: served');
    t2.equal(await call('/education/v1/literacy-inquiries', BANK_KEY, { method: 'POST', body: `{"nationalId":"${id}","nationalId":"0000000000"}` }), 400, 'a duplicate key: refused');
    t2.equal(await call('/education/v1/literacy-inquiries', BANK_KEY, { method: 'POST', body: JSON.stringify({ nationalId: id, extra: id }) }), 400, 'against the schema: refused');
    t2.equal(await call(`/civil-registry/v1/persons/${id}`, 'not-a-known-key-0123456789'), 401, 'an unknown client: refused');
    t2.equal(await call(`/civil-registry/v1/persons/${id}`, EDUCATION_KEY, { method: 'POST' }), 405, 'a wrong method: refused');
    t2.equal(await call(`/civil-registry/v1/persons/${id}?api_key=${id}`, EDUCATION_KEY), 400, 'a credential in the query: refused');
    t2.equal(await call(`/education/v1/literacy-inquiries/${id}`, BANK_KEY), 404, 'no such route: refused');
    sent += 8;
  }
  await auditCount(dp, before + sent);
  const audit = readFileSync(dp.auditPath, 'utf8');
  const booklets = dp.audit().filter((r) => r['route'] === 'health-insurance/booklet-validity');
  t2.ok(booklets.length >= 8 && booklets.every((r) => (r['params'] as Record<string, string>)['bookletNumber'] === '[redacted]'), 'bookletNumber is [redacted]');
  for (const id of ids.slice(0, 8)) t2.notOk(audit.includes(id), `${id} is in no audit record`);
});

t.test('nor any log line or metric; and the dataplane still serves', async (t2) => {
  const metrics = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  const config = await (await fetch(`${dp.adminUrl}/config`)).text();
  for (const id of ids) {
    t2.notOk(dp.logs().includes(id), `${id} is in no log line`);
    t2.notOk(metrics.includes(id) || config.includes(id), `${id} is in no metric and not in /config`);
  }
  t2.ok(metrics.includes('civil-registry/person-by-national-id'), 'the metrics do name the route');
  t2.equal(await call('/post/v1/addresses/1234567890', BANK_KEY), 200, 'the dataplane still serves');
  const postal = (): Record<string, unknown> | undefined => dp.audit().find((r) => r['route'] === 'national-post/address-by-postal-code');
  await waitFor(() => postal() !== undefined, 10_000, () => 'no audit record for the last call');
  t2.same(postal()?.['params'], { postalCode: '1234567890' }, 'a parameter nobody marked is logged as sent');
});

// Exact metering: N requests of mixed outcomes are counted exactly N times, by outcome, in
// /metrics and in the audit log. And no credential appears in any log, metric or /config.
import t from 'tap';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, auditCount } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'test-key-metering-0123456789';
const LIMITED = 'test-key-metering-limited-0123';
const agency = await startAgency();
t.teardown(() => agency.close());
const dir = manifestDir([
  provider('agency', agency.url),
  // A separate provider for the failing route, with a breaker that stays closed for this test.
  provider('failing', agency.url, { circuitBreaker: { consecutiveFailures: 1000 } }),
  route('echo', 'agency', '/m/v1/echo/{id}', { upstreamPath: '/echo/{id}' }),
  route('fail', 'failing', '/m/v1/fail', { upstreamPath: '/status/500' }),
  route('other', 'agency', '/m/v1/other'),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client-a', [{ namespace: 'gov', name: 'echo' }, { namespace: 'gov', name: 'fail' }]),
  keySecret('limited-keys', { k: LIMITED }),
  binding('limited', 'client-b', [{ namespace: 'gov', name: 'echo' }], { rateLimit: { requestsPerSecond: 1, burst: 5 } }),
]);
const dp = await startDataplane(['--manifests', dir]);
t.teardown(() => dp.stop());
const pool = new Pool(dp.url, { connections: 8 });
t.teardown(() => pool.close());

/** Prometheus text -> sum of a counter's samples by one label. */
function countsBy(text: string, metric: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const value = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '';
    out.set(value, (out.get(value) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return out;
}

t.test('N mixed requests: /metrics and the audit log count exactly N, by outcome', async (t2) => {
  const plan: { path: string; key: string | null; code: string }[] = [];
  for (let i = 0; i < 40; i++) plan.push({ path: `/m/v1/echo/${i}`, key: KEY, code: 'ok' });
  for (let i = 0; i < 7; i++) plan.push({ path: '/m/v1/fail', key: KEY, code: 'upstream_error' });
  for (let i = 0; i < 5; i++) plan.push({ path: '/m/v1/other', key: KEY, code: 'route_not_granted' });
  for (let i = 0; i < 6; i++) plan.push({ path: '/m/v1/echo/1', key: null, code: 'credentials_missing' });
  for (let i = 0; i < 4; i++) plan.push({ path: '/m/v1/echo/1', key: 'wrong-key-0123456789abc', code: 'credentials_invalid' });
  for (let i = 0; i < 3; i++) plan.push({ path: '/nope', key: KEY, code: 'route_not_found' });
  for (let i = 0; i < 9; i++) plan.push({ path: '/m/v1/echo/2', key: LIMITED, code: i < 5 ? 'ok' : 'rate_limited' });
  const n = plan.length;
  // Concurrent, in batches, so the count is tested under interleaving.
  for (let i = 0; i < plan.length; i += 10) {
    await Promise.all(
      plan.slice(i, i + 10).map(async (p) => {
        const res = await pool.request({ path: p.path, method: 'GET', headers: p.key === null ? {} : { 'x-api-key': p.key } });
        await res.body.dump();
      }),
    );
  }
  const expected = new Map<string, number>();
  for (const p of plan) expected.set(p.code, (expected.get(p.code) ?? 0) + 1);

  const records = await auditCount(dp, n);
  t2.equal(records.length, n, `the audit log holds exactly ${n} records`);
  const audited = new Map<string, number>();
  for (const r of records) audited.set(r['code'] as string, (audited.get(r['code'] as string) ?? 0) + 1);
  t2.same(Object.fromEntries(audited), Object.fromEntries(expected), 'audit records by outcome');
  t2.equal(new Set(records.map((r) => r['requestId'])).size, n, 'every record has its own request id');

  const metrics = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  const byCode = countsBy(metrics, 'gozargah_requests_total', 'code');
  t2.same(Object.fromEntries(byCode), Object.fromEntries(expected), 'gozargah_requests_total by code');
  const rejections = countsBy(metrics, 'gozargah_rejections_total', 'reason');
  t2.equal(rejections.get('rate_limited'), 4);
  t2.equal(rejections.get('ok'), undefined, 'successes are not rejections');
  t2.match(metrics, /gozargah_request_duration_seconds_bucket\{route="gov\/echo"/, 'latency histogram by route');
  t2.notMatch(metrics, /gozargah_request_duration_seconds_bucket\{[^}]*client=/, 'no client label on histograms');
  t2.match(metrics, /gozargah_snapshot_generation\{[^}]*\} 1/, 'the generation in force');
});

t.test('no API key in any log, metric or /config', async (t2) => {
  const metrics = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  const config = await (await fetch(`${dp.adminUrl}/config`)).text();
  const everything = [metrics, config, dp.logs(), JSON.stringify(dp.audit())].join('\n');
  for (const key of [KEY, LIMITED, 'wrong-key-0123456789abc']) t2.notOk(everything.includes(key), `key ${key.slice(0, 12)}... appears nowhere`);
  const parsed = JSON.parse(config) as { routes: unknown[]; bindings: { apiKeys: number }[]; hash: string };
  t2.equal(parsed.routes.length, 3);
  t2.equal(parsed.bindings[0]?.apiKeys, 1, '/config says how many keys, not which');
  t2.notMatch(config, /sha256"|[a-f0-9]{64}(?!")/, 'not even key hashes');
});

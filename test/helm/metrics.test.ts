// The dashboard and the alerts query what the dataplane really exports: a real dataplane, counting
// in a real Redis as the production values have it, serves a few requests (forwarded, refused, over
// quota), and every metric named by a dashboard panel or a PrometheusRule expression appears in its
// /metrics, with every label the query groups or filters by; every series carries the bus. The
// `helm test` Pod's script passes against this real bus and fails against anything else.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane, ROOT } from '../helpers/dataplane.ts';
import { CHART, helm } from '../helpers/helm.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';
import { startRedis } from '../helpers/redis.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const KEY = 'test-key-helm-metrics-0123456789';
const agency = await startAgency();
t.teardown(() => agency.close());
const dir = manifestDir([
  provider('agency', agency.url),
  route('echo', 'agency', '/h/v1/echo/{id}', { upstreamPath: '/echo/{id}' }),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client-a', [{ namespace: 'gov', name: 'echo' }], { quota: { requests: 2, period: 'Day' } }),
]);
// The Redis metrics (gozargah_redis_*, gozargah_usage_*) exist only with --redis.
const redis = await startRedis();
const dp = await startDataplane(['--manifests', dir, '--redis', redis.url]);
t.teardown(async () => {
  await dp.stop();
  await redis.close();
});

for (let i = 0; i < 3; i++) await (await fetch(`${dp.url}/h/v1/echo/${i}`, { headers: { 'x-api-key': KEY } })).arrayBuffer(); // 2 ok, 1 quota_exhausted
await (await fetch(`${dp.url}/h/v1/echo/1`)).arrayBuffer(); // credentials_missing
const exposition = await (await fetch(`${dp.adminUrl}/metrics`)).text();

/** metric name -> the label names its samples carry */
const exported = new Map<string, Set<string>>();
for (const line of exposition.split('\n')) {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
  if (m === null) continue;
  const labels = exported.get(m[1] as string) ?? new Set<string>();
  for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1] as string);
  exported.set(m[1] as string, labels);
}

// Labels Prometheus adds when it scrapes (target labels), and histogram buckets.
const TARGET_LABELS = new Set(['namespace', 'pod', 'le', 'job', 'instance', 'service']);
const OPERATOR = /^gozargah_operator_/;

/** Checks one PromQL expression: its metrics exist and carry the labels it uses. */
function checkExpr(t2: Test, where: string, expr: string): void {
  const metrics = [...new Set([...expr.matchAll(/\bgozargah_[a-z0-9_]+/g)].map((m) => m[0]))];
  t2.ok(metrics.length > 0, `${where}: names a gozargah metric`);
  const labels = new Set<string>();
  for (const by of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) for (const l of (by[1] as string).split(',')) labels.add(l.trim());
  for (const sel of expr.matchAll(/\{([^}]*)\}/g)) for (const l of (sel[1] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) labels.add(l[1] as string);
  const dataplane = metrics.filter((m) => !OPERATOR.test(m));
  for (const metric of dataplane) t2.ok(exported.has(metric), `${where}: ${metric} is in the dataplane's /metrics`);
  for (const label of labels) {
    if (TARGET_LABELS.has(label) || label === '') continue;
    const carriers = dataplane.filter((m) => exported.get(m)?.has(label));
    // Operator metrics are checked by name below; a label only they carry is theirs.
    if (carriers.length === 0 && metrics.some((m) => OPERATOR.test(m))) continue;
    t2.ok(carriers.length > 0, `${where}: label ${label} is on ${dataplane.join(', ')}`);
  }
}

t.test('the exposition has the series the queries need', async (t2) => {
  for (const name of ['gozargah_requests_total', 'gozargah_rejections_total', 'gozargah_request_duration_seconds_bucket', 'gozargah_upstream_duration_seconds_bucket', 'gozargah_snapshot_generation', 'gozargah_snapshot_reloads_total', 'gozargah_circuit_breaker_open']) {
    t2.ok(exported.has(name), `${name} is exported`);
  }
  t2.match(exposition, /gozargah_requests_total\{[^}]*code="quota_exhausted"/, 'a quota refusal is counted with its code');
  t2.match(exposition, /^gozargah_quota_used_ratio\{binding="clients\/client",client="client-a"[^}]*\} 1$/m, 'the quota used: 2 of 2');
});

t.test('every series carries its bus; the agency latency carries the provider; the overhead counts forwarded requests only', async (t2) => {
  const samples = exposition.split('\n').filter((l) => /^[a-zA-Z_]/.test(l));
  t2.ok(samples.length > 50, `${samples.length} samples`);
  const withoutBus = samples.filter((l) => !/[{,]bus="default"[,}]/.test(l));
  t2.strictSame(withoutBus, [], 'every sample has bus="default" (the dataplane\'s --bus)');
  t2.strictSame(
    samples.filter((l) => (l.match(/[{,]bus="/g) ?? []).length !== 1),
    [],
    'and only once',
  );
  for (const line of samples.filter((l) => l.startsWith('gozargah_upstream_duration_seconds'))) {
    t2.match(line, /[{,]provider="gov\/agency"[,}]/, `${line.split(' ')[0]}: provider`);
  }
  const value = (name: string): number => Number(/ (\S+)$/.exec(samples.find((l) => l.startsWith(`${name}{`)) ?? '')?.[1]);
  // 2 forwarded to the agency, 2 refused by the bus (quota, credentials) without reaching it.
  t2.equal(value('gozargah_request_duration_seconds_count'), 4, 'every request in the time through the bus');
  t2.equal(value('gozargah_upstream_duration_seconds_count'), 2, 'the agency timed twice');
  t2.equal(value('gozargah_bus_overhead_seconds_count'), 2, "the bus's overhead: the same two requests");
  t2.ok(value('gozargah_bus_overhead_seconds_sum') >= 0, 'never below zero');
  t2.ok(value('gozargah_bus_overhead_seconds_sum') <= value('gozargah_request_duration_seconds_sum'), 'within the time through the bus');
});

t.test("the helm test script passes against the bus's Service, and fails against anything else", async (t2) => {
  const out = await helm()(['template', 'gozargah', CHART, '--namespace', 'gozargah-system', '--show-only', 'templates/tests/bus.yaml']);
  t2.equal(out.code, 0, out.stderr);
  const [pod] = parseAllDocuments(out.stdout).map((d) => d.toJS() as Obj);
  const [command, flag, script] = pod?.['spec']['containers'][0]['command'] as [string, string, string];
  t2.strictSame([command, flag], ['node', '-e']);
  const run = (url: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, ['-e', script], { env: { GOZARGAH_BUS: 'default', GOZARGAH_BUS_URL: url }, timeout: 20_000 }, (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }),
      );
    });
  const ok = await run(`${dp.url}/`);
  t2.equal(ok.code, 0, `passes against a real bus: ${ok.stdout}${ok.stderr}`);
  t2.match(ok.stdout, /401, x-gozargah-error: credentials_missing, content-type: application\/problem\+json/);
  const agencyAnswer = await run(`${agency.url}/`);
  t2.equal(agencyAnswer.code, 1, 'fails against a server that is not the bus (the agency)');
  t2.match(agencyAnswer.stderr, /did not answer with its 401 credentials_missing problem/);
  const nobody = await run('http://127.0.0.1:9/');
  t2.equal(nobody.code, 1, 'fails when nothing answers');
  t2.match(nobody.stderr, /failed: /);
});

t.test('every dashboard panel queries metrics the dataplane exports', async (t2) => {
  const dashboard = JSON.parse(readFileSync(join(CHART, 'files/dashboard.json'), 'utf8')) as Obj;
  const panels = dashboard['panels'] as Obj[];
  t2.ok(panels.length >= 10);
  const titles = panels.map((p) => p['title'] as string).join('\n');
  for (const wanted of [/by provider/, /by client/, /by route/, /[Ll]atency/, /[Rr]ejections.*by reason/]) t2.match(titles, wanted);
  const ids = new Set<number>();
  for (const panel of panels) {
    ids.add(panel['id'] as number);
    const targets = panel['targets'] as Obj[];
    t2.ok(targets.length > 0, `${panel['title']}: has a query`);
    for (const target of targets) checkExpr(t2, `panel "${panel['title']}"`, target['expr'] as string);
  }
  t2.equal(ids.size, panels.length, 'panel ids are unique');
});

t.test('every alert queries metrics that exist', async (t2) => {
  const out = await helm()(['template', 'gozargah', CHART, '--namespace', 'gozargah-system', '--values', join(CHART, 'values-production.yaml'), '--show-only', 'templates/monitoring/prometheusrule.yaml']);
  t2.equal(out.code, 0, out.stderr);
  const [rule] = parseAllDocuments(out.stdout).map((d) => d.toJS() as Obj);
  const alerts = (rule?.['spec']['groups'][0]['rules'] ?? []) as Obj[];
  const names = alerts.map((a) => a['alert'] as string);
  for (const wanted of ['GozargahDataplaneStale', 'GozargahProviderErrorRatio', 'GozargahCircuitBreakerOpen', 'GozargahQuotaExhausted', 'GozargahRedisUnreachable', 'GozargahRedisLocalDecisions', 'GozargahUsageNotFlushed']) t2.ok(names.includes(wanted), `alert ${wanted}`);
  for (const alert of alerts) checkExpr(t2, `alert ${alert['alert']}`, alert['expr'] as string);

  // The operator's metrics come from operator/ (not started here): its source must name them.
  const operatorMetrics = [...new Set(alerts.flatMap((a) => [...(a['expr'] as string).matchAll(/\bgozargah_operator_[a-z_]+/g)].map((m) => m[0])))];
  const sources = existsSync(join(ROOT, 'operator'))
    ? readdirSync(join(ROOT, 'operator'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts'))
        .map((f) => readFileSync(join(ROOT, 'operator', f), 'utf8'))
        .join('\n')
    : '';
  for (const metric of operatorMetrics) {
    // OpenTelemetry's Prometheus exporter adds _total to counters.
    t2.ok(sources.includes(metric.replace(/_total$/, '')), `${metric} is exported by operator/`);
  }
});

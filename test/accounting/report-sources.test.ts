// The same traffic, reported twice: `gozargah report` from the fleet's counts in Redis and from
// the dataplanes' audit records gives the same numbers. Real dataplanes (two replicas), a real
// redis-server, a real agency; the CLI run as a user runs it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { NODE, ROOT, startDataplane } from '../helpers/dataplane.ts';
import { keyOf } from '../helpers/fleet.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';
import { startRedis } from '../helpers/redis.ts';

const redis = await startRedis();
t.teardown(() => redis.close());
const agency = await startAgency();
t.teardown(() => agency.close());
const dir = manifestDir([
  provider('registry', agency.url, { circuitBreaker: { consecutiveFailures: 1000 } }),
  route('person', 'registry', '/registry/v1/persons/{nationalId}', { upstreamPath: '/echo/{nationalId}' }),
  route('failing', 'registry', '/registry/v1/failing', { upstreamPath: '/status/500' }),
  keySecret('bank-keys', { k: keyOf('bank') }),
  binding('bank', 'bank', [{ namespace: 'gov', name: 'person' }, { namespace: 'gov', name: 'failing' }]),
  keySecret('trial-keys', { k: keyOf('trial') }),
  binding('trial', 'trial', [{ namespace: 'gov', name: 'person' }], { quota: { requests: 3, period: 'Day' } }),
]);
t.test('the report from Redis equals the report from the audit records of the same traffic', async (t) => {
  const replicas = await Promise.all([0, 1].map((i) => startDataplane(['--manifests', dir, '--redis', redis.url, '--replica', `report-${i}`])));

  // A known mix: served, agency errors, refusals by quota, by key and by path, across both replicas.
  const plan: [path: string, key: string | null, times: number][] = [
    ['/registry/v1/persons/0012345678', keyOf('bank'), 40],
    ['/registry/v1/failing', keyOf('bank'), 6],
    ['/registry/v1/persons/0012345678', keyOf('trial'), 8],
    ['/registry/v1/persons/0012345678', 'not-a-key-0123456789abcdef', 4],
    ['/registry/v1/nowhere', keyOf('bank'), 2],
  ];
  const pools = replicas.map((r) => new Pool(r.url));
  let sent = 0;
  for (const [path, key, times] of plan) {
    for (let i = 0; i < times; i++) {
      const res = await (pools[sent++ % 2] as Pool).request({ path, method: 'GET', headers: key === null ? {} : { 'x-api-key': key } });
      await res.body.text();
    }
  }
  await Promise.all(pools.map((p) => p.close()));
  // Stopped, so the last batch reached Redis and the last records the audit files.
  for (const dp of replicas) t.equal(await dp.stop(), 0, 'the replica stopped cleanly');

  const month = new Date().toISOString().slice(0, 7);
  function report(...source: string[]): Record<string, unknown> {
    const run = spawnSync(NODE, [join(ROOT, 'cli/main.ts'), 'report', ...source, '--month', month, '-o', 'json'], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`gozargah report failed (${run.status}): ${run.stderr}`);
    return JSON.parse(run.stdout) as Record<string, unknown>;
  }
  const fromRedis = report('--redis', redis.url);
  const fromAudit = report('--audit', ...replicas.map((r) => r.auditPath));

  t.same(fromRedis, fromAudit, 'Redis and the audit log give the same report');
  t.match(
    fromRedis,
    {
      buses: ['default'],
      transactions: sent,
      outcomes: { served: { transactions: 40 + 3 }, agency_error: { transactions: 6 }, refused: { transactions: 5 + 4 + 2 } },
      active: { providers: 1, services: 2, clients: 2 },
    },
    `every one of the ${sent} transactions, in its outcome`,
  );
  t.equal(replicas.reduce((n, r) => n + r.audit().length, 0), sent, 'one audit record per transaction');
});

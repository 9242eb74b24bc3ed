// The operator as a deployment runs it: restarted, it converges without writing anything that
// did not change; with two replicas one leads and the other takes over when the leader dies;
// and with the API server gone, the dataplane keeps serving the last snapshot it had.
import t from 'tap';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startAgency } from '../helpers/agency.ts';
import { ROOT, startDataplane, waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';
import { startControlPlane, reconciledSince, startOperator, SYSTEM_NS, type RunningOperator } from '../helpers/operator.ts';

t.setTimeout(240_000);
const KINDS = 'serviceproviders,inquiryroutes,clientbindings';
const KEY = 'demo-only-ha-key-Mn4bV5cX6z';
// Short, so the test is quick; not shorter, or a loaded machine's pauses would cost the leader its Lease.
const LEASE_SECONDS = 4;
// Relisting every 5 s (300 s by default), so the check of the published Secrets comes round soon.
const LEASE = ['--lease-seconds', String(LEASE_SECONDS), '--rewatch-seconds', '5'];

const { cluster, credentials } = await startControlPlane(t);
const kubectl = cluster.run;
await kubectl(['apply', '-f', join(ROOT, 'examples')]);
await kubectl(['create', 'namespace', 'gov']);
await kubectl(['create', 'namespace', 'clients']);
const agency = await startAgency();
t.teardown(() => agency.close());
await kubectl(
  ['apply', '-f', '-'],
  [provider('agency', agency.url), route('echo', 'agency', '/ha/v1/echo/{id}', { upstreamPath: '/echo/{id}', buses: ['public'] }), keySecret('ha-keys', { k: KEY }), binding('ha', 'ha-client', [{ namespace: 'gov', name: 'echo' }], { bus: 'public' })]
    .map((o) => stringify(o))
    .join('---\n'),
);

const operators: RunningOperator[] = [];
const operator = async (identity: string): Promise<RunningOperator> => {
  const op = await startOperator(credentials.operator, identity, LEASE);
  operators.push(op);
  return op;
};
t.teardown(() => Promise.all(operators.map((op) => op.stop('SIGKILL'))));

let first = await operator('operator-a');
// Outside the cluster directory, which stopping the control plane removes.
const keep = mkdtempSync(join(tmpdir(), 'gozargah-ha-'));
const kubeconfig = join(keep, 'dataplane.kubeconfig');
copyFileSync(credentials.dataplane, kubeconfig);
const publicArgs = ['--kubeconfig', kubeconfig, '--namespace', SYSTEM_NS, '--bus', 'public', '--cache-dir', join(keep, 'cache')];
const dp = await startDataplane([...publicArgs, '--replica', 'dp-public-0']);
t.teardown(() => dp.stop());
const internalDp = await startDataplane(['--kubeconfig', credentials.dataplane, '--namespace', SYSTEM_NS, '--bus', 'internal', '--replica', 'dp-internal-0']);
t.teardown(() => internalDp.stop());

interface Item {
  kind: string;
  metadata: { namespace: string; name: string; generation: number; resourceVersion: string };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
}
const list = async (what: string, ns?: string): Promise<Item[]> => (JSON.parse(await kubectl(['get', what, ...(ns === undefined ? ['-A'] : ['-n', ns]), '-o', 'json'])) as { items: Item[] }).items;
const ready = (o: Item): boolean => o.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && o.status.observedGeneration === o.metadata.generation;
const allReady = async (): Promise<boolean> => (await list(KINDS)).every(ready);
/** resourceVersion of every object the operator writes: the three kinds and the snapshot Secrets */
const versions = async (): Promise<Map<string, string>> =>
  new Map([...(await list(KINDS)), ...(await list('secrets', SYSTEM_NS))].map((o) => [`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, o.metadata.resourceVersion]));
const eventCount = async (): Promise<number> => (await list('events')).length;
const served = async (): Promise<number> => {
  const res = await fetch(`${dp.url}/ha/v1/echo/1`, { headers: { 'x-api-key': KEY } });
  await res.arrayBuffer();
  return res.status;
};

await waitFor(allReady, 60_000, () => `never all Ready:\n${first.logs().slice(-3000)}`);

t.test('restarted, the operator converges and writes nothing that did not change', async (t2) => {
  const before = await versions();
  const events = await eventCount();
  t2.equal(await first.stop(), 0, 'SIGTERM: a clean exit');
  const since = new Date().toISOString();
  first = await operator('operator-a');
  await reconciledSince(first, since);
  await new Promise((r) => setTimeout(r, 1000)); // anything it would still write, it has had time to
  t2.same(await versions(), before, 'no object and no snapshot Secret changed');
  t2.equal(await eventCount(), events, 'no Event recorded');
  t2.notMatch(await (await fetch(`${first.adminUrl}/metrics`)).text(), /^gozargah_operator_status_writes_total\{/m, 'no status write counted');
  t2.match(await (await fetch(`${first.adminUrl}/metrics`)).text(), /^gozargah_operator_leader(_ratio)?(\{[^}]*\})? 1/m);
});

t.test('two operators: one leads; when it dies the other takes over within the lease time', async (t2) => {
  const second = await operator('operator-b');
  await waitFor(async () => (await second.state()).ready, 20_000, () => 'the standby never synced');
  t2.same([(await first.state()).leader, (await second.state()).leader], [true, false], 'the running one leads; the new one stands by');
  t2.equal((await fetch(`${second.adminUrl}/readyz`)).status, 200, 'a synced standby is ready');

  // A change while B stands by: A writes it, B writes nothing.
  await kubectl(['apply', '-f', '-'], stringify(binding('ha', 'ha-client', [{ namespace: 'gov', name: 'echo' }], { bus: 'public', rateLimit: { requestsPerSecond: 99, burst: 99 } })));
  await waitFor(async () => (await list('clientbindings', 'clients')).every(ready), 20_000, () => 'the leader did not reconcile the change');
  t2.notMatch(await (await fetch(`${second.adminUrl}/metrics`)).text(), /^gozargah_operator_status_writes_total\{/m, 'the standby wrote no status');
  t2.notMatch(second.logs(), /"snapshot published"/, 'the standby published nothing');
  await first.stop('SIGKILL');
  const died = Date.now();
  await waitFor(async () => (await second.state()).leader, 15_000, () => `the standby never took over:\n${second.logs().slice(-2000)}`);
  const tookMs = Date.now() - died;
  // The standby waits a whole lease from the last renewal it saw, then tries at its next retry
  // (a lease / 7.5); polling /readyz adds a little.
  t2.ok(tookMs <= LEASE_SECONDS * 1000 + 1500, `took over ${tookMs} ms after the leader died (lease ${LEASE_SECONDS} s)`);
  t2.match(second.logs(), /"the leader stopped renewing; taking over","previous":"operator-a"/);

  // The new leader does the work: a changed route gets its new generation in status.
  await kubectl(['apply', '-f', '-'], stringify(route('echo', 'agency', '/ha/v2/echo/{id}', { upstreamPath: '/echo/{id}', buses: ['public'] })));
  await waitFor(
    async () => {
      const r = (await list('inquiryroutes', 'gov')).find((o) => o.metadata.name === 'echo');
      return r !== undefined && ready(r) && r.metadata.generation === 2;
    },
    20_000,
    () => `the new leader did not reconcile:\n${second.logs().slice(-2000)}`,
  );
  await waitFor(async () => (await fetch(`${dp.url}/ha/v2/echo/1`, { headers: { 'x-api-key': KEY } })).status === 200, 20_000, () => `the new path was never served:\n${dp.logs().slice(-3000)}\n${second.logs().slice(-2000)}`);
  t2.pass('served after the failover');
});

t.test('a manifest or a shard deleted by hand is published again', async (t2) => {
  interface Manifest {
    generation: number;
    hash: string;
    shards: { name: string }[];
  }
  const manifest = async (): Promise<Manifest | null> => {
    const out = await cluster.kubectl(['get', 'secret', '-n', SYSTEM_NS, 'gozargah-snapshot-public', '-o', 'jsonpath={.data.manifest\\.json}']);
    return out.code === 0 ? (JSON.parse(Buffer.from(out.stdout, 'base64').toString('utf8')) as Manifest) : null;
  };
  const before = (await manifest()) as Manifest;
  await kubectl(['delete', 'secret', '-n', SYSTEM_NS, 'gozargah-snapshot-public']);
  let again: Manifest | null = null;
  await waitFor(async () => ((again = await manifest())?.generation ?? 0) > before.generation, 30_000, () => 'the manifest was not published again');
  t2.equal((again as unknown as Manifest).hash, before.hash, 'the same snapshot, at a higher generation');

  const shard = (again as unknown as Manifest).shards[0]?.name as string;
  await kubectl(['delete', 'secret', '-n', SYSTEM_NS, shard]);
  await waitFor(async () => (await cluster.kubectl(['get', 'secret', '-n', SYSTEM_NS, shard])).code === 0, 30_000, () => `shard ${shard} was not written again`);
  t2.pass(`shard ${shard} written again`);
  let config: { hash: string; generation: number; lastError: string | null } | null = null;
  const latest = (await manifest()) as Manifest;
  await waitFor(async () => (config = (await (await fetch(`${dp.adminUrl}/config`)).json()) as typeof config)?.generation === latest.generation, 15_000, () => `the dataplane serves generation ${String((config as { generation?: number } | null)?.generation)}, not ${latest.generation}`);
  t2.same([(config as unknown as { hash: string }).hash, (config as unknown as { lastError: null }).lastError], [before.hash, null], 'the dataplane served on, undisturbed, now under the new generation');
});

t.test('the report of a replica gone for good (no clean shutdown) is deleted', async (t2) => {
  const longAgo = new Date(Date.now() - 15 * 60_000).toISOString().replace('Z', '000Z');
  await kubectl(['apply', '-f', '-'], stringify({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: 'gozargah-dataplane-public-killed-0',
      namespace: SYSTEM_NS,
      labels: { 'gozargah.io/dataplane-report': 'true' },
      annotations: { 'gozargah.io/bus': 'public', 'gozargah.io/snapshot-hash': 'sha256:0', 'gozargah.io/snapshot-generation': '1' },
    },
    spec: { holderIdentity: 'killed-0', leaseDurationSeconds: 30, renewTime: longAgo },
  }));
  const reports = async (): Promise<string> => kubectl(['get', 'leases', '-n', SYSTEM_NS, '-l', 'gozargah.io/dataplane-report', '-o', 'name']);
  await waitFor(async () => !(await reports()).includes('killed-0'), 20_000, () => 'the stale report is still there');
  t2.match(await reports(), /gozargah-dataplane-public-dp-public-0/, 'the live replica’s report stays');
});

t.test('with the API server stopped, the dataplane keeps answering with the last snapshot', async (t2) => {
  t2.equal(await served(), 404, '/ha/v1 was replaced by /ha/v2');
  await cluster.stop();
  await waitFor(() => dp.logs().includes('"msg":"watch failed; retrying","watch":"snapshot Secrets"'), 20_000, () => `the dataplane never noticed:\n${dp.logs().slice(-2000)}`);
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${dp.url}/ha/v2/echo/${i}`, { headers: { 'x-api-key': KEY } });
    await res.arrayBuffer();
    t2.equal(res.status, 200, `inquiry ${i} answered`);
  }
  t2.equal((await fetch(`${dp.adminUrl}/readyz`)).status, 200, 'still ready');

  // A replica (re)started now has no API server to read from: it serves what the cache holds.
  const restarted = await startDataplane([...publicArgs, '--replica', 'dp-public-1']);
  t2.teardown(() => restarted.stop());
  const res = await fetch(`${restarted.url}/ha/v2/echo/9`, { headers: { 'x-api-key': KEY } });
  await res.arrayBuffer();
  t2.equal(res.status, 200, 'a replica started during the outage serves the cached snapshot');
  t2.match(restarted.logs(), /"snapshot loaded","origin":"cache [^"]*snapshot-public\.json"/);
});

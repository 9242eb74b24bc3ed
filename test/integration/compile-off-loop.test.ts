// The compiler runs off the operator's main thread: a compile that takes longer than the leader
// Lease (made so by the worker's test hook, standing in for a national store) does not cost the
// leader its Lease while a standby waits to take it, the admin port keeps answering, and the
// pass publishes and writes status when it ends.
import t from 'tap';
import { stringify } from 'yaml';
import { waitFor } from '../helpers/dataplane.ts';
import { provider, route } from '../helpers/manifests.ts';
import { startControlPlane, startOperator, SYSTEM_NS, type RunningOperator } from '../helpers/operator.ts';

t.setTimeout(180_000);
const LEASE_SECONDS = 3;
/** Each compile of the leader spins this long: twice the Lease. */
const COMPILE_MS = 2 * LEASE_SECONDS * 1000;

const { cluster, credentials } = await startControlPlane(t);
const kubectl = cluster.run;
await kubectl(['create', 'namespace', 'gov']);

const args = ['--lease-seconds', String(LEASE_SECONDS), '--debounce-ms', '50'];
const operators: RunningOperator[] = [];
const leader = await startOperator(credentials.operator, 'slow-0', args, { GOZARGAH_TEST_COMPILE_DELAY_MS: String(COMPILE_MS) });
operators.push(leader);
t.teardown(() => Promise.all(operators.map((op) => op.stop('SIGKILL'))));
await waitFor(async () => (await leader.state()).leader, 30_000, () => `slow-0 never led:\n${leader.logs().slice(-2000)}`);
// A standby that would take the Lease the moment the leader missed its renewals.
operators.push(await startOperator(credentials.operator, 'standby-1', args));

interface Lease {
  spec: { holderIdentity?: string; renewTime?: string };
}
const lease = async (): Promise<Lease> => JSON.parse(await kubectl(['get', 'lease', '-n', SYSTEM_NS, 'gozargah-operator', '-o', 'json'])) as Lease;
interface Route {
  metadata: { generation: number };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
}

t.test('a compile longer than the Lease: the leader keeps it, answers /healthz, and publishes when the compile ends', async (t2) => {
  await kubectl(['apply', '-f', '-'], [provider('agency', 'http://127.0.0.1:9'), route('slow', 'agency', '/slow/v1/things/{id}')].map((o) => stringify(o)).join('---\n'));
  const started = Date.now();
  const holders = new Set<string>();
  const renewals = new Set<string>();
  let healthChecks = 0;
  let slowestHealthMs = 0;
  let observed: Route | undefined;
  // Watch for two whole compiles' time: the pass that sees the route takes COMPILE_MS at least.
  while (Date.now() - started < 2 * COMPILE_MS + 2000) {
    const l = await lease();
    holders.add(l.spec.holderIdentity ?? '');
    renewals.add(l.spec.renewTime ?? '');
    const asked = performance.now();
    const health = await fetch(`${leader.adminUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
    await health.arrayBuffer();
    slowestHealthMs = Math.max(slowestHealthMs, performance.now() - asked);
    if (health.status === 200) healthChecks++;
    observed = JSON.parse(await kubectl(['get', 'inquiryroute', '-n', 'gov', 'slow', '-o', 'json'])) as Route;
    if (observed.status?.observedGeneration === observed.metadata.generation && Date.now() - started > COMPILE_MS) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  t2.same([...holders], ['slow-0'], 'the Lease never left the leader');
  t2.ok(renewals.size >= 3, `the leader renewed during the compile (${renewals.size} distinct renewTimes)`);
  t2.ok(healthChecks >= 5, `/healthz answered ${healthChecks} times during the compile`);
  t2.ok(slowestHealthMs < 1000, `the slowest /healthz took ${Math.round(slowestHealthMs)} ms`);
  t2.equal(observed?.status?.observedGeneration, observed?.metadata.generation, 'the pass wrote the route\'s status when it ended');
  t2.equal(observed?.status?.conditions?.find((c) => c.type === 'Accepted')?.status, 'True');
  t2.ok(Date.now() - started >= COMPILE_MS, 'after a compile at least as long as the hook makes it');
  const published = await kubectl(['get', 'secrets', '-n', SYSTEM_NS, '-o', 'name']);
  t2.match(published, /default/, 'the snapshot of bus default is published');
  t2.notMatch(leader.logs(), /lost the leader Lease/, 'the leader never stepped down');
});

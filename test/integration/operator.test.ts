// The whole system on a real control plane: the operator (running as its least-privileged
// ServiceAccount, deploy/rbac) watches, compiles, publishes and writes status; dataplane
// processes started with a pod's arguments (and the dataplane's ServiceAccount) serve what it
// publishes and report back, which is what makes objects Programmed.
import t from 'tap';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startAgency } from '../helpers/agency.ts';
import { ROOT, startDataplane, waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';
import { startControlPlane, startOperator, SYSTEM_NS } from '../helpers/operator.ts';

t.setTimeout(240_000);
const KINDS = 'serviceproviders,inquiryroutes,clientbindings';
const KEY = 'demo-only-e2e-key-Qw3rTy7uIo';

const { cluster, credentials } = await startControlPlane(t);
const kubectl = cluster.run;
const apply = (objects: Record<string, unknown>[]): Promise<string> => kubectl(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));

await kubectl(['apply', '-f', join(ROOT, 'examples')]);

// --bus spare: a bus the chart deployed that no route names yet.
const operator = await startOperator(credentials.operator, 'operator-0', ['--bus', 'spare']);
t.teardown(() => operator.stop());
const dataplane = (bus: string) => startDataplane(['--kubeconfig', credentials.dataplane, '--namespace', SYSTEM_NS, '--bus', bus, '--replica', `dp-${bus}-0`]);
const [publicDp, internalDp] = await Promise.all([dataplane('public'), dataplane('internal')]).catch((err: unknown) => {
  throw new Error(`${(err as Error).message}\noperator:\n${operator.logs().slice(-3000)}`);
});
t.teardown(() => publicDp.stop());
t.teardown(() => internalDp.stop());

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}
interface Item {
  kind: string;
  metadata: { namespace: string; name: string; generation: number };
  status?: { observedGeneration?: number; conditions?: Condition[] };
}
const list = async (what: string): Promise<Item[]> => (JSON.parse(await kubectl(['get', what, '-A', '-o', 'json'])) as { items: Item[] }).items;
const get = async (kind: string, ns: string, name: string): Promise<Item> => JSON.parse(await kubectl(['get', kind, '-n', ns, name, '-o', 'json'])) as Item;
const condition = (o: Item, type: string): Condition | undefined => o.status?.conditions?.find((c) => c.type === type);
const settled = (o: Item): boolean => condition(o, 'Ready')?.status === 'True' && o.status?.observedGeneration === o.metadata.generation;

async function status(path: string, key = KEY): Promise<number> {
  const res = await fetch(`${publicDp.url}${path}`, { headers: { 'x-api-key': key } });
  await res.arrayBuffer();
  return res.status;
}

t.test('examples/: every object reaches Ready at its generation, and kubectl shows it', async (t2) => {
  let items: Item[] = [];
  await waitFor(async () => (items = await list(KINDS)).every(settled), 60_000, () => `not Ready: ${JSON.stringify(items.filter((o) => !settled(o)).map((o) => [o.metadata.name, o.status]))}\n${operator.logs().slice(-2000)}`);
  t2.equal(items.length, 12, 'four providers, four routes, four bindings');
  for (const o of items) {
    for (const type of ['Accepted', 'ResolvedRefs', 'Programmed', 'Ready']) t2.match(condition(o, type), { status: 'True', observedGeneration: o.metadata.generation }, `${o.kind} ${o.metadata.name} ${type}`);
  }
  const routes = await kubectl(['get', 'inquiryroutes', '-A']);
  t2.match(routes, /civil-registry\s+person-by-national-id\s+civil-registry\s+\/civil-registry\/v1\/persons\/\{nationalId\}\s+internal,public\s+\d+\s+True/, 'kubectl get inquiryroutes: provider, path, buses, clients, Programmed');
  const bindings = await kubectl(['get', 'clientbindings', '-A']);
  t2.match(bindings, /snapp\s+snapp-driver-onboarding\s+snapp\s+2\/2\s+50\s+\S+\s+True/, 'kubectl get clientbindings: client, routes, rate, quota, Ready');
  const described = await kubectl(['describe', 'inquiryroute', '-n', 'civil-registry', 'person-by-national-id']);
  t2.match(described, /Normal\s+Programmed\s+.*Served by bus internal, public/, 'kubectl describe shows the Programmed Event');
  t2.match(described, /Normal\s+Accepted\s/);
  t2.match(operator.logs(), /"snapshot published","bus":"public","generation":1/);
  const metrics = await (await fetch(`${operator.adminUrl}/metrics`)).text();
  t2.match(metrics, /^gozargah_operator_objects\{kind="InquiryRoute",type="Ready",status="True"[^}]*\} 4$/m, '/metrics: objects by condition');
  t2.match(metrics, /^gozargah_operator_published_generation\{bus="public"[^}]*\} 1$/m, '/metrics: the generation published per bus');
  t2.match(metrics, /^gozargah_operator_reconcile_duration_seconds_count\{[^}]*\} [1-9]/m, '/metrics: reconcile durations');
});

const agencyA = await startAgency();
const agencyB = await startAgency();
t.teardown(() => agencyA.close());
t.teardown(() => agencyB.close());
const e2eRoute = route('echo', 'agency', '/e2e/v1/echo/{id}', { upstreamPath: '/echo/{id}', buses: ['public'] });
const e2eBinding = binding('e2e', 'e2e-client', [{ namespace: 'gov', name: 'echo' }], { bus: 'public' });

t.test('a route applied now is served, and its status says so', async (t2) => {
  await kubectl(['create', 'namespace', 'gov']);
  await kubectl(['create', 'namespace', 'clients']);
  t2.equal(await status('/e2e/v1/echo/1'), 404, 'not there before');
  await apply([provider('agency', agencyA.url), e2eRoute, keySecret('e2e-keys', { k: KEY }), e2eBinding]);
  await waitFor(async () => (await status('/e2e/v1/echo/1')) === 200, 30_000, () => `never served:\n${operator.logs().slice(-2000)}\n${publicDp.logs().slice(-2000)}`);
  t2.ok(agencyA.seen.some((r) => r.url === '/echo/1'), 'the agency got the inquiry');
  await waitFor(async () => settled(await get('clientbinding', 'clients', 'e2e')), 30_000, () => 'the binding never became Ready');
  t2.equal(condition(await get('inquiryroute', 'gov', 'echo'), 'Programmed')?.status, 'True');
});

t.test("changing a provider's upstream takes effect", async (t2) => {
  await apply([provider('agency', agencyB.url)]);
  await waitFor(
    async () => (await status('/e2e/v1/echo/2')) === 200 && agencyB.seen.some((r) => r.url === '/echo/2'),
    30_000,
    () => `agency B never got an inquiry:\n${publicDp.logs().slice(-2000)}`,
  );
  const provider2 = await get('serviceprovider', 'gov', 'agency');
  await waitFor(async () => settled(await get('serviceprovider', 'gov', 'agency')), 30_000, () => 'the provider never settled');
  t2.equal(provider2.metadata.generation, 2);
});

t.test('a refused binding shows why in its status: NotAdmitted, KeyConflict', async (t2) => {
  // clients has no gozargah.io/client label: person-by-national-id does not admit it.
  const notAdmitted = binding('wants-registry', 'e2e-client-2', [{ namespace: 'civil-registry', name: 'person-by-national-id' }], { bus: 'public' });
  // Another binding holding the same key as e2e: the newer one is refused.
  const conflict = binding('same-key', 'e2e-client-3', [{ namespace: 'gov', name: 'echo' }], { bus: 'public' });
  await apply([notAdmitted, keySecret('wants-registry-keys', { k: 'demo-only-other-key-Zx8cVb' }), conflict, keySecret('same-key-keys', { k: KEY })]);
  let a: Item | undefined;
  let c: Item | undefined;
  await waitFor(
    async () => condition((a = await get('clientbinding', 'clients', 'wants-registry')), 'Accepted')?.reason === 'NotAdmitted' && condition((c = await get('clientbinding', 'clients', 'same-key')), 'Accepted')?.reason === 'KeyConflict',
    30_000,
    () => `statuses: ${JSON.stringify([a?.status, c?.status])}`,
  );
  t2.match(condition(a as Item, 'Accepted'), { status: 'False', message: /civil-registry\/person-by-national-id/ });
  t2.match(condition(c as Item, 'Accepted'), { status: 'False', message: /clients\/e2e/ });
  t2.equal(await status('/e2e/v1/echo/3'), 200, 'the older binding keeps its key');
  const described = await kubectl(['describe', 'clientbinding', '-n', 'clients', 'same-key']);
  t2.match(described, /Warning\s+KeyConflict\s/);
});

t.test('a binding whose validity ends: a Warning Event ahead, then Ready False Expired on time, with no change to the object', async (t2) => {
  const TRIAL_KEY = 'demo-only-e2e-trial-key-Hy6tR2wQ';
  const notAfter = new Date(Date.now() + 8_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const trial = binding('trial', 'e2e-trial', [{ namespace: 'gov', name: 'echo' }], { bus: 'public', validity: { notAfter } });
  await apply([trial, keySecret('trial-keys', { k: TRIAL_KEY })]);
  await waitFor(async () => settled(await get('clientbinding', 'clients', 'trial')), 30_000, () => 'the trial binding never became Ready');
  t2.equal(await status('/e2e/v1/echo/5', TRIAL_KEY), 200, 'served inside its window');
  const described = await kubectl(['describe', 'clientbinding', '-n', 'clients', 'trial']);
  // kubectl describe wraps the message: any whitespace between its words.
  t2.match(described, /Warning\s+BindingExpiresSoon\s+\S+\s+gozargah-operator\s+The\s+binding's\s+validity\s+ends\s+at/, 'warned in the week before notAfter');
  const generation = (await get('clientbinding', 'clients', 'trial')).metadata.generation;
  let last: Item | undefined;
  await waitFor(async () => condition((last = await get('clientbinding', 'clients', 'trial')), 'Ready')?.reason === 'Expired', 30_000, () => `never Expired: ${JSON.stringify(last?.status)}`);
  t2.match(condition(last as Item, 'Ready'), { status: 'False', message: new RegExp(`validity ended at ${notAfter}.*401 binding_expired`) });
  t2.equal(last?.metadata.generation, generation, 'the object itself never changed: the operator looked again when the window closed');
  t2.equal(await status('/e2e/v1/echo/6', TRIAL_KEY), 401, 'and the dataplane refuses it');
  await kubectl(['delete', 'clientbinding', '-n', 'clients', 'trial']);
});

t.test('a route whose sunset passes: a Warning Event ahead, then Ready False Sunset on time, and 410 route_sunset', async (t2) => {
  const RETIRING_KEY = 'demo-only-e2e-retiring-key-Lk8sD3';
  const sunset = new Date(Date.now() + 8_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  await apply([
    route('retiring', 'agency', '/e2e/v0/echo/{id}', { upstreamPath: '/echo/{id}', buses: ['public'], deprecated: true, sunset }),
    binding('retiring-client', 'e2e-retiring', [{ namespace: 'gov', name: 'retiring' }], { bus: 'public' }),
    keySecret('retiring-client-keys', { k: RETIRING_KEY }),
  ]);
  await waitFor(async () => settled(await get('inquiryroute', 'gov', 'retiring')), 30_000, () => 'the retiring route never became Ready');
  await waitFor(async () => (await status('/e2e/v0/echo/1', RETIRING_KEY)) === 200, 30_000, () => 'the retiring route was never served');
  const described = await kubectl(['describe', 'inquiryroute', '-n', 'gov', 'retiring']);
  t2.match(described, /Warning\s+RouteSunsetSoon\s+\S+\s+gozargah-operator\s+The\s+route's\s+sunset\s+is/, 'warned in the week before the sunset');
  let last: Item | undefined;
  await waitFor(async () => condition((last = await get('inquiryroute', 'gov', 'retiring')), 'Ready')?.reason === 'Sunset', 30_000, () => `never Sunset: ${JSON.stringify(last?.status)}`);
  t2.match(condition(last as Item, 'Ready'), { status: 'False', message: new RegExp(`retired at ${sunset}.*410 route_sunset`) });
  t2.equal(await status('/e2e/v0/echo/2', RETIRING_KEY), 410, 'and the dataplane answers 410');
  await kubectl(['delete', 'inquiryroute', '-n', 'gov', 'retiring']);
  await kubectl(['delete', 'clientbinding', '-n', 'clients', 'retiring-client']);
});

t.test('a burst of applies gives a bus at most one new snapshot a second, and the last one holds them all', async (t2) => {
  const published = (): number => operator.logs().split('\n').filter((l) => l.includes('"msg":"snapshot published"') && l.includes('"bus":"public"')).length;
  const before = published();
  const started = Date.now();
  for (let i = 0; i < 6; i++) await apply([route(`burst-${i}`, 'agency', `/e2e/v9/burst${i}/{id}`, { upstreamPath: '/echo/{id}', buses: ['public'] })]);
  const spanMs = Date.now() - started;
  // Each route exists on the bus once the dataplane answers 403 (not granted) instead of 404.
  await waitFor(async () => (await status('/e2e/v9/burst5/1')) === 403 && (await status('/e2e/v9/burst0/1')) === 403, 30_000, () => 'the burst never reached the dataplane');
  const publishes = published() - before;
  t2.ok(publishes >= 1, `published ${publishes} time(s)`);
  t2.ok(publishes <= Math.ceil(spanMs / 1000) + 1, `6 applies over ${spanMs} ms: ${publishes} publishes of bus public, at most one a second`);
  await kubectl(['delete', 'inquiryroute', '-n', 'gov', ...Array.from({ length: 6 }, (_, i) => `burst-${i}`)]);
});

t.test("deleting a binding makes its key fail with 401", async (t2) => {
  await kubectl(['delete', 'clientbinding', '-n', 'clients', 'e2e', 'same-key']);
  await waitFor(async () => (await status('/e2e/v1/echo/4')) === 401, 30_000, () => `the key still works:\n${publicDp.logs().slice(-2000)}`);
  t2.pass('401 once the binding is gone');
});

t.test('the operator reads only labelled Secrets, and says so', async (t2) => {
  await apply([
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'unlabelled-keys', namespace: 'clients' }, stringData: { k: 'demo-only-unlabelled-Po9iU8' } },
    binding('unlabelled', 'e2e-client-4', [{ namespace: 'gov', name: 'echo' }], { bus: 'public' }),
  ]);
  let b: Item | undefined;
  await waitFor(async () => condition((b = await get('clientbinding', 'clients', 'unlabelled')), 'ResolvedRefs')?.reason === 'SecretNotFound', 30_000, () => JSON.stringify(b?.status));
  t2.match(condition(b as Item, 'ResolvedRefs')?.message, /lacks the label gozargah\.io\/credentials: "true"/);
});

t.test('a dataplane renewing its report costs no compile', async (t2) => {
  const reconciles = async (): Promise<number> => Number(/^gozargah_operator_reconcile_duration_seconds_count\{[^}]*\} (\d+)/m.exec(await (await fetch(`${operator.adminUrl}/metrics`)).text())?.[1]);
  await waitFor(async () => (await operator.state()).lastReconcile !== null, 10_000, () => 'no reconcile');
  await new Promise((r) => setTimeout(r, 500));
  const before = await reconciles();
  const leases = async (): Promise<string> => kubectl(['get', 'leases', '-n', SYSTEM_NS, '-l', 'gozargah.io/dataplane-report', '-o', 'jsonpath={.items[*].spec.renewTime}']);
  const renewed = await leases();
  // Reports are renewed every 10 s: wait for both to move on.
  await waitFor(async () => (await leases()).split(' ').every((r, i) => r !== renewed.split(' ')[i]), 15_000, () => 'the reports were not renewed');
  t2.equal(await reconciles(), before, 'no reconcile ran');
});

t.test('a bus whose last route and binding are deleted is published empty', async (t2) => {
  const manifest = async (): Promise<{ generation: number; hash: string }> =>
    JSON.parse(Buffer.from(await kubectl(['get', 'secret', '-n', SYSTEM_NS, 'gozargah-snapshot-scratch', '-o', 'jsonpath={.data.manifest\\.json}']), 'base64').toString('utf8')) as { generation: number; hash: string };
  await apply([route('scratch-echo', 'agency', '/scratch/v1/echo/{id}', { buses: ['scratch'] }), binding('scratch', 'scratch-client', [{ namespace: 'gov', name: 'scratch-echo' }], { bus: 'scratch', credentials: { apiKeys: { secretRef: { name: 'e2e-keys' } } } })]);
  let first: { generation: number; hash: string } | null = null;
  await waitFor(async () => (first = await manifest()).generation >= 1, 30_000, () => 'the scratch bus was never published');
  await kubectl(['delete', 'inquiryroute', '-n', 'gov', 'scratch-echo']);
  await kubectl(['delete', 'clientbinding', '-n', 'clients', 'scratch']);
  let last: { generation: number; hash: string } | null = null;
  await waitFor(async () => (last = await manifest()).hash !== (first as unknown as { hash: string }).hash, 30_000, () => 'the emptied bus was not published again');
  const empty = (last as unknown as { generation: number }).generation;
  t2.ok(empty > (first as unknown as { generation: number }).generation, `published again as generation ${empty}`);
  const published = operator.logs().split('\n').filter((l) => l.includes('"snapshot published","bus":"scratch"')).pop() ?? '';
  t2.match(published, /"shards":1/);
});

t.test('a deployed bus (--bus) with nothing on it is published empty, so its replicas become ready', async (t2) => {
  const spare = await startDataplane(['--kubeconfig', credentials.dataplane, '--namespace', SYSTEM_NS, '--bus', 'spare', '--replica', 'dp-spare-0']);
  t2.teardown(() => spare.stop());
  const ready = async (): Promise<{ ready: boolean; generation: number | null }> => (await (await fetch(`${spare.adminUrl}/readyz`)).json()) as { ready: boolean; generation: number | null };
  await waitFor(async () => (await ready()).ready, 30_000, () => `the spare bus's replica never became ready:\n${spare.logs().slice(-2000)}`);
  t2.ok((await ready()).generation! >= 1, 'it serves a published snapshot');
  const refused = await fetch(`${spare.url}/.well-known/gozargah/catalogue`);
  t2.equal(refused.status, 401, 'and answers with the bus\'s own refusal');
  t2.equal(refused.headers.get('x-gozargah-error'), 'credentials_missing');
  t2.match(operator.logs(), /"snapshot published","bus":"spare"/);
});

t.test('no key anywhere: operator logs and metrics, dataplane logs, statuses', async (t2) => {
  const secrets = /demo-only-[A-Za-z0-9-]+/;
  t2.notMatch(await (await fetch(`${operator.adminUrl}/metrics`)).text(), secrets, 'operator metrics');
  t2.notMatch(operator.logs(), secrets, 'operator logs');
  t2.notMatch(publicDp.logs(), secrets, 'public dataplane logs');
  t2.notMatch(internalDp.logs(), secrets, 'internal dataplane logs');
  t2.notMatch(await kubectl(['get', KINDS, '-A', '-o', 'yaml']), secrets, 'statuses');
});

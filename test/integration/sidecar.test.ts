// Sidecar mode on a real control plane, run from deploy/sidecar/agency-with-sidecar.yaml: the
// file is applied as it is (its ServiceAccount, Role and RoleBinding are all the rights the
// sidecar gets), the operator publishes bus public with two providers' routes, and a dataplane
// started with the file's container args (only the addresses a test must choose replaced)
// serves the one provider's routes through the stand-in agency on loopback, answers 404 for the
// other's, and writes no serving report.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { startAgency } from '../helpers/agency.ts';
import { applyObjects } from '../helpers/cluster.ts';
import { auditCount, ROOT, startDataplane, waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';
import { startControlPlane, serviceAccountKubeconfig, startOperator, SYSTEM_NS } from '../helpers/operator.ts';

t.setTimeout(180_000);
const SNIPPET = join(ROOT, 'deploy/sidecar/agency-with-sidecar.yaml');
const KEY = 'demo-only-sidecar-e2e-key-Mn4bV7';

type Obj = Record<string, unknown> & { kind: string; metadata: { name: string; namespace: string } };
interface Container {
  name: string;
  image: string;
  command: string[];
  args: string[];
  securityContext: unknown;
}
const docs = parseAllDocuments(readFileSync(SNIPPET, 'utf8')).map((d) => d.toJS() as Obj);
const deployment = docs.find((d) => d.kind === 'Deployment') as Obj & { spec: { template: { spec: { serviceAccountName: string; securityContext: unknown; containers: Container[] } } } };
const pod = deployment.spec.template.spec;
const sidecar = pod.containers.find((c) => c.name === 'gozargah-dataplane') as Container;
/** The value after FLAG in the snippet's args; every flag the test relies on must be there once. */
const flag = (name: string): string => {
  const at = sidecar.args.indexOf(name);
  if (at < 0 || sidecar.args.indexOf(name, at + 1) >= 0) throw new Error(`${SNIPPET}: the dataplane's args must hold ${name} exactly once`);
  return sidecar.args[at + 1] as string;
};
const [providerNs, providerName] = flag('--provider').split('/') as [string, string];
const bus = flag('--bus');

t.test('the snippet: the chart image entry point, cluster mode in the system namespace, one provider, a loopback override', async (t2) => {
  t2.same([sidecar.command, sidecar.args[0]], [['node'], 'dataplane/main.ts']);
  t2.equal(flag('--namespace'), SYSTEM_NS);
  t2.match(flag('--upstream-override'), /^http:\/\/127\.0\.0\.1:\d+$/);
  t2.equal(deployment.metadata.namespace, providerNs, "the sidecar runs in the provider's namespace");
  const values = parse(readFileSync(join(ROOT, 'charts/gozargah/values.yaml'), 'utf8')) as { image: { repository: string }; podSecurityContext: unknown; containerSecurityContext: unknown };
  const chart = parse(readFileSync(join(ROOT, 'charts/gozargah/Chart.yaml'), 'utf8')) as { appVersion: string };
  t2.equal(sidecar.image, `${values.image.repository}:${chart.appVersion}`, "the chart's image at the chart's appVersion");
  t2.same([pod.securityContext, sidecar.securityContext], [values.podSecurityContext, values.containerSecurityContext], "the chart's pod and container securityContext");
  t2.ok(docs.some((d) => d.kind === 'ServiceAccount' && d.metadata.name === pod.serviceAccountName && d.metadata.namespace === providerNs), 'its ServiceAccount is in the file');
});

const { cluster, credentials } = await startControlPlane(t);
const kubectl = cluster.run;
const apply = (objects: Record<string, unknown>[]): Promise<string> => applyObjects(cluster, objects);
for (const ns of [providerNs, 'post', 'clients']) await kubectl(['create', 'namespace', ns]);
await kubectl(['apply', '-f', SNIPPET]);
const sidecarKubeconfig = await serviceAccountKubeconfig(cluster, providerNs, pod.serviceAccountName);

const agency = await startAgency(); // the agency in the pod, on loopback
const decoy = await startAgency(); // the provider's published URL: a sidecar with an override never calls it
const post = await startAgency(); // the other provider's agency
t.teardown(() => Promise.all([agency.close(), decoy.close(), post.close()]));
await apply([
  provider(providerName, `${decoy.url}/inquiry/v2`, {}, providerNs),
  route('person', providerName, '/civil-registry/v1/persons/{id}', { upstreamPath: '/persons/{id}', buses: [bus] }, providerNs),
  provider('post', post.url, {}, 'post'),
  route('address', 'post', '/post/v1/addresses/{code}', { upstreamPath: '/addresses/{code}', buses: [bus] }, 'post'),
  keySecret('both-keys', { k: KEY }),
  binding('both', 'both', [{ namespace: providerNs, name: 'person' }, { namespace: 'post', name: 'address' }], { bus }),
]);

const operator = await startOperator(credentials.operator, 'operator-0');
t.teardown(() => operator.stop());
await waitFor(async () => (await cluster.kubectl(['get', 'secret', '-n', SYSTEM_NS, `gozargah-snapshot-${bus}`])).code === 0, 30_000, () => `bus ${bus} never published:\n${operator.logs().slice(-2000)}`);

// The snippet's args, but the addresses a test process chooses: free loopback ports (startDataplane),
// a temporary cache directory, the stand-in agency's port, and the ServiceAccount's token.
const cacheDir = mkdtempSync(join(tmpdir(), 'gozargah-sidecar-cache-'));
const replaced = new Map<string, string | null>(Object.entries({ '--listen': null, '--admin-listen': null, '--cache-dir': cacheDir, '--upstream-override': agency.url }));
const args: string[] = ['--kubeconfig', sidecarKubeconfig];
for (let i = 1; i < sidecar.args.length; i += 2) {
  const [name, value] = [sidecar.args[i] as string, sidecar.args[i + 1] as string];
  const replacement = replaced.has(name) ? (replaced.get(name) as string | null) : value;
  if (replacement !== null) args.push(name, replacement);
}
const dp = await startDataplane(args).catch((err: unknown) => {
  throw new Error(`${(err as Error).message}\noperator:\n${operator.logs().slice(-2000)}`);
});
t.teardown(() => dp.stop());

const call = async (path: string): Promise<{ status: number; code: string | null; body: Record<string, unknown> }> => {
  const res = await fetch(`${dp.url}${path}`, { headers: { 'x-api-key': KEY } });
  return { status: res.status, code: res.headers.get('x-gozargah-error'), body: (await res.json()) as Record<string, unknown> };
};

t.test("the provider's route: served through the agency on loopback, with the provider's path prefix", async (t2) => {
  const got = await call('/civil-registry/v1/persons/1');
  t2.same([got.status, got.code, got.body['url']], [200, null, '/inquiry/v2/persons/1']);
  t2.same(agency.seen.map((r) => r.url), ['/inquiry/v2/persons/1'], 'the stand-in agency answered');
  t2.equal(decoy.seen.length, 0, "the provider's published URL was never called");
  const records = await auditCount(dp, 1);
  t2.match(records[0], { bus, provider: `${providerNs}/${providerName}`, route: `${providerNs}/person`, binding: 'clients/both', status: 200 }, 'the audit record names the provider');
});

t.test("the other provider's route, granted to the same binding: 404 route_not_found", async (t2) => {
  const got = await call('/post/v1/addresses/1');
  t2.same([got.status, got.code], [404, 'route_not_found']);
  t2.equal(post.seen.length, 0);
});

t.test('a route added to the provider is served once the operator publishes it; one added to the other is not', async (t2) => {
  await apply([
    route('person-v2', providerName, '/civil-registry/v2/persons/{id}', { upstreamPath: '/v2/persons/{id}', buses: [bus] }, providerNs),
    route('address-v2', 'post', '/post/v2/addresses/{code}', { buses: [bus] }, 'post'),
    binding('both', 'both', ['person', 'person-v2'].map((name) => ({ namespace: providerNs, name })).concat(['address', 'address-v2'].map((name) => ({ namespace: 'post', name }))), { bus }),
  ]);
  await waitFor(async () => (await call('/civil-registry/v2/persons/2')).status === 200, 30_000, () => `never served:\n${dp.logs().slice(-2000)}`);
  t2.equal(agency.seen.at(-1)?.url, '/inquiry/v2/v2/persons/2');
  t2.same((await call('/post/v2/addresses/2')).status, 404);
  const config = (await (await fetch(`${dp.adminUrl}/config`)).json()) as { hash: string; sidecar: unknown; routes: { id: string }[] };
  t2.same(config.sidecar, { providers: [`${providerNs}/${providerName}`], upstreamOverride: agency.url, missing: [] });
  t2.same(config.routes.map((r) => r.id).sort(), [`${providerNs}/person`, `${providerNs}/person-v2`]);
  // The cache keeps the whole bus snapshot (a restart cuts it again), under the published hash.
  const published = JSON.parse(Buffer.from(await kubectl(['get', 'secret', '-n', SYSTEM_NS, `gozargah-snapshot-${bus}`, '-o', 'jsonpath={.data.manifest\\.json}']), 'base64').toString('utf8')) as { hash: string };
  t2.equal(config.hash, published.hash, '/config names the bus snapshot it cut');
  await waitFor(() => readFileSync(join(cacheDir, `snapshot-${bus}.json`), 'utf8').includes(published.hash), 10_000, () => 'the cache never held the published snapshot');
  const cached = JSON.parse(readFileSync(join(cacheDir, `snapshot-${bus}.json`), 'utf8')) as { snapshot: { hash: string; routes: { id: string }[] } };
  t2.equal(cached.snapshot.routes.length, 4, 'both providers’ routes: the whole bus');
});

t.test('no serving report: the sidecar neither writes a Lease nor is refused one', async (t2) => {
  const leases = await kubectl(['get', 'leases', '-n', SYSTEM_NS, '-l', 'gozargah.io/dataplane-report', '-o', 'name']);
  t2.equal(leases.trim(), '', 'no report Lease');
  t2.notMatch(dp.logs(), /forbidden/i, 'the snippet RBAC is enough: nothing was forbidden');
  const warnings = dp.logs().split('\n').filter((l) => /"level":"(warn|error)"/.test(l));
  t2.same(warnings.map((l) => (JSON.parse(l) as { msg: string }).msg.split(':')[0]), ['limits are per replica'], 'no warning or error but the one of a dataplane without --redis');
});

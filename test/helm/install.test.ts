// charts/gozargah on a real kube-apiserver + etcd: `helm install` creates every object and the
// CRDs, CRs are accepted, `helm upgrade` changes the Deployments and keeps every CR, an upgrade to a
// chart whose CRD gained a field serves that field, and `helm uninstall` removes what the chart
// made but leaves the CRDs and every CR. A second release with the bundled Redis: its StatefulSet,
// Service, Secret and NetworkPolicy are accepted, and an upgrade keeps the generated password.
// Chart.yaml's CRD examples and the `helm test` Pods pass the API server's validation, and the
// shipped values-production.yaml installs, its ServiceMonitors and PrometheusRule checked by the
// Prometheus Operator's real CRDs (cached by test/cluster/build.sh).
// There is no kubelet (nor controllers): pods never run, objects are checked.
import t from 'tap';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { established, startCluster } from '../helpers/cluster.ts';
import { ROOT, waitFor } from '../helpers/dataplane.ts';
import { CHART, cachedBinary, helm } from '../helpers/helm.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NS = 'gozargah-system';
const CRDS = ['serviceproviders.gozargah.io', 'inquiryroutes.gozargah.io', 'clientbindings.gozargah.io'];
const PRODUCTION = join(CHART, 'values-production.yaml');
const work = mkdtempSync(join(tmpdir(), 'gozargah-helm-it-'));

const cluster = await startCluster();
t.teardown(() => cluster.stop());
const run = helm(cluster.kubeconfig);

async function ok(args: string[], input?: string): Promise<string> {
  const out = await cluster.kubectl(args, input);
  if (out.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed:\n${out.stderr}`);
  return out.stdout;
}

/** The objects of the release's manifest as kind/name (namespace-qualified when namespaced). */
async function manifest(): Promise<{ text: string; objects: string[] }> {
  const out = await run(['get', 'manifest', 'gozargah', '--namespace', NS]);
  if (out.code !== 0) throw new Error(out.stderr);
  const objects = parseAllDocuments(out.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null)
    .map((o) => `${o['kind']}/${o['metadata']['name']}`);
  return { text: out.stdout, objects };
}

/** Every CR of the three kinds, as namespace/kind/name. */
async function crs(): Promise<string[]> {
  const out = await ok(['get', 'gozargah', '-A', '-o', 'jsonpath={range .items[*]}{.metadata.namespace}/{.kind}/{.metadata.name}{"\\n"}{end}']);
  return out.trim().split('\n').filter(Boolean).sort();
}

const image = async (deploy: string): Promise<string> => ok(['-n', NS, 'get', 'deploy', deploy, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);
const replicas = async (deploy: string): Promise<string> => ok(['-n', NS, 'get', 'deploy', deploy, '-o', 'jsonpath={.spec.replicas}']);

let installed: string[] = [];
let examples: string[] = [];

t.test('helm install creates every object of the chart and the CRDs', async (t2) => {
  const out = await run(['install', 'gozargah', CHART, '--namespace', NS, '--create-namespace']);
  t2.equal(out.code, 0, out.stderr);
  t2.match(out.stdout, /STATUS: deployed/);
  t2.match(out.stdout, /Gozargah 0\.1\.0 is installed as release "gozargah" in namespace "gozargah-system"/, 'NOTES.txt');
  t2.match(out.stdout, /helm test gozargah -n gozargah-system --logs/, 'NOTES.txt names helm test');
  const { text, objects } = await manifest();
  installed = objects;
  for (const kind of ['CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment', 'Service', 'PodDisruptionBudget']) {
    t2.ok(
      objects.some((o) => o.startsWith(`${kind}/`)),
      `the release holds a ${kind}`,
    );
  }
  // kubectl get -f: fails if any object of the manifest is missing.
  const got = await ok(['get', '-n', NS, '-f', '-', '-o', 'name'], text);
  t2.equal(got.trim().split('\n').length, objects.length, `all ${objects.length} objects exist`);
  await established(cluster, CRDS.map((c) => `crd/${c}`));
  for (const crd of CRDS) {
    const policy = await ok(['get', 'crd', crd, '-o', 'jsonpath={.metadata.annotations.helm\\.sh/resource-policy}']);
    t2.equal(policy, 'keep', `${crd} is kept on uninstall`);
  }
  t2.equal(await replicas('gozargah-operator'), '2');
  t2.equal(await replicas('gozargah-dataplane-default'), '2');
});

t.test('CRs applied after install are accepted', async (t2) => {
  const out = await cluster.kubectl(['apply', '-f', join(ROOT, 'examples')]);
  t2.equal(out.code, 0, out.stderr);
  examples = await crs();
  const inExamples = readdirSync(join(ROOT, 'examples'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(ROOT, 'examples', f), 'utf8')).map((d) => d.toJS() as Obj | null))
    .filter((o) => o !== null && ['ServiceProvider', 'InquiryRoute', 'ClientBinding'].includes(o['kind'] as string));
  t2.ok(examples.length > 0);
  t2.equal(examples.length, inExamples.length, `the ${inExamples.length} objects of examples/ are stored`);
});

t.test("Chart.yaml's artifacthub.io/crdsExamples and the helm test Pods pass the API server's validation", async (t2) => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
  const crdsExamples = parse(chart['annotations']['artifacthub.io/crdsExamples'] as string) as Obj[];
  t2.equal(crdsExamples.length, 3);
  const out = await cluster.kubectl(['apply', '--dry-run=server', '-n', 'default', '-f', '-'], crdsExamples.map((o) => stringify(o)).join('---\n'));
  t2.equal(out.code, 0, out.stderr);
  t2.equal(out.stdout.trim().split('\n').length, 3, `each accepted: ${out.stdout}`);
  t2.match(out.stdout, /clientbinding.gozargah.io\/snapp-driver-onboarding created \(server dry run\)/);
  // There is no kubelet to run them (metrics.test.ts runs their script against a real bus).
  const pods = await run(['template', 'gozargah', CHART, '--namespace', NS, '--values', PRODUCTION, '--show-only', 'templates/tests/bus.yaml']);
  t2.equal(pods.code, 0, pods.stderr);
  // They run as the namespace's default ServiceAccount (no token mounted), which the controller
  // manager makes in a real cluster; this control plane has none.
  await ok(['-n', NS, 'create', 'serviceaccount', 'default']);
  const accepted = await cluster.kubectl(['apply', '--dry-run=server', '-n', NS, '-f', '-'], pods.stdout);
  t2.equal(accepted.code, 0, accepted.stderr);
  t2.match(accepted.stdout, /pod\/gozargah-dataplane-internal-test created \(server dry run\)\npod\/gozargah-dataplane-public-test created \(server dry run\)/);
});

t.test('helm upgrade with changed values changes the Deployments and keeps every CR', async (t2) => {
  // The Prometheus Operator's own CRDs (test/cluster/build.sh caches them): their schemas check
  // the chart's ServiceMonitors and PrometheusRule.
  await ok(['apply', '--server-side', '-f', '-'], monitoringCRDs());
  await established(cluster, ['crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);

  const production = await run(['upgrade', 'gozargah', CHART, '--namespace', NS, '--values', PRODUCTION]);
  t2.equal(production.code, 0, production.stderr);
  const { text, objects } = await manifest();
  const got = await ok(['get', '-n', NS, '-f', '-', '-o', 'name'], text);
  t2.equal(got.trim().split('\n').length, objects.length, `all ${objects.length} objects of the production values exist`);
  for (const o of ['Deployment/gozargah-dataplane-internal', 'Deployment/gozargah-dataplane-public', 'HorizontalPodAutoscaler/gozargah-dataplane-public', 'ServiceMonitor/gozargah-dataplane', 'PrometheusRule/gozargah', 'ConfigMap/gozargah-dashboard', 'NetworkPolicy/gozargah-operator']) {
    t2.ok(objects.includes(o), `${o} is in the release`);
  }
  // The CRDs are the real ones, schemas and all: a ServiceMonitor the Prometheus Operator would not take is refused.
  const monitor = parseAllDocuments((await ok(['-n', NS, 'get', 'servicemonitor', 'gozargah-dataplane', '-o', 'yaml'])).trim())[0]?.toJS() as Obj;
  t2.equal(monitor['spec']['endpoints'][0]['port'], 'metrics', 'the ServiceMonitor is stored');
  const broken = { apiVersion: monitor['apiVersion'], kind: 'ServiceMonitor', metadata: { name: 'broken', namespace: NS }, spec: { ...monitor['spec'], endpoints: [{ port: 'metrics', interval: 'every 30 seconds' }] } };
  const refused = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], stringify(broken));
  t2.not(refused.code, 0, 'a malformed interval is refused by the real schema');
  t2.match(refused.stderr, /spec\.endpoints\[0\]\.interval/);
  const gone = await cluster.kubectl(['-n', NS, 'get', 'deploy', 'gozargah-dataplane-default']);
  t2.match(gone.stderr, /NotFound/, 'the bus the new values no longer list is removed');
  t2.equal(await image('gozargah-operator'), 'registry.example.ir/gozargah/gozargah:0.1.0');
  t2.equal(await replicas('gozargah-dataplane-internal'), '3');

  const changed = join(work, 'changed.yaml');
  const values = parse(readFileSync(PRODUCTION, 'utf8')) as Obj;
  values['image']['tag'] = '0.1.1';
  values['buses'][0]['replicas'] = 5;
  writeFileSync(changed, stringify(values));
  const upgrade = await run(['upgrade', 'gozargah', CHART, '--namespace', NS, '--values', changed]);
  t2.equal(upgrade.code, 0, upgrade.stderr);
  t2.match(upgrade.stdout, /REVISION: 3/);
  t2.equal(await image('gozargah-operator'), 'registry.example.ir/gozargah/gozargah:0.1.1');
  t2.equal(await image('gozargah-dataplane-internal'), 'registry.example.ir/gozargah/gozargah:0.1.1');
  t2.equal(await replicas('gozargah-dataplane-internal'), '5');
  t2.strictSame(await crs(), examples, 'every CR is still there');
});

t.test('helm upgrade to a chart whose CRD gained a field serves that field', async (t2) => {
  const provider = `apiVersion: gozargah.io/v1alpha1
kind: ServiceProvider
metadata: { name: with-contact, namespace: civil-registry }
spec:
  upstream: { url: "http://agency.example:8080" }
  contact: ops@agency.example
`;
  const before = await cluster.kubectl(['apply', '-f', '-'], provider);
  t2.not(before.code, 0, 'before the upgrade the field is unknown');
  t2.match(before.stderr, /unknown field "spec.contact"/);

  const chart = join(work, 'gozargah');
  cpSync(CHART, chart, { recursive: true });
  addContactField(join(chart, 'templates/crds/gozargah.io_serviceproviders.yaml'));
  const chartYaml = join(chart, 'Chart.yaml');
  writeFileSync(chartYaml, readFileSync(chartYaml, 'utf8').replace(/^version: .*$/m, 'version: 0.1.1-contact'));
  const upgrade = await run(['upgrade', 'gozargah', chart, '--namespace', NS, '--values', PRODUCTION]);
  t2.equal(upgrade.code, 0, upgrade.stderr);
  await established(cluster, ['crd/serviceproviders.gozargah.io']);

  // The API server swaps in the new schema asynchronously after the CRD update: retry briefly.
  let after = await cluster.kubectl(['apply', '-f', '-'], provider);
  await waitFor(
    async () => after.code === 0 || (after = await cluster.kubectl(['apply', '-f', '-'], provider)).code === 0,
    30_000,
    () => `spec.contact is still refused after the upgrade:\n${after.stderr}`,
  );
  t2.equal(after.code, 0, after.stderr);
  t2.equal(await ok(['-n', 'civil-registry', 'get', 'sp', 'with-contact', '-o', 'jsonpath={.spec.contact}']), 'ops@agency.example', 'the new field is stored and served');
  // The API server republishes a CRD's OpenAPI (what kubectl explain reads) shortly after the change.
  let explained = '';
  await waitFor(
    async () => {
      explained = (await cluster.kubectl(['explain', 'serviceproviders.spec.contact'])).stdout;
      return explained.includes("Who runs this agency's endpoint");
    },
    30_000,
    () => `kubectl explain never showed spec.contact:\n${explained}`,
  );
  t2.match(explained, /Who runs this agency's endpoint/, 'kubectl explain documents the new field');
  t2.strictSame(await crs(), [...examples, 'civil-registry/ServiceProvider/with-contact'].sort(), 'every CR is still there');
});

t.test('helm uninstall removes what the chart made and leaves the CRDs and every CR', async (t2) => {
  const { objects } = await manifest();
  const out = await run(['uninstall', 'gozargah', '--namespace', NS, '--wait', '--timeout', '60s']);
  t2.equal(out.code, 0, out.stderr);
  t2.match(`${out.stdout}${out.stderr}`, /These resources were kept due to the resource policy/);
  for (const object of objects) {
    const [kind, name] = object.split('/') as [string, string];
    const got = await cluster.kubectl(['-n', NS, 'get', kind, name, '-o', 'name']);
    if (kind === 'CustomResourceDefinition') t2.equal(got.code, 0, `${object} is kept`);
    else t2.match(got.stderr, /NotFound/, `${object} is removed`);
  }
  t2.ok(installed.length > 0);
  const left = await ok(['-n', NS, 'get', 'deploy,svc,sa,role,rolebinding,pdb,hpa,networkpolicy,configmap', '-l', 'app.kubernetes.io/instance=gozargah', '-o', 'name']);
  t2.equal(left.trim(), '', 'nothing labelled with the release is left in its namespace');
  t2.equal((await cluster.kubectl(['get', 'clusterrole,clusterrolebinding', 'gozargah-operator'])).code, 1, 'the cluster-wide RBAC is gone');
  for (const crd of CRDS) t2.equal((await cluster.kubectl(['get', 'crd', crd])).code, 0, `${crd} is still there`);
  t2.strictSame(await crs(), [...examples, 'civil-registry/ServiceProvider/with-contact'].sort(), 'every CR is still there');
});

t.test('a release with the bundled Redis: accepted by the API server; an upgrade keeps its generated password', async (t2) => {
  const ns = 'gozargah-small';
  const release = ['small', CHART, '--namespace', ns];
  const values = ['--set', 'crds.enabled=false', '--set', 'redis.enabled=true', '--set', 'networkPolicy.enabled=true'];
  const install = await run(['install', ...release, '--create-namespace', ...values]);
  t2.equal(install.code, 0, install.stderr);
  t2.match(install.stdout, /the bundled Redis: StatefulSet and Service small-gozargah-redis/, 'NOTES.txt names it');
  const out = await run(['get', 'manifest', 'small', '--namespace', ns]);
  const objects = parseAllDocuments(out.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null)
    .map((o) => `${o['kind']}/${o['metadata']['name']}`);
  for (const o of ['StatefulSet/small-gozargah-redis', 'Service/small-gozargah-redis', 'Secret/small-gozargah-redis', 'NetworkPolicy/small-gozargah-redis']) t2.ok(objects.includes(o), `${o} is in the release`);
  const got = await ok(['get', '-n', ns, '-f', '-', '-o', 'name'], out.stdout);
  t2.equal(got.trim().split('\n').length, objects.length, `all ${objects.length} objects exist`);
  const password = async (): Promise<string> => Buffer.from(await ok(['-n', ns, 'get', 'secret', 'small-gozargah-redis', '-o', 'jsonpath={.data.password}']), 'base64').toString();
  const first = await password();
  t2.match(first, /^[A-Za-z0-9]{40}$/, 'a generated password');
  t2.equal(await ok(['-n', ns, 'get', 'deploy', 'small-gozargah-operator', '-o', 'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="GOZARGAH_REDIS_URL")].value}']), 'redis://small-gozargah-redis.gozargah-small.svc:6379/0');

  const upgrade = await run(['upgrade', ...release, ...values, '--set', 'redis.maxmemory=128mb']);
  t2.equal(upgrade.code, 0, upgrade.stderr);
  t2.equal(await password(), first, 'the upgrade read the password back (lookup) instead of generating another');
  t2.match(await ok(['-n', ns, 'get', 'statefulset', 'small-gozargah-redis', '-o', 'jsonpath={.spec.template.spec.containers[0].args}']), /"--maxmemory","128mb"/, 'the StatefulSet took the new value');

  const uninstall = await run(['uninstall', 'small', '--namespace', ns, '--wait', '--timeout', '60s']);
  t2.equal(uninstall.code, 0, uninstall.stderr);
  const left = await ok(['-n', ns, 'get', 'statefulset,svc,secret,networkpolicy,deploy', '-l', 'app.kubernetes.io/instance=small', '-o', 'name']);
  t2.equal(left.trim(), '', 'nothing of the release is left');
});

/** Adds spec.contact to the ServiceProvider CRD template (its body below `spec:` is plain YAML). */
function addContactField(path: string): void {
  const text = readFileSync(path, 'utf8');
  const start = text.search(/^spec:/m);
  const end = text.lastIndexOf('{{- end }}');
  const body = parse(text.slice(start, end)) as Obj;
  const spec = body['spec']['versions'][0]['schema']['openAPIV3Schema']['properties']['spec'];
  spec['properties']['contact'] = { type: 'string', maxLength: 254, description: "Who runs this agency's endpoint (an e-mail address)." };
  writeFileSync(path, text.slice(0, start) + stringify(body, { lineWidth: 0 }) + text.slice(end));
}

/** The ServiceMonitor and PrometheusRule CRDs of the Prometheus Operator release pinned in test/cluster/versions.env. */
function monitoringCRDs(): string {
  return ['servicemonitors', 'prometheusrules'].map((plural) => readFileSync(cachedBinary('prometheus-operator-crds', 'PROMETHEUS_OPERATOR_VERSION', `monitoring.coreos.com_${plural}.yaml`), 'utf8')).join('\n---\n');
}

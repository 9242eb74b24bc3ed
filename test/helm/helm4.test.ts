// charts/gozargah through Helm 4 (helm.sh/helm/v4, built and cached by test/cluster/build.sh) as
// well as Helm 3: `helm lint --strict` is clean, `helm template` gives exactly Helm 3's output for
// the default, production and bundled-Redis values (the output render.test.ts compares with the
// golden files; Helm 4 only adds an empty line after some documents), the schema and kubeVersion refuse as they do with Helm 3, and Helm 4 installs,
// upgrades to the production values and uninstalls the chart on a real kube-apiserver + etcd.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { established, startCluster } from '../helpers/cluster.ts';
import { CHART, cachedBinary, helm, helm4Path } from '../helpers/helm.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NS = 'gozargah-system';
const RELEASE = ['gozargah', CHART, '--namespace', NS];
const PRODUCTION = join(CHART, 'values-production.yaml');
const BUNDLED_REDIS = join(import.meta.dirname, 'fixtures/bundled-redis.yaml');
const helm3 = helm();
const helm4 = helm(undefined, helm4Path());

const docs = (text: string): unknown[] => parseAllDocuments(text).map((d) => d.toJS() as unknown);
/** The generated Redis password is new on every render. */
const masked = (text: string): string => text.replace(/^( {2}password: )\S+$/m, '$1GENERATED');

t.test('helm version: Helm 4', async (t2) => {
  const out = await helm4(['version', '--short']);
  t2.equal(out.code, 0, out.stderr);
  t2.match(out.stdout, /^v4\./);
});

t.test('helm lint --strict is clean under Helm 4', async (t2) => {
  for (const args of [[], ['--values', PRODUCTION], ['--values', BUNDLED_REDIS]]) {
    const out = await helm4(['lint', '--strict', CHART, ...args]);
    t2.equal(out.code, 0, `helm lint ${args.join(' ')}: ${out.stdout}${out.stderr}`);
    t2.notMatch(out.stdout, /\[(WARNING|ERROR)\]/, 'no warning');
  }
});

t.test("helm template under Helm 4 gives exactly Helm 3's output", async (t2) => {
  for (const [name, args] of [
    ['default', []],
    ['production', ['--values', PRODUCTION]],
    ['bundled-redis', ['--values', BUNDLED_REDIS]],
  ] as const) {
    const [three, four] = await Promise.all([helm3(['template', ...RELEASE, ...args]), helm4(['template', ...RELEASE, ...args])]);
    t2.equal(four.code, 0, four.stderr);
    t2.ok(four.stdout.length > 10_000, `${name}: rendered`);
    // Helm 4 ends a template's documents with an empty line where Helm 3 does not; nothing else differs.
    const text = (out: string): string => masked(out).replace(/\n(?:[ \t]*\n)+(?=---\n|$)/g, '\n');
    t2.equal(text(four.stdout), text(three.stdout), `${name}: the same text, empty lines between documents aside`);
    t2.strictSame(docs(masked(four.stdout)), docs(masked(three.stdout)), `${name}: the same objects`);
  }
});

t.test('Helm 4 refuses what Helm 3 refuses: a misspelt key, Kubernetes 1.29', async (t2) => {
  const typo = await helm4(['template', ...RELEASE, '--set', 'operater.replicas=3']);
  t2.not(typo.code, 0);
  t2.match(typo.stderr, /additional properties 'operater' not allowed/);
  const old = await helm4(['template', ...RELEASE, '--kube-version', '1.29.0']);
  t2.not(old.code, 0);
  t2.match(old.stderr, /kubeVersion: >=1\.30\.0-0 which is incompatible with Kubernetes v1\.29\.0/);
});

t.test('Helm 4 installs, upgrades to the production values and uninstalls on a real control plane', async (t2) => {
  const cluster = await startCluster();
  t2.teardown(() => cluster.stop());
  const run = helm(cluster.kubeconfig, helm4Path());
  const install = await run(['install', ...RELEASE, '--create-namespace']);
  t2.equal(install.code, 0, install.stderr);
  t2.match(install.stdout, /STATUS: deployed/);
  await established(cluster, ['crd/serviceproviders.gozargah.io', 'crd/inquiryroutes.gozargah.io', 'crd/clientbindings.gozargah.io']);
  const crds = ['servicemonitors', 'prometheusrules'].map((p) => readFileSync(cachedBinary('prometheus-operator-crds', 'PROMETHEUS_OPERATOR_VERSION', `monitoring.coreos.com_${p}.yaml`), 'utf8'));
  const applied = await cluster.kubectl(['apply', '--server-side', '-f', '-'], crds.join('\n---\n'));
  t2.equal(applied.code, 0, applied.stderr);
  await established(cluster, ['crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com']);
  const upgrade = await run(['upgrade', ...RELEASE, '--values', PRODUCTION]);
  t2.equal(upgrade.code, 0, upgrade.stderr);
  const manifest = await run(['get', 'manifest', 'gozargah', '--namespace', NS]);
  const objects = parseAllDocuments(manifest.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
  t2.ok(objects.length > 20, `${objects.length} objects in the release`);
  const got = await cluster.kubectl(['get', '-n', NS, '-f', '-', '-o', 'name'], manifest.stdout);
  t2.equal(got.code, 0, got.stderr);
  t2.equal(got.stdout.trim().split('\n').length, objects.length, 'every object of the production values exists');
  const uninstall = await run(['uninstall', 'gozargah', '--namespace', NS, '--wait', '--timeout', '60s']);
  t2.equal(uninstall.code, 0, uninstall.stderr);
  const left = await cluster.kubectl(['-n', NS, 'get', 'deploy,svc,sa,networkpolicy,servicemonitor,prometheusrule', '-l', 'app.kubernetes.io/instance=gozargah', '-o', 'name']);
  t2.equal(left.stdout.trim(), '', 'nothing of the release is left');
  t2.equal((await cluster.kubectl(['get', 'crd', 'clientbindings.gozargah.io'])).code, 0, 'the CRDs are kept');
});

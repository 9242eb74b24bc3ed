// charts/gozargah against what cert-manager's and ingress-nginx's charts offer, without a cluster:
// values-production.yaml ships in the chart and the README points at it; Chart.yaml refuses
// Kubernetes below 1.30 and its Artifact Hub annotations list exactly the CRDs and the images;
// serviceAccount.create/name, extraVolumes/extraVolumeMounts per component and
// commonLabels/commonAnnotations on every object; a `helm test` Pod per bus (its script runs
// against a real bus in metrics.test.ts); every alert has a runbook under docs/runbooks/, the
// absent() alerts exist, and no two rules share a name and labels (promtool's duplicate-rule
// lint); the operator's default memory fits the measured 10,000 routes.
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { ROOT } from '../helpers/dataplane.ts';
import { CHART, helm } from '../helpers/helm.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const run = helm();
const RELEASE = ['gozargah', CHART, '--namespace', 'gozargah-system'];
const PRODUCTION = join(CHART, 'values-production.yaml');
const work = mkdtempSync(join(tmpdir(), 'gozargah-standards-'));

async function template(...args: string[]): Promise<Obj[]> {
  const out = await run(['template', ...RELEASE, ...args]);
  if (out.code !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${out.stderr}`);
  return parseAllDocuments(out.stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);
}
const find = (objs: Obj[], kind: string, name: string): Obj | undefined => objs.find((o) => o['kind'] === kind && o['metadata']?.['name'] === name);
const valuesFile = (name: string, values: Obj): string => {
  const path = join(work, name);
  writeFileSync(path, stringify(values));
  return path;
};
const exec = (file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr }));
  });
const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
const defaults = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;

t.test('values-production.yaml ships in the chart package, and the README installs with it', async (t2) => {
  const out = await run(['package', CHART, '--destination', work]);
  t2.equal(out.code, 0, out.stderr);
  const tgz = join(work, `gozargah-${chart['version']}.tgz`);
  const listing = await exec('tar', ['-tzf', tgz]);
  t2.equal(listing.code, 0, listing.stderr);
  t2.ok(listing.stdout.split('\n').includes('gozargah/values-production.yaml'), 'gozargah/values-production.yaml is in the package');
  const production = parse(readFileSync(PRODUCTION, 'utf8')) as Obj;
  t2.equal(production['operator']['replicas'], 2, 'two operator replicas');
  t2.ok(production['buses'].length >= 2 && production['redis']['url'] && production['redis']['existingSecret'], 'buses, an external Redis with its Secret');
  t2.ok(production['dataplane']['audit']['signingKey']['secretName'] && production['dataplane']['audit']['pseudonymKey']['secretName'], 'the audit keys');
  for (const key of ['networkPolicy', 'serviceMonitor', 'prometheusRule', 'dashboard']) t2.equal(production[key]['enabled'], true, `${key} on`);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const install = readme.slice(readme.indexOf('## Install on a cluster'), readme.indexOf('\n## ', readme.indexOf('## Install on a cluster') + 5));
  t2.match(install, /helm install gozargah charts\/gozargah -n gozargah-system -f charts\/gozargah\/values-production\.yaml/, "the README's install command uses the shipped file");
  // The schema applies to it: the same file with one misspelt key is refused (lint and template pass it as is: render.test.ts).
  const typo = valuesFile('typo.yaml', { ...production, operator: { ...production['operator'], replica: 3 } });
  const refused = await run(['template', ...RELEASE, '--values', typo]);
  t2.not(refused.code, 0);
  t2.match(refused.stderr, /at '\/operator': additional properties 'replica' not allowed/);
});

t.test('kubeVersion: Kubernetes 1.29 is refused, 1.30 and vendor builds of it are not', async (t2) => {
  t2.equal(chart['kubeVersion'], '>=1.30.0-0');
  const old = await run(['template', ...RELEASE, '--kube-version', '1.29.0']);
  t2.not(old.code, 0, 'helm template --kube-version 1.29.0 fails');
  t2.match(old.stderr, /chart requires kubeVersion: >=1\.30\.0-0 which is incompatible with Kubernetes v1\.29\.0/);
  for (const version of ['1.30.0', 'v1.30.2-eks-1234', '1.36.3']) {
    const out = await run(['template', ...RELEASE, '--kube-version', version]);
    t2.equal(out.code, 0, `Kubernetes ${version} is accepted: ${out.stderr}`);
  }
  const preStop = find(await template('--kube-version', '1.30.0'), 'Deployment', 'gozargah-dataplane-default')?.['spec']['template']['spec']['containers'][0]['lifecycle']['preStop'];
  t2.strictSame(Object.keys(preStop ?? {}), ['sleep'], 'the reason: the preStop sleep action (Kubernetes 1.30)');
});

t.test("Artifact Hub annotations: exactly the chart's images and the CRDs of crds/, an example of each", async (t2) => {
  const annotations = chart['annotations'] as Record<string, string>;
  const images = parse(annotations['artifacthub.io/images'] as string) as Obj[];
  t2.strictSame(
    images,
    [
      { name: 'gozargah', image: `${defaults['image']['repository']}:${chart['appVersion']}` },
      { name: 'redis', image: `${defaults['redis']['image']['repository']}:${defaults['redis']['image']['tag']}` },
    ],
    "the image and the bundled Redis's, as the default values name them",
  );
  const used = new Set(
    (await template('--set', 'redis.enabled=true'))
      .flatMap((o) => (o['spec']?.['template']?.['spec']?.['containers'] ?? o['spec']?.['containers'] ?? []) as Obj[])
      .map((c) => c['image'] as string),
  );
  t2.strictSame([...used].sort(), images.map((i) => i['image']).sort(), 'and exactly the images the rendered pods run');

  const crds = readdirSync(join(ROOT, 'crds')).map((f) => parse(readFileSync(join(ROOT, 'crds', f), 'utf8')) as Obj);
  const listed = parse(annotations['artifacthub.io/crds'] as string) as Obj[];
  t2.strictSame(
    listed.map((c) => ({ kind: c['kind'], version: c['version'], name: c['name'], description: c['description'] })).sort((a, b) => a.name.localeCompare(b.name)),
    crds
      .map((c) => ({
        kind: c['spec']['names']['kind'],
        version: c['spec']['versions'][0]['name'],
        name: c['metadata']['name'],
        description: c['spec']['versions'][0]['schema']['openAPIV3Schema']['description'],
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    'artifacthub.io/crds: every CRD of crds/, its kind, version and description',
  );
  t2.ok(
    listed.every((c) => typeof c['displayName'] === 'string' && c['displayName'] !== ''),
    'each with a display name',
  );
  const examples = parse(annotations['artifacthub.io/crdsExamples'] as string) as Obj[];
  t2.strictSame(examples.map((e) => `${e['apiVersion']} ${e['kind']}`).sort(), crds.map((c) => `${c['spec']['group']}/${c['spec']['versions'][0]['name']} ${c['spec']['names']['kind']}`).sort(), 'artifacthub.io/crdsExamples: one of each kind (install.test.ts has the API server accept them)');
  t2.equal(annotations['artifacthub.io/license'], 'Apache-2.0');
  t2.equal((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Obj)['license'], 'Apache-2.0', "the project's license");
  const links = parse(annotations['artifacthub.io/links'] as string) as Obj[];
  t2.ok(
    links.some((l) => l['name'] === 'source') && links.every((l) => /^https:\/\//.test(l['url'])),
    'links, https',
  );
});

t.test('serviceAccount.create/name, per component: the pods run as it and the RBAC binds it', async (t2) => {
  const subjects = (objs: Obj[], kind: string, name: string): string[] => ((find(objs, kind, name)?.['subjects'] ?? []) as Obj[]).map((s) => `${s['kind']}/${s['namespace']}/${s['name']}`);
  const saOf = (objs: Obj[], deploy: string): string => find(objs, 'Deployment', deploy)?.['spec']['template']['spec']['serviceAccountName'];

  const byDefault = await template();
  t2.ok(find(byDefault, 'ServiceAccount', 'gozargah-operator') && find(byDefault, 'ServiceAccount', 'gozargah-dataplane'), 'both made by default');
  t2.equal(saOf(byDefault, 'gozargah-operator'), 'gozargah-operator');

  const named = await template('--set', 'operator.serviceAccount.name=bus-operator', '--set', 'dataplane.serviceAccount.name=bus-dataplane');
  t2.ok(find(named, 'ServiceAccount', 'bus-operator') && find(named, 'ServiceAccount', 'bus-dataplane'), 'create with a name: made under that name');
  t2.equal(saOf(named, 'gozargah-operator'), 'bus-operator');
  t2.equal(saOf(named, 'gozargah-dataplane-default'), 'bus-dataplane');

  const existing = await template('--set', 'operator.serviceAccount.create=false', '--set', 'operator.serviceAccount.name=platform-operator', '--set', 'dataplane.serviceAccount.create=false', '--set', 'dataplane.serviceAccount.name=platform-dataplane', '--set', 'buses[0].name=a', '--set', 'buses[1].name=b');
  t2.equal(existing.filter((o) => o['kind'] === 'ServiceAccount').length, 0, 'create=false: no ServiceAccount made');
  t2.equal(saOf(existing, 'gozargah-operator'), 'platform-operator', 'the operator runs as the named one');
  for (const bus of ['a', 'b']) t2.equal(saOf(existing, `gozargah-dataplane-${bus}`), 'platform-dataplane', `bus ${bus} runs as the named one`);
  t2.strictSame(subjects(existing, 'ClusterRoleBinding', 'gozargah-operator'), ['ServiceAccount/gozargah-system/platform-operator'], "the ClusterRoleBinding binds it");
  t2.strictSame(subjects(existing, 'RoleBinding', 'gozargah-operator'), ['ServiceAccount/gozargah-system/platform-operator']);
  t2.strictSame(subjects(existing, 'RoleBinding', 'gozargah-dataplane'), ['ServiceAccount/gozargah-system/platform-dataplane']);

  for (const component of ['operator', 'dataplane']) {
    const out = await run(['template', ...RELEASE, '--set', `${component}.serviceAccount.create=false`]);
    t2.not(out.code, 0, `${component}: create=false without a name is refused`);
    t2.match(out.stderr, new RegExp(`${component}.serviceAccount.create=false needs ${component}.serviceAccount.name`));
  }
  const typo = await run(['template', ...RELEASE, '--set', 'operator.serviceAccount.crate=false']);
  t2.match(typo.stderr, /at '\/operator\/serviceAccount': additional properties 'crate' not allowed/, 'a typo is refused by the schema');
});

t.test('extraVolumes and extraVolumeMounts, per component, next to the chart\'s own', async (t2) => {
  const values = valuesFile('volumes.yaml', {
    operator: { extraVolumes: [{ name: 'ca', configMap: { name: 'corporate-ca' } }], extraVolumeMounts: [{ name: 'ca', mountPath: '/etc/ssl/corporate', readOnly: true }] },
    dataplane: { extraVolumes: [{ name: 'agency-ca', secret: { secretName: 'agency-ca' } }], extraVolumeMounts: [{ name: 'agency-ca', mountPath: '/etc/gozargah/agency-ca', readOnly: true }] },
    buses: [{ name: 'a' }, { name: 'b', tls: { secretName: 'b-tls' } }],
  });
  const objs = await template('--values', values);
  const pod = (name: string): Obj => find(objs, 'Deployment', name)?.['spec']['template']['spec'];
  const operator = pod('gozargah-operator');
  t2.strictSame(operator['volumes'], [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }, { name: 'ca', configMap: { name: 'corporate-ca' } }], 'the operator: its tmp and the extra volume');
  t2.strictSame(operator['containers'][0]['volumeMounts'], [{ name: 'tmp', mountPath: '/tmp' }, { name: 'ca', mountPath: '/etc/ssl/corporate', readOnly: true }]);
  for (const bus of ['a', 'b']) {
    const p = pod(`gozargah-dataplane-${bus}`);
    t2.strictSame(p['volumes'].at(-1), { name: 'agency-ca', secret: { secretName: 'agency-ca' } }, `bus ${bus}: the extra volume`);
    t2.strictSame(p['containers'][0]['volumeMounts'].at(-1), { name: 'agency-ca', mountPath: '/etc/gozargah/agency-ca', readOnly: true }, `bus ${bus}: the extra mount`);
    t2.ok(
      p['containers'][0]['volumeMounts'].some((m: Obj) => m['name'] === 'snapshot-cache'),
      `bus ${bus}: the chart's own mounts stay`,
    );
    t2.notOk(
      JSON.stringify(operator).includes('agency-ca'),
      "the dataplane's volume is not the operator's",
    );
  }
  t2.ok(
    pod('gozargah-dataplane-b')['volumes'].some((v: Obj) => v['name'] === 'tls'),
    "bus b keeps its TLS volume",
  );
  const noName = await run(['template', ...RELEASE, '--set-json', 'operator.extraVolumeMounts=[{"mountPath":"/x"}]']);
  t2.match(noName.stderr, /at '\/operator\/extraVolumeMounts\/0': missing property 'name'/, 'a mount without a name is refused by the schema');
});

t.test('commonLabels and commonAnnotations reach every object; an object\'s own annotation wins', async (t2) => {
  const values = valuesFile('common.yaml', {
    ...(parse(readFileSync(PRODUCTION, 'utf8')) as Obj),
    commonLabels: { 'example.org/team': 'service-bus' },
    commonAnnotations: { 'example.org/owner': 'platform@example.org', 'example.org/note': 'common' },
    operator: { serviceAccount: { annotations: { 'example.org/note': 'own' } } },
  });
  const objs = [...(await template('--values', values)), ...(await template('--set', 'redis.enabled=true', '--set', 'networkPolicy.enabled=true', '--set-json', 'commonAnnotations={"example.org/owner":"platform@example.org"}', '--set-json', 'commonLabels={"example.org/team":"service-bus"}'))];
  const kinds = new Set(objs.map((o) => o['kind']));
  for (const kind of ['CustomResourceDefinition', 'Deployment', 'Service', 'ServiceAccount', 'ClusterRole', 'RoleBinding', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule', 'ConfigMap', 'StatefulSet', 'Secret', 'Pod']) t2.ok(kinds.has(kind), `a ${kind} is among the objects checked`);
  const missing = objs.filter((o) => o['metadata']['labels']?.['example.org/team'] !== 'service-bus' || o['metadata']['annotations']?.['example.org/owner'] !== 'platform@example.org').map((o) => `${o['kind']}/${o['metadata']['name']}`);
  t2.strictSame(missing, [], `all ${objs.length} objects carry the common label and annotation`);
  t2.equal(find(objs, 'ServiceAccount', 'gozargah-operator')?.['metadata']['annotations']['example.org/note'], 'own', "the ServiceAccount's own annotation wins");
  t2.equal(find(objs, 'Deployment', 'gozargah-operator')?.['metadata']['annotations']['example.org/note'], 'common');
  t2.equal(find(objs, 'CustomResourceDefinition', 'clientbindings.gozargah.io')?.['metadata']['annotations']['helm.sh/resource-policy'], 'keep', 'the CRDs stay kept');
  t2.equal(find(objs, 'Pod', 'gozargah-dataplane-internal-test')?.['metadata']['annotations']['helm.sh/hook'], 'test', 'the test Pods stay hooks');
  t2.equal(find(objs, 'Service', 'gozargah-dataplane-public')?.['metadata']['annotations']['service.beta.kubernetes.io/load-balancer-class'], 'public', "a bus's Service keeps its own");
  const selectors = objs.filter((o) => JSON.stringify(o['spec']?.['selector'] ?? {}).includes('example.org/team'));
  t2.strictSame(selectors, [], 'never in a selector');
  const notString = await run(['template', ...RELEASE, '--set-json', 'commonAnnotations={"a":1}']);
  t2.match(notString.stderr, /at '\/commonAnnotations\/a': got number, want string/, 'a number is refused by the schema');
});

t.test('helm test: one hook Pod per bus, with the chart\'s image, asking the bus\'s own Service', async (t2) => {
  const objs = await template('--values', PRODUCTION);
  const pods = objs.filter((o) => o['kind'] === 'Pod');
  t2.strictSame(pods.map((p) => p['metadata']['name']).sort(), ['gozargah-dataplane-internal-test', 'gozargah-dataplane-public-test'], 'one per bus');
  for (const pod of pods) {
    const bus = pod['metadata']['labels']['gozargah.io/bus'] as string;
    t2.match(pod['metadata']['annotations'], { 'helm.sh/hook': 'test', 'helm.sh/hook-delete-policy': 'before-hook-creation' }, `${bus}: a test hook, kept for --logs until the next run`);
    const spec = pod['spec'];
    const c = spec['containers'][0];
    t2.equal(c['image'], find(objs, 'Deployment', `gozargah-dataplane-${bus}`)?.['spec']['template']['spec']['containers'][0]['image'], `${bus}: the chart's own image`);
    t2.strictSame(spec['imagePullSecrets'], [{ name: 'registry-credentials' }]);
    t2.strictSame(c['command'].slice(0, 2), ['node', '-e']);
    t2.equal(c['command'][2], readFileSync(join(CHART, 'files/helm-test.js'), 'utf8').replace(/^\/\/.*\n/gm, ''), `${bus}: files/helm-test.js, comments aside`);
    const env = Object.fromEntries((c['env'] as Obj[]).map((e) => [e['name'], e['value']]));
    const svc = find(objs, 'Service', `gozargah-dataplane-${bus}`) as Obj;
    const port = svc['spec']['ports'][0];
    t2.equal(env['GOZARGAH_BUS_URL'], `${port['name']}://gozargah-dataplane-${bus}.gozargah-system.svc:${port['port']}/`, `${bus}: its Service, scheme and port`);
    t2.equal(env['NODE_TLS_REJECT_UNAUTHORIZED'], port['name'] === 'https' ? '0' : undefined, `${bus}: a private CA does not fail the check`);
    t2.equal(spec['restartPolicy'], 'Never');
    t2.equal(spec['automountServiceAccountToken'], false, 'no API token');
    t2.match(c['securityContext'], { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }, 'hardened');
    t2.equal(spec['securityContext']['runAsNonRoot'], true);
    t2.ok(c['resources']['requests'] && c['resources']['limits'], 'resources');
  }
  // The internal bus admits only client namespaces: its NetworkPolicy lets its test Pod in too.
  const from = find(objs, 'NetworkPolicy', 'gozargah-dataplane-internal')?.['spec']['ingress'][0]['from'] as Obj[];
  const testPod = pods.find((p) => p['metadata']['labels']['gozargah.io/bus'] === 'internal') as Obj;
  const admitted = from.filter((peer) => peer['podSelector'] && Object.entries(peer['podSelector']['matchLabels'] as Record<string, string>).every(([k, v]) => testPod['metadata']['labels'][k] === v));
  t2.equal(admitted.length, 1, "the internal bus's NetworkPolicy admits its test Pod");
  t2.equal(admitted[0]?.['podSelector']['matchLabels']['app.kubernetes.io/component'], 'test', 'by the test component label, not every pod');
  t2.equal((await template('--set', 'tests.enabled=false')).filter((o) => o['kind'] === 'Pod').length, 0, 'tests.enabled=false: none');
});

const RUNBOOKS = join(ROOT, 'docs/runbooks');
const BASE = defaults['prometheusRule']['runbookBaseURL'] as string;

async function rules(...args: string[]): Promise<Obj[]> {
  const rule = find(await template('--values', PRODUCTION, ...args), 'PrometheusRule', 'gozargah') as Obj;
  return rule['spec']['groups'].flatMap((g: Obj) => g['rules']) as Obj[];
}

t.test('every alert has a runbook_url whose page exists under docs/runbooks/; every page is an alert\'s', async (t2) => {
  const alerts = await rules();
  t2.ok(alerts.length >= 13);
  t2.equal(BASE, 'https://github.com/gozargah/gozargah/blob/main/docs/runbooks/', 'the repository by default');
  for (const alert of alerts) {
    const url = alert['annotations']['runbook_url'] as string;
    t2.equal(url, `${BASE}${alert['alert']}.md`, `${alert['alert']}: runbook_url`);
    const page = join(RUNBOOKS, `${alert['alert']}.md`);
    t2.ok(existsSync(page), `docs/runbooks/${alert['alert']}.md exists`);
    if (!existsSync(page)) continue;
    const text = readFileSync(page, 'utf8');
    t2.match(text, new RegExp(`^# ${alert['alert']}\\n`), `${alert['alert']}: the page is about it`);
    for (const part of ['**Meaning.**', '**Check.**', '**Act.**']) t2.ok(text.includes(part), `${alert['alert']}: ${part}`);
  }
  const pages = readdirSync(RUNBOOKS).filter((f) => f !== 'README.md');
  const names = new Set(alerts.map((a) => `${a['alert']}.md`));
  t2.strictSame(pages.filter((p) => !names.has(p)), [], 'no page without its alert');
  const index = readFileSync(join(RUNBOOKS, 'README.md'), 'utf8');
  for (const name of names) t2.ok(index.includes(`(${name})`), `docs/runbooks/README.md links ${name}`);
  const mirrored = await rules('--set', 'prometheusRule.runbookBaseURL=https://wiki.example.ir/gozargah/runbooks/');
  t2.ok(
    mirrored.every((a) => a['annotations']['runbook_url'] === `https://wiki.example.ir/gozargah/runbooks/${a['alert']}.md`),
    'runbookBaseURL moves them all (a mirrored copy)',
  );
});

t.test('absent() alerts: the operator, and the dataplane of each bus', async (t2) => {
  const alerts = await rules();
  const operator = alerts.filter((a) => a['alert'] === 'GozargahOperatorAbsent');
  t2.equal(operator.length, 1);
  t2.equal(operator[0]?.['expr'], 'absent(gozargah_operator_leader{namespace="gozargah-system"})', 'a series every operator replica exports, leader or standby');
  t2.match(operator[0], { for: '5m', labels: { severity: 'critical', team: 'service-bus' } });
  const dataplane = alerts.filter((a) => a['alert'] === 'GozargahDataplaneAbsent');
  t2.strictSame(
    dataplane.map((a) => a['expr']),
    ['internal', 'public'].map((bus) => `absent(gozargah_snapshot_generation{namespace="gozargah-system", bus="${bus}"})`),
    'one per bus, on a series every replica exports with its bus label (metrics.test.ts)',
  );
  t2.ok(
    dataplane.every((a) => a['labels']['severity'] === 'critical' && a['for'] === '5m'),
    'critical, after absentFor',
  );
  // `promtool check rules --lint=all` refuses two rules with one name and the same labels.
  for (const args of [[], ['--set', 'buses[0].name=a', '--set', 'buses[1].name=b', '--set', 'buses[2].name=c']]) {
    const keys = (await rules(...args)).map((a) => `${a['alert']} ${JSON.stringify(a['labels'])}`);
    t2.equal(new Set(keys).size, keys.length, `no two rules with one name and the same labels (${keys.length} rules)`);
  }
  t2.strictSame(
    dataplane.map((a) => a['labels']['bus']),
    ['internal', 'public'],
    'each GozargahDataplaneAbsent labelled with its bus',
  );
  const three = await rules('--set', 'buses[0].name=a', '--set', 'buses[1].name=b', '--set', 'buses[2].name=c', '--set', 'prometheusRule.absentFor=2m');
  t2.strictSame(
    three.filter((a) => a['alert'] === 'GozargahDataplaneAbsent').map((a) => [a['expr'], a['for']]),
    ['a', 'b', 'c'].map((bus) => [`absent(gozargah_snapshot_generation{namespace="gozargah-system", bus="${bus}"})`, '2m']),
    'three buses, three alerts, absentFor',
  );
});

/** A Kubernetes memory quantity in bytes (the forms values.yaml uses). */
const bytes = (q: string): number => {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (m === null) throw new Error(`not a memory quantity: ${q}`);
  const unit: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
  return Number(m[1]) * (m[2] === undefined ? 1 : (unit[m[2]] ?? NaN));
};

t.test("the operator's default memory fits the measured 10,000 routes", async (t2) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const measured = /at 10,000 routes it was (\d+) MB resident just after settling/.exec(readme.replace(/\s+/g, ' '));
  t2.ok(measured, "the README's measurement");
  const peak = Number(measured?.[1]) * 1e6;
  const resources = defaults['operator']['resources'];
  t2.ok(bytes(resources['limits']['memory']) >= peak * 1.3, `the limit ${resources['limits']['memory']} leaves 30% over ${peak / 1e6} MB`);
  t2.ok(bytes(resources['requests']['memory']) >= peak, `the request ${resources['requests']['memory']} reserves what the operator uses at 10,000 routes (${peak / 1e6} MB)`);
  t2.ok(bytes(resources['requests']['memory']) <= bytes(resources['limits']['memory']), 'the request is within the limit');
  const values = readFileSync(join(CHART, 'values.yaml'), 'utf8');
  t2.match(values, new RegExp(`10,000 / 10 +${measured?.[1]} MB `), 'the sizing table in values.yaml quotes it');
});

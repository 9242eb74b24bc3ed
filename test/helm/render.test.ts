// charts/gozargah without a cluster: `helm lint` is clean, `helm template` matches the golden
// output for the default values, a production values file (an external Redis) and a small install
// with the bundled Redis (UPDATE_GOLDEN=1 rewrites it), the RBAC rules are exactly deploy/rbac/,
// the CRDs are exactly crds/, every pod is hardened, Redis reaches both components (or neither),
// and wrong values fail with a message that names them.
import t from 'tap';
import { readFileSync, writeFileSync, existsSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/dataplane.ts';
import { CHART, helm } from '../helpers/helm.ts';
import { parseDataplaneArgs } from '../../dataplane/args.ts';
import { parseOperatorArgs } from '../../operator/args.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const PRODUCTION = join(CHART, 'values-production.yaml');
const BUNDLED_REDIS = join(import.meta.dirname, 'fixtures/bundled-redis.yaml');
const GOLDEN = join(import.meta.dirname, 'golden');
const run = helm();
const RELEASE = ['gozargah', CHART, '--namespace', 'gozargah-system'];

async function template(...args: string[]): Promise<string> {
  const out = await run(['template', ...RELEASE, ...args]);
  if (out.code !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${out.stderr}`);
  return out.stdout;
}

const docs = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);
const find = (objs: Obj[], kind: string, name: string): Obj | undefined => objs.find((o) => o['kind'] === kind && o['metadata']?.['name'] === name);
const fileDocs = (path: string): Obj[] => docs(readFileSync(path, 'utf8'));

const rendered = {
  default: await template(),
  production: await template('--values', PRODUCTION),
  'bundled-redis': await template('--values', BUNDLED_REDIS),
};

t.test('helm lint is clean, with the default and the production values', async (t2) => {
  for (const args of [[], ['--values', PRODUCTION], ['--values', BUNDLED_REDIS]]) {
    const out = await run(['lint', '--strict', CHART, ...args]);
    t2.equal(out.code, 0, `helm lint ${args.join(' ')}: ${out.stdout}${out.stderr}`);
    t2.match(out.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    t2.notMatch(out.stdout, /\[(WARNING|ERROR)\]/, 'no warning');
  }
});

/**
 * The output without the CRD templates: those are crds/ (checked below), so a change to
 * api/v1alpha1 needs `make crds`, not new golden files.
 */
const withoutCRDs = (text: string): string =>
  text
    .split(/^(?=---\n# Source: )/m)
    .filter((doc) => !doc.startsWith('---\n# Source: gozargah/templates/crds/'))
    .join('');

/** The generated Redis password is new on every `helm template` (no cluster to read it back from). */
const GENERATED_PASSWORD = /^(---\n# Source: gozargah\/templates\/redis\/secret\.yaml\n[^]*?\n {2}password: )(\S+)$/m;
const maskPassword = (text: string): string => text.replace(GENERATED_PASSWORD, '$1GENERATED');

for (const [name, all] of Object.entries(rendered)) {
  const text = maskPassword(withoutCRDs(all));
  t.test(`helm template with the ${name} values matches golden/${name}.yaml (CRDs aside)`, async (t2) => {
    t2.not(text, all, 'the CRD templates are left out');
    const path = join(GOLDEN, `${name}.yaml`);
    if (UPDATE) {
      writeFileSync(path, text);
      t2.pass(`wrote ${path}`);
      return;
    }
    if (!existsSync(path)) {
      t2.fail(`${path} is missing: run UPDATE_GOLDEN=1 tap test/helm and read what it wrote`);
      return;
    }
    t2.equal(text, readFileSync(path, 'utf8'), `the output matches golden/${name}.yaml (UPDATE_GOLDEN=1 rewrites it)`);
  });
}

t.test('the chart ships exactly the rules of deploy/rbac/', async (t2) => {
  for (const [name, text] of Object.entries(rendered)) {
    const objs = docs(text);
    for (const component of ['operator', 'dataplane']) {
      const wanted = fileDocs(join(ROOT, 'deploy/rbac', `${component}.yaml`));
      for (const role of wanted.filter((o) => o['kind'] === 'ClusterRole' || o['kind'] === 'Role')) {
        const got = find(objs, role['kind'], `gozargah-${component}`);
        t2.ok(got, `${name}: ${role['kind']} gozargah-${component} is rendered`);
        t2.strictSame(got?.['rules'], role['rules'], `${name}: ${role['kind']} gozargah-${component} has exactly the rules of deploy/rbac/${component}.yaml`);
      }
      for (const binding of wanted.filter((o) => o['kind'] === 'ClusterRoleBinding' || o['kind'] === 'RoleBinding')) {
        const got = find(objs, binding['kind'], `gozargah-${component}`);
        t2.strictSame(got?.['roleRef'], binding['roleRef'], `${name}: ${binding['kind']} refers to the same role`);
        t2.strictSame(got?.['subjects'], binding['subjects'], `${name}: ${binding['kind']} binds the chart's ServiceAccount in the release namespace`);
      }
      const roles = objs.filter((o) => ['ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'].includes(o['kind']) && o['metadata']['labels']['app.kubernetes.io/component'] === component);
      t2.equal(roles.length, wanted.length, `${name}: no RBAC object for the ${component} beyond deploy/rbac/${component}.yaml`);
    }
    t2.equal(objs.filter((o) => ['ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'].includes(o['kind'])).length, 6, `${name}: six RBAC objects in all`);
  }
});

t.test('the CRD templates are crds/, with keep unless crds.keep=false, and none with crds.enabled=false', async (t2) => {
  const objs = docs(rendered.default);
  for (const file of readdirSync(join(ROOT, 'crds'))) {
    const [crd] = fileDocs(join(ROOT, 'crds', file)) as [Obj];
    const got = find(objs, 'CustomResourceDefinition', crd['metadata']['name']);
    t2.strictSame(got?.['spec'], crd['spec'], `${file}: the same spec as crds/${file}`);
    t2.equal(got?.['metadata']['annotations']['helm.sh/resource-policy'], 'keep', `${file}: helm.sh/resource-policy: keep`);
    t2.equal(got?.['metadata']['labels']['app.kubernetes.io/part-of'], 'gozargah');
  }
  const notKept = docs(await template('--set', 'crds.keep=false')).filter((o) => o['kind'] === 'CustomResourceDefinition');
  t2.equal(notKept.length, 3);
  t2.ok(
    notKept.every((o) => o['metadata']['annotations'] === undefined),
    'no annotation with crds.keep=false',
  );
  const none = docs(await template('--set', 'crds.enabled=false'));
  t2.equal(none.filter((o) => o['kind'] === 'CustomResourceDefinition').length, 0, 'no CRD with crds.enabled=false');
});

t.test('one Deployment, Service and PodDisruptionBudget per bus; an HPA where asked', async (t2) => {
  const objs = docs(rendered.production);
  for (const bus of ['internal', 'public']) {
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'NetworkPolicy']) t2.ok(find(objs, kind, `gozargah-dataplane-${bus}`), `${kind} gozargah-dataplane-${bus}`);
  }
  t2.equal(objs.filter((o) => o['kind'] === 'Deployment').length, 3, 'the operator and two buses');
  const internal = find(objs, 'Deployment', 'gozargah-dataplane-internal') as Obj;
  const publicBus = find(objs, 'Deployment', 'gozargah-dataplane-public') as Obj;
  t2.equal(internal['spec']['replicas'], 3);
  t2.equal(publicBus['spec']['replicas'], undefined, 'an autoscaled bus leaves replicas to its HPA');
  t2.ok(find(objs, 'HorizontalPodAutoscaler', 'gozargah-dataplane-public'));
  t2.notOk(find(objs, 'HorizontalPodAutoscaler', 'gozargah-dataplane-internal'));
  const args: string[] = internal['spec']['template']['spec']['containers'][0]['args'];
  t2.match(args.join(' '), /^dataplane\/main\.ts --namespace \$\(POD_NAMESPACE\) --bus internal --replica \$\(POD_NAME\) --listen 0\.0\.0\.0:8080 --admin-listen 0\.0\.0\.0:9090 --grace 25 --audit-unavailable serve --audit-queue-bytes 16Mi --audit-evidence on --audit-signing-key \/etc\/gozargah\/audit-signing\/audit-signing\.pem --audit-pseudonym-key \/etc\/gozargah\/audit-pseudonym\/audit-pseudonym\.key --redis-unavailable local --cache-dir \/var\/cache\/gozargah --tls-cert \/etc\/gozargah\/tls\/tls\.crt --tls-key \/etc\/gozargah\/tls\/tls\.key --client-ca \/etc\/gozargah\/client-ca\/ca\.crt$/);
  t2.equal(internal['spec']['template']['spec']['terminationGracePeriodSeconds'], 35, 'above preStop sleep + drain');
  const svc = find(objs, 'Service', 'gozargah-dataplane-public') as Obj;
  t2.equal(svc['spec']['type'], 'LoadBalancer');
  t2.strictSame(svc['spec']['ports'], [{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
  const operator = find(objs, 'Deployment', 'gozargah-operator') as Obj;
  t2.equal(operator['spec']['replicas'], 2);
  // One --bus per bus: the operator publishes each, so its replicas become ready before any route.
  t2.strictSame(operator['spec']['template']['spec']['containers'][0]['args'], ['operator/main.ts', '--namespace', '$(POD_NAMESPACE)', '--identity', '$(POD_NAME)', '--admin-listen', '0.0.0.0:9090', '--bus', 'internal', '--bus', 'public']);
  t2.ok(find(objs, 'PodDisruptionBudget', 'gozargah-operator'));
  const defaults = docs(rendered.default);
  t2.ok(find(defaults, 'Deployment', 'gozargah-dataplane-default'), 'the default values serve the API default bus');
  for (const kind of ['ServiceMonitor', 'PrometheusRule', 'ConfigMap', 'NetworkPolicy', 'HorizontalPodAutoscaler', 'StatefulSet', 'Secret']) {
    t2.equal(defaults.filter((o) => o['kind'] === kind).length, 0, `no ${kind} by default`);
  }
});

/** The container's environment as the kubelet would give it: values as they are, a Secret's key as "from-SECRET". */
const containerEnv = (c: Obj): NodeJS.ProcessEnv =>
  Object.fromEntries(((c['env'] ?? []) as Obj[]).map((e) => [e['name'], e['value'] ?? (e['valueFrom']?.['secretKeyRef'] ? `from-${e['valueFrom']['secretKeyRef']['name']}` : 'from-the-downward-api')]));

/** What GOZARGAH_REDIS_URL each set of values gives (null: no Redis). */
const REDIS_URLS: Record<keyof typeof rendered, string | null> = {
  default: null,
  production: 'redis-sentinel://redis-sentinel-0.redis.svc:26379,redis-sentinel-1.redis.svc:26379/gozargah',
  'bundled-redis': 'redis://gozargah-redis.gozargah-system.svc:6379/0',
};

t.test("the containers' command lines are what the operator's and the dataplane's own parsers accept", async (t2) => {
  // The kubelet expands $(VAR) from the container's env; the downward API gives these two.
  const expand = (args: string[]): string[] => args.map((a) => a.replace('$(POD_NAMESPACE)', 'gozargah-system').replace('$(POD_NAME)', 'pod-0'));
  for (const [name, text] of Object.entries(rendered) as [keyof typeof rendered, string][]) {
    for (const deploy of docs(text).filter((o) => o['kind'] === 'Deployment')) {
      const c = deploy['spec']['template']['spec']['containers'][0];
      const [entry, ...args] = expand(c['args']) as [string, ...string[]];
      t2.strictSame(c['command'], ['node'], `${name}: ${deploy['metadata']['name']} runs node`);
      t2.ok(existsSync(join(ROOT, entry)), `${name}: ${entry} exists`);
      if (entry === 'operator/main.ts') {
        const parsed = parseOperatorArgs(args, containerEnv(c));
        t2.match(parsed, { namespace: 'gozargah-system', identity: 'pod-0' }, `${name}: operator arguments`);
      } else {
        const parsed = parseDataplaneArgs(args, containerEnv(c));
        const bus = deploy['metadata']['labels']['gozargah.io/bus'];
        t2.match(parsed, { namespace: 'gozargah-system', bus, replica: 'pod-0', listen: { port: 8080 }, adminListen: { port: 9090 } }, `${name}: dataplane arguments of bus ${bus}`);
        t2.equal(parsed.redis?.display ?? null, REDIS_URLS[name], `${name}: bus ${bus} takes Redis from GOZARGAH_REDIS_URL`);
        if (parsed.redis !== null) t2.ok(parsed.redis.options.password?.startsWith('from-'), `${name}: bus ${bus} takes the Redis password from GOZARGAH_REDIS_PASSWORD`);
        const paths = c['volumeMounts'].map((m: Obj) => m['mountPath'] as string);
        for (const file of [parsed.tlsCert, parsed.tlsKey, parsed.clientCa]) {
          if (file !== null) t2.ok(paths.some((p: string) => file.startsWith(`${p}/`)), `${name}: ${file} is on a mounted volume`);
        }
      }
    }
  }
});

t.test("a bus's own keys win over busDefaults, key by key, even to turn something off", async (t2) => {
  const values = join(mkdtempSync(join(tmpdir(), 'gozargah-values-')), 'values.yaml');
  writeFileSync(
    values,
    `busDefaults:
  autoscaling: { enabled: true }
  tls: { secretName: default-tls }
  tolerations: [{ operator: Exists }]
buses:
  - { name: a, podDisruptionBudget: { enabled: false }, autoscaling: { enabled: false }, tls: { secretName: "" }, tolerations: [] }
  - { name: b, autoscaling: { maxReplicas: 4 } }
`,
  );
  const objs = docs(await template('--values', values));
  t2.notOk(find(objs, 'PodDisruptionBudget', 'gozargah-dataplane-a'), 'bus a turned its PDB off');
  t2.notOk(find(objs, 'HorizontalPodAutoscaler', 'gozargah-dataplane-a'), 'bus a turned autoscaling off');
  const a = find(objs, 'Deployment', 'gozargah-dataplane-a') as Obj;
  t2.equal(a['spec']['replicas'], 2);
  t2.notMatch(a['spec']['template']['spec']['containers'][0]['args'].join(' '), /--tls-cert/, 'bus a serves plain HTTP');
  t2.equal(a['spec']['template']['spec']['tolerations'], undefined, 'bus a has no tolerations');
  t2.ok(find(objs, 'PodDisruptionBudget', 'gozargah-dataplane-b'), 'bus b keeps the default PDB');
  const hpa = find(objs, 'HorizontalPodAutoscaler', 'gozargah-dataplane-b') as Obj;
  t2.match(hpa['spec'], { minReplicas: 2, maxReplicas: 4 }, 'bus b: the default minimum, its own maximum');
  const b = find(objs, 'Deployment', 'gozargah-dataplane-b') as Obj;
  t2.match(b['spec']['template']['spec']['containers'][0]['args'].join(' '), /--tls-cert \/etc\/gozargah\/tls\/tls\.crt/, 'bus b serves HTTPS with the default Secret');
  t2.strictSame(b['spec']['template']['spec']['tolerations'], [{ operator: 'Exists' }]);
});

/** The Redis environment of a container: GOZARGAH_REDIS_* entries by name. */
const redisEnv = (deploy: Obj): Record<string, Obj> =>
  Object.fromEntries(((deploy['spec']['template']['spec']['containers'][0]['env'] ?? []) as Obj[]).filter((e) => String(e['name']).startsWith('GOZARGAH_REDIS')).map((e) => [e['name'], e]));
const argsOf = (deploy: Obj): string => (deploy['spec']['template']['spec']['containers'][0]['args'] as string[]).join(' ');
const egressOf = (policy: Obj | undefined): Obj[] => (policy?.['spec']['egress'] ?? []) as Obj[];
const hasEgress = (policy: Obj | undefined, rule: Obj): boolean => egressOf(policy).some((r) => isDeepStrictEqual(r, rule));
const selector = (component: string): Obj => ({ 'app.kubernetes.io/name': 'gozargah', 'app.kubernetes.io/instance': 'gozargah', 'app.kubernetes.io/component': component });
const alertsOf = (objs: Obj[]): string[] => ((find(objs, 'PrometheusRule', 'gozargah')?.['spec']['groups'][0]['rules'] ?? []) as Obj[]).map((r) => r['alert'] as string);
const REDIS_ALERTS = ['GozargahRedisUnreachable', 'GozargahRedisLocalDecisions', 'GozargahUsageNotFlushed'];

t.test('redis.url with redis.existingSecret: both components get the URL and the password from the Secret, the NetworkPolicies let them out', async (t2) => {
  const objs = docs(rendered.production);
  const deployments = objs.filter((o) => o['kind'] === 'Deployment');
  t2.equal(deployments.length, 3);
  for (const deploy of deployments) {
    const what = deploy['metadata']['name'] as string;
    t2.strictSame(
      redisEnv(deploy),
      {
        GOZARGAH_REDIS_URL: { name: 'GOZARGAH_REDIS_URL', value: REDIS_URLS.production },
        GOZARGAH_REDIS_PASSWORD: { name: 'GOZARGAH_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'gozargah-redis', key: 'redis-password' } } },
      },
      `${what}: GOZARGAH_REDIS_URL, and GOZARGAH_REDIS_PASSWORD from the Secret`,
    );
    t2.notMatch(argsOf(deploy), /redis:\/\/|redis-sentinel:|--redis /, `${what}: no Redis URL or password on the command line`);
    t2.equal(deploy['spec']['template']['spec']['enableServiceLinks'], false, `${what}: no <SERVICE>_PORT variables`);
  }
  for (const bus of ['internal', 'public']) t2.match(argsOf(find(objs, 'Deployment', `gozargah-dataplane-${bus}`) as Obj), / --redis-unavailable local( |$)/, `bus ${bus}: --redis-unavailable local`);
  t2.notMatch(argsOf(find(objs, 'Deployment', 'gozargah-operator') as Obj), /--redis-unavailable/, 'the operator has no --redis-unavailable');
  for (const kind of ['StatefulSet', 'Secret']) t2.equal(objs.filter((o) => o['kind'] === kind).length, 0, `no ${kind}: the Redis is not the chart's`);
  t2.notOk(find(objs, 'NetworkPolicy', 'gozargah-redis'));
  const rule = { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'redis' } } }], ports: [{ port: 26379, protocol: 'TCP' }, { port: 6379, protocol: 'TCP' }] };
  for (const policy of ['gozargah-operator', 'gozargah-dataplane-internal', 'gozargah-dataplane-public']) {
    t2.ok(hasEgress(find(objs, 'NetworkPolicy', policy), rule), `NetworkPolicy ${policy}: redis.networkPolicy.egress is in its egress`);
  }
  t2.strictSame(
    REDIS_ALERTS.filter((a) => alertsOf(objs).includes(a)),
    REDIS_ALERTS,
    'the Redis alerts',
  );
  const alert = (find(objs, 'PrometheusRule', 'gozargah')?.['spec']['groups'][0]['rules'] as Obj[]).find((r) => r['alert'] === 'GozargahRedisUnreachable') as Obj;
  t2.match(alert, { for: '1m', labels: { severity: 'warning', team: 'service-bus' } }, 'unreachable for 1m; a warning while the bus keeps serving (local)');
  t2.match(alert['expr'], /gozargah_redis_up\{namespace="gozargah-system"\}\) == 0/);
});

t.test('redis.enabled: a single-node StatefulSet on a volume, its Service, Secret and NetworkPolicy; both components use it', async (t2) => {
  const objs = docs(rendered['bundled-redis']);
  const sts = find(objs, 'StatefulSet', 'gozargah-redis') as Obj;
  t2.ok(sts, 'the StatefulSet gozargah-redis');
  t2.equal(objs.filter((o) => o['kind'] === 'StatefulSet').length, 1);
  t2.equal(sts['spec']['replicas'], 1);
  t2.equal(sts['spec']['serviceName'], 'gozargah-redis');
  const pod = sts['spec']['template']['spec'];
  t2.strictSame(sts['spec']['selector']['matchLabels'], selector('redis'));
  t2.match(sts['spec']['template']['metadata']['labels'], selector('redis'), 'the pod carries the selector labels');
  t2.equal(pod['automountServiceAccountToken'], false, 'no API token in the Redis pod');
  t2.match(pod['securityContext'], { runAsNonRoot: true, runAsUser: 999, fsGroup: 999, seccompProfile: { type: 'RuntimeDefault' } });
  const c = pod['containers'][0];
  t2.equal(c['image'], 'docker.io/library/redis:7.0');
  t2.strictSame(c['command'], ['redis-server']);
  const args = (c['args'] as string[]).join(' ');
  for (const wanted of ['--dir /data', '--appendonly yes', '--appendfsync everysec', '--maxmemory 256mb', '--maxmemory-policy noeviction', '--requirepass $(REDISCLI_AUTH)']) t2.ok(args.includes(wanted), `redis-server ${wanted}`);
  t2.strictSame(c['env'], [{ name: 'REDISCLI_AUTH', valueFrom: { secretKeyRef: { name: 'gozargah-redis', key: 'password' } } }], 'the password from the Secret, for redis-server and redis-cli');
  t2.strictSame(c['livenessProbe']['tcpSocket'], { port: 'redis' }, 'liveness: a TCP connect (PING answers LOADING during the replay)');
  t2.match(c['readinessProbe']['exec']['command'].join(' '), /redis-cli .*ping \| grep -q PONG/, 'readiness: PING answers PONG');
  t2.match(c['securityContext'], { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  t2.strictSame(c['volumeMounts'], [{ name: 'data', mountPath: '/data' }], 'writes only to its volume');
  t2.strictSame(
    sts['spec']['volumeClaimTemplates'].map((v: Obj) => ({ name: v['metadata']['name'], ...v['spec'] })),
    [{ name: 'data', accessModes: ['ReadWriteOnce'], storageClassName: 'local-ssd', resources: { requests: { storage: '2Gi' } } }],
    'a 2Gi ReadWriteOnce claim of class local-ssd',
  );

  const svc = find(objs, 'Service', 'gozargah-redis') as Obj;
  t2.strictSame(svc['spec']['selector'], selector('redis'));
  t2.strictSame(svc['spec']['ports'], [{ name: 'redis', port: 6379, targetPort: 'redis', protocol: 'TCP' }]);
  t2.strictSame(c['ports'], [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }]);

  const secret = find(objs, 'Secret', 'gozargah-redis') as Obj;
  t2.match(Buffer.from(secret['data']['password'], 'base64').toString(), /^[A-Za-z0-9]{40}$/, 'a generated password of 40 letters and digits');
  const again = find(docs(await template('--values', BUNDLED_REDIS)), 'Secret', 'gozargah-redis') as Obj;
  t2.not(again['data']['password'], secret['data']['password'], 'without a cluster to look it up in, each render generates anew (an upgrade reads it back: see install.test.ts)');

  for (const name of ['gozargah-operator', 'gozargah-dataplane-internal', 'gozargah-dataplane-public']) {
    const deploy = find(objs, 'Deployment', name) as Obj;
    t2.strictSame(
      redisEnv(deploy),
      {
        GOZARGAH_REDIS_URL: { name: 'GOZARGAH_REDIS_URL', value: 'redis://gozargah-redis.gozargah-system.svc:6379/0' },
        GOZARGAH_REDIS_PASSWORD: { name: 'GOZARGAH_REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'gozargah-redis', key: 'password' } } },
      },
      `${name}: the bundled Redis's Service and Secret`,
    );
    if (name !== 'gozargah-operator') t2.match(argsOf(deploy), / --redis-unavailable refuse( |$)/, `${name}: --redis-unavailable refuse`);
  }

  const policy = find(objs, 'NetworkPolicy', 'gozargah-redis') as Obj;
  t2.strictSame(policy['spec']['podSelector'], { matchLabels: selector('redis') });
  t2.strictSame(policy['spec']['policyTypes'], ['Ingress', 'Egress']);
  t2.strictSame(
    policy['spec']['ingress'],
    [{ ports: [{ port: 6379, protocol: 'TCP' }], from: [{ podSelector: { matchLabels: selector('operator') } }, { podSelector: { matchLabels: selector('dataplane') } }] }],
    'only the operator and the dataplanes reach it, on 6379',
  );
  t2.strictSame(policy['spec']['egress'], [], 'it connects nowhere');
  const toRedis = { to: [{ podSelector: { matchLabels: selector('redis') } }], ports: [{ port: 6379, protocol: 'TCP' }] };
  for (const name of ['gozargah-operator', 'gozargah-dataplane-internal', 'gozargah-dataplane-public']) t2.ok(hasEgress(find(objs, 'NetworkPolicy', name), toRedis), `NetworkPolicy ${name}: egress to the Redis pod on 6379`);
  t2.strictSame(
    REDIS_ALERTS.filter((a) => alertsOf(objs).includes(a)),
    REDIS_ALERTS,
    'the Redis alerts',
  );
  const rule = (find(objs, 'PrometheusRule', 'gozargah')?.['spec']['groups'][0]['rules'] as Obj[]).find((r) => r['alert'] === 'GozargahRedisUnreachable') as Obj;
  t2.equal(rule['labels']['severity'], 'critical', 'critical when the bus refuses without Redis');
});

t.test('redis.enabled with existingSecret takes that password; with auth=false there is none', async (t2) => {
  const given = docs(await template('--set', 'redis.enabled=true', '--set', 'redis.existingSecret=my-redis', '--set', 'redis.passwordKey=pw'));
  t2.notOk(find(given, 'Secret', 'gozargah-redis'), 'no generated Secret');
  const ref = { secretKeyRef: { name: 'my-redis', key: 'pw' } };
  t2.strictSame((find(given, 'StatefulSet', 'gozargah-redis') as Obj)['spec']['template']['spec']['containers'][0]['env'], [{ name: 'REDISCLI_AUTH', valueFrom: ref }]);
  for (const name of ['gozargah-operator', 'gozargah-dataplane-default']) t2.strictSame(redisEnv(find(given, 'Deployment', name) as Obj)['GOZARGAH_REDIS_PASSWORD'], { name: 'GOZARGAH_REDIS_PASSWORD', valueFrom: ref }, `${name}: the given Secret`);

  const open = docs(await template('--set', 'redis.enabled=true', '--set', 'redis.auth=false'));
  t2.notOk(find(open, 'Secret', 'gozargah-redis'), 'no Secret');
  const c = (find(open, 'StatefulSet', 'gozargah-redis') as Obj)['spec']['template']['spec']['containers'][0];
  t2.equal(c['env'], undefined, 'no password');
  t2.match(c['args'].join(' '), /--protected-mode no/, 'Redis accepts other pods without a password');
  t2.notMatch(c['args'].join(' '), /--requirepass/);
  for (const name of ['gozargah-operator', 'gozargah-dataplane-default']) t2.strictSame(Object.keys(redisEnv(find(open, 'Deployment', name) as Obj)), ['GOZARGAH_REDIS_URL'], `${name}: the URL only`);
  const storage = (find(docs(await template('--set', 'redis.enabled=true', '--set', 'redis.persistence.storageClass=-')), 'StatefulSet', 'gozargah-redis') as Obj)['spec']['volumeClaimTemplates'][0]['spec'];
  t2.equal(storage['storageClassName'], '', 'storageClass "-": no dynamic provisioning');
});

t.test('neither redis.url nor redis.enabled: no Redis anywhere, per-replica limits as before', async (t2) => {
  const objs = docs(await template('--set', 'prometheusRule.enabled=true', '--set', 'networkPolicy.enabled=true'));
  for (const deploy of objs.filter((o) => o['kind'] === 'Deployment')) {
    t2.strictSame(redisEnv(deploy), {}, `${deploy['metadata']['name']}: no GOZARGAH_REDIS_* variable`);
    t2.notMatch(argsOf(deploy), /--redis/, `${deploy['metadata']['name']}: no --redis flag`);
  }
  for (const kind of ['StatefulSet', 'Secret']) t2.equal(objs.filter((o) => o['kind'] === kind).length, 0, `no ${kind}`);
  t2.notOk(find(objs, 'NetworkPolicy', 'gozargah-redis'));
  t2.notMatch(JSON.stringify(egressOf(find(objs, 'NetworkPolicy', 'gozargah-operator'))), /redis|6379/, 'the operator reaches DNS and the API server only');
  t2.strictSame(
    alertsOf(objs).filter((a) => REDIS_ALERTS.includes(a)),
    [],
    'no Redis alert',
  );
  t2.ok(alertsOf(objs).includes('GozargahQuotaNearlyExhausted'), 'the other alerts are there');
});

t.test('the audit keys: each flag names a file in a read-only volume of its Secret, that key only; none without a Secret', async (t2) => {
  const flagFile = (args: string[], flag: string): string | undefined => args[args.indexOf(flag) + 1];
  for (const deploy of docs(rendered.production).filter((o) => o['kind'] === 'Deployment' && o['metadata']['labels']['app.kubernetes.io/component'] === 'dataplane')) {
    const pod = deploy['spec']['template']['spec'];
    const container = pod['containers'][0];
    const args = container['args'] as string[];
    for (const [flag, volume, secret, key] of [
      ['--audit-signing-key', 'audit-signing', 'gozargah-audit-signing', 'audit-signing.pem'],
      ['--audit-pseudonym-key', 'audit-pseudonym', 'gozargah-audit-pseudonym', 'audit-pseudonym.key'],
    ] as const) {
      const mount = (container['volumeMounts'] as Obj[]).find((m) => m['name'] === volume);
      t2.equal(flagFile(args, flag), `${mount?.['mountPath']}/${key}`, `${deploy['metadata']['name']}: ${flag} is the file of the mounted Secret`);
      t2.equal(mount?.['readOnly'], true);
      const source = (pod['volumes'] as Obj[]).find((v) => v['name'] === volume)?.['secret'] as Obj | undefined;
      t2.strictSame([source?.['secretName'], source?.['items']], [secret, [{ key, path: key }]], `${volume}: its Secret, that key only`);
      // YAML 1.2 (the test's parser) reads 0440 as decimal; Kubernetes reads it as octal, as written.
      t2.match(rendered.production, `secret: { secretName: ${secret}, defaultMode: 0440,`, `${volume}: not readable by others`);
    }
    t2.equal(flagFile(args, '--audit-evidence'), 'on');
  }
  for (const deploy of docs(rendered.default).filter((o) => o['kind'] === 'Deployment')) {
    t2.notMatch(argsOf(deploy), /--audit-(signing|pseudonym)-key/, `${deploy['metadata']['name']}: no key flag without a Secret`);
    t2.notMatch(JSON.stringify(deploy['spec']['template']['spec']['volumes']), /audit-/, 'and no volume');
  }
  const off = await run(['template', ...RELEASE, '--set-json', 'dataplane.audit.evidence=false']);
  t2.not(off.code, 0, 'evidence: off written unquoted (a YAML boolean) is refused');
  t2.match(off.stderr, /evidence/, 'naming the value');
});

t.test('every pod is hardened', async (t2) => {
  for (const [name, text] of Object.entries(rendered)) {
    for (const deploy of docs(text).filter((o) => o['kind'] === 'Deployment' || o['kind'] === 'StatefulSet')) {
      const pod = deploy['spec']['template']['spec'];
      const what = `${name}: ${deploy['metadata']['name']}`;
      t2.equal(pod['securityContext']['runAsNonRoot'], true, `${what}: runAsNonRoot`);
      t2.equal(pod['securityContext']['seccompProfile']['type'], 'RuntimeDefault', `${what}: seccomp RuntimeDefault`);
      for (const c of pod['containers']) {
        t2.equal(c['securityContext']['readOnlyRootFilesystem'], true, `${what}: read-only root filesystem`);
        t2.equal(c['securityContext']['allowPrivilegeEscalation'], false, `${what}: no privilege escalation`);
        t2.strictSame(c['securityContext']['capabilities']['drop'], ['ALL'], `${what}: every capability dropped`);
        t2.ok(c['livenessProbe'] && c['readinessProbe'], `${what}: probes`);
        t2.ok(c['resources']['requests'], `${what}: resource requests`);
      }
    }
  }
});

t.test('the dashboard ConfigMap holds files/dashboard.json, valid JSON', async (t2) => {
  const cm = find(docs(rendered.production), 'ConfigMap', 'gozargah-dashboard') as Obj;
  t2.equal(cm['metadata']['labels']['grafana_dashboard'], '1');
  const json = cm['data']['gozargah.json'] as string;
  t2.equal(json, readFileSync(join(CHART, 'files/dashboard.json'), 'utf8').trimEnd());
  t2.doesNotThrow(() => JSON.parse(json));
});

const refused: [string, string[], RegExp][] = [
  ['an unknown key', ['--set', 'operater.replicas=3'], /at '': additional properties 'operater' not allowed/],
  ['a typo inside a bus', ['--set', 'buses[0].name=x', '--set', 'buses[0].replica=3'], /at '\/buses\/0': additional properties 'replica' not allowed/],
  ['a number given as text', ['--set-string', 'operator.replicas=two'], /at '\/operator\/replicas': got string, want integer/],
  ['zero operator replicas', ['--set', 'operator.replicas=0'], /at '\/operator\/replicas': minimum: got 0, want 1/],
  ['an audit mode that does not exist', ['--set', 'dataplane.audit.unavailable=drop'], /at '\/dataplane\/audit\/unavailable': value must be one of 'serve', 'refuse'/],
  ['a bus name that is not a DNS label', ['--set', 'buses[0].name=Public_Bus'], /at '\/buses\/0\/name': 'Public_Bus' does not match pattern/],
  ['a Service type that does not exist', ['--set', 'buses[0].name=x', '--set', 'buses[0].service.type=Ingress'], /at '\/buses\/0\/service\/type': value must be one of 'ClusterIP', 'NodePort', 'LoadBalancer'/],
  ['a client CA without TLS', ['--set', 'buses[0].name=x', '--set', 'buses[0].clientCA.secretName=ca'], /buses\[x\]: clientCA.secretName needs tls.secretName/],
  ['a bus named like the metrics Service', ['--set', 'buses[0].name=metrics'], /a bus may not be named "metrics"/],
  ['two buses with one name', ['--set', 'buses[0].name=x', '--set', 'buses[1].name=x'], /buses: the name "x" appears twice/],
  ['redis.url and redis.enabled together', ['--set', 'redis.url=redis://redis.example:6379', '--set', 'redis.enabled=true'], /redis: set either redis.url \(an existing Redis\) or redis.enabled \(the bundled one\), not both/],
  ['a password in redis.url', ['--set', 'redis.url=redis://gozargah:s3cret@redis.example:6379/0'], /redis.url carries a password: .*redis.existingSecret/],
  ['redis.url behind NetworkPolicies without an egress rule to it', ['--set', 'redis.url=rediss://redis.example:6380', '--set', 'networkPolicy.enabled=true'], /redis.url with networkPolicy.enabled needs redis.networkPolicy.egress/],
  ['a password Secret for a bundled Redis without auth', ['--set', 'redis.enabled=true', '--set', 'redis.auth=false', '--set', 'redis.existingSecret=x'], /redis.existingSecret is set but redis.auth is false/],
  ['a Redis URL of another scheme', ['--set', 'redis.url=http://redis.example:6379'], /at '\/redis\/url': 'http:\/\/redis.example:6379' does not match pattern/],
  ['a Redis fallback that does not exist', ['--set', 'redis.unavailable=drop'], /at '\/redis\/unavailable': value must be one of 'local', 'refuse'/],
  ['a maximum below the minimum of an autoscaler', ['--set', 'buses[0].name=x', '--set', 'buses[0].autoscaling.enabled=true', '--set', 'buses[0].autoscaling.maxReplicas=1'], /buses\[x\]: autoscaling.maxReplicas \(1\) is below autoscaling.minReplicas \(2\)/],
];
for (const [what, args, message] of refused) {
  t.test(`helm template refuses ${what} with a message that names it`, async (t2) => {
    const out = await run(['template', ...RELEASE, ...args]);
    t2.not(out.code, 0, 'helm fails');
    t2.match(out.stderr, message);
  });
}

// The image `make image` builds, run the way the chart runs it. The operator and a dataplane
// container are started by podman from the Deployments of a real `helm install` (their rendered
// command, args, env, securityContext, volumes, resources, ports and lifecycle: test/helpers/pod.ts
// translates them, nothing is retyped): read-only root filesystem, the chart's numeric non-root
// user, no capabilities, no-new-privileges, tmpfs where the chart mounts emptyDirs, and the
// in-cluster configuration: the chart's ServiceAccounts' tokens and the API server's CA where
// Kubernetes mounts them, KUBERNETES_SERVICE_HOST/PORT pointing at the local control plane.
// Then: the operator leads (Lease) and writes the statuses of examples/; the dataplane serves an
// inquiry to a stand-in agency on the host's loopback and reports it (Programmed); the probes
// answer; after the preStop sleep, SIGTERM drains an in-flight inquiry and both exit 0.
// `make test` builds the image first (the Makefile's image target); podman comes from `make podman`.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { startAgency } from '../helpers/agency.ts';
import { startCluster } from '../helpers/cluster.ts';
import { ROOT, waitFor } from '../helpers/dataplane.ts';
import { CHART, helm } from '../helpers/helm.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';
import { HOST_LOOPBACK, localImage, podman, podmanOk, requireImage, startPod, type RunningPod } from '../helpers/pod.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

t.setTimeout(300_000);
const NS = 'gozargah-system';
const KEY = 'demo-only-image-key-Hx7pQ2wZ';
const AGENCY_HOST = 'agency.gov.test';
const { repository: REPOSITORY, tag: VERSION, ref: IMAGE } = localImage(ROOT);
await requireImage(IMAGE);

t.test('the image: OCI labels, production dependencies only, the gozargah CLI', async (t2) => {
  const inspect = JSON.parse(await podmanOk(['image', 'inspect', IMAGE]))[0] as Obj;
  const labels = inspect['Labels'] as Record<string, string>;
  t2.equal(labels['org.opencontainers.image.version'], VERSION, 'version: package.json');
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  t2.match(labels['org.opencontainers.image.revision'], new RegExp(`^${head}(-dirty)?$`), 'revision: this checkout');
  t2.match(labels['org.opencontainers.image.source'], /^https:\/\/\S+$/, 'source');
  t2.equal(inspect['Config']['User'], '1000:1000', 'numeric user, as the chart runs it');
  t2.same(inspect['Config']['Entrypoint'], ['node']);
  t2.comment(`image ${IMAGE}: ${Math.round(inspect['Size'] / 1e6)} MB`);

  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  const run = (args: string[]): Promise<string> => podmanOk(['run', '--rm', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--read-only', '--read-only-tmpfs=false', '--cap-drop', 'ALL', '--network', 'none', ...args]);
  const installed = JSON.parse(await run([IMAGE, '-e', 'const fs=require("fs");console.log(JSON.stringify(fs.readdirSync("node_modules").flatMap(d=>d.startsWith("@")?fs.readdirSync("node_modules/"+d).map(s=>d+"/"+s):[d])))'])) as string[];
  for (const dep of Object.keys(pkg.dependencies)) t2.ok(installed.includes(dep), `dependency ${dep} is in the image`);
  // A package the lock file marks dev is needed by the devDependencies alone (@types/node is not:
  // a production dependency needs it).
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  t2.same(
    installed.filter((d) => lock.packages[`node_modules/${d}`]?.dev === true),
    [],
    'no development-only package is in the image',
  );
  for (const dev of ['tap', 'typescript', 'eslint', 'node']) t2.notOk(installed.includes(dev), `${dev} is not in the image`);
  t2.match(await run([IMAGE, '--version']), /^v24\./, 'Node 24');

  // The CLI, on the examples, inside the image.
  const validated = await run(['--volume', `${join(ROOT, 'examples')}:/examples:ro`, '--entrypoint', 'gozargah', IMAGE, 'validate', '-f', '/examples']);
  t2.match(validated, /person-by-national-id/, 'gozargah validate -f examples/ runs in the image');
});

// ---- the chart, installed on a real control plane --------------------------------------------
const cluster = await startCluster();
t.teardown(() => cluster.stop());
const kubectl = cluster.run;
const run = helm(cluster.kubeconfig);
const installed = await run(['install', 'gozargah', CHART, '--namespace', NS, '--create-namespace', '--set', `image.repository=${REPOSITORY}`, '--set', `image.tag=${VERSION}`, '--wait=false']);
if (installed.code !== 0) throw new Error(`helm install: ${installed.stderr}`);
// The rendered templates of the release: what `helm template` prints for these values.
const manifest = await run(['get', 'manifest', 'gozargah', '--namespace', NS]);
const objects = parseAllDocuments(manifest.stdout)
  .map((d) => d.toJS() as Obj | null)
  .filter((o): o is Obj => o !== null);
const deployment = (component: string): Obj => {
  const found = objects.find((o) => o['kind'] === 'Deployment' && o['metadata']['labels']['app.kubernetes.io/component'] === component);
  if (found === undefined) throw new Error(`no ${component} Deployment in the chart's manifest`);
  return found;
};
const operatorDeploy = deployment('operator');
const dataplaneDeploy = deployment('dataplane');
const containerArgs = (d: Obj): string[] => d['spec']['template']['spec']['containers'][0]['args'] as string[];
const bus = containerArgs(dataplaneDeploy)[containerArgs(dataplaneDeploy).indexOf('--bus') + 1] as string;

async function start(d: Obj, podName: string, hosts: Record<string, string> = {}): Promise<RunningPod> {
  const pod = await startPod(cluster, d, podName, { hosts });
  t.teardown(() => pod.remove());
  return pod;
}
const json = async (url: string): Promise<Obj> => (await (await fetch(url)).json()) as Obj;
const get = async (kind: string, ns: string, name: string): Promise<Obj> => JSON.parse(await kubectl(['get', kind, '-n', ns, name, '-o', 'json'])) as Obj;
const condition = (o: Obj, type: string): Obj | undefined => (o['status']?.['conditions'] as Obj[] | undefined)?.find((c) => c['type'] === type);

await kubectl(['apply', '-f', join(ROOT, 'examples')]);
const operatorPodName = `${operatorDeploy['metadata']['name']}-0`;
const operator = await start(operatorDeploy, operatorPodName);
const agency = await startAgency();
t.teardown(() => agency.close());
let dataplane: RunningPod | undefined;

/** waitFor, failing with the containers' logs. */
async function until(check: () => Promise<boolean>, ms: number, what: string, pods: RunningPod[]): Promise<void> {
  try {
    await waitFor(check, ms, () => what);
  } catch {
    throw new Error(`${what}\n${(await Promise.all(pods.map(async (p) => `--- ${p.name}:\n${(await p.logs()).slice(-4000)}`))).join('\n')}`);
  }
}

/** A process's view of itself, from inside the running container (PID 1 is the entry point). */
async function processStatus(pod: RunningPod): Promise<Record<string, string>> {
  const status = await podmanOk(['exec', pod.name, 'cat', '/proc/1/status']);
  return Object.fromEntries(status.split('\n').map((l) => l.split(':\t').map((s) => s.trim()) as [string, string]));
}

async function hardened(t2: Test, pod: RunningPod): Promise<void> {
  const s = await processStatus(pod);
  t2.match(s['Uid'], /^1000\s+1000\s+1000\s+1000$/, 'runs as uid 1000 (the chart’s runAsUser)');
  t2.match(s['Gid'], /^1000\s/, 'gid 1000');
  t2.equal(s['CapEff'], '0000000000000000', 'no effective capabilities');
  t2.equal(s['CapBnd'], '0000000000000000', 'no capabilities to gain');
  t2.equal(s['NoNewPrivs'], '1', 'no-new-privileges');
  t2.equal(s['Seccomp'], '2', 'a seccomp filter (the runtime default)');
  const writeRoot = await podman(['exec', pod.name, 'touch', '/app/written']);
  t2.not(writeRoot.code, 0, 'the root filesystem is read-only');
  t2.match(writeRoot.stderr, /Read-only file system/);
  t2.equal((await podman(['exec', pod.name, 'touch', '/tmp/written'])).code, 0, '/tmp (an emptyDir in the chart) is writable');
  const mounts = await podmanOk(['exec', pod.name, 'cat', '/proc/mounts']);
  // /var/run is a link to /run in the image.
  t2.match(mounts, /^\S+ (\/var)?\/run\/secrets\/kubernetes\.io\/serviceaccount \S+ ro[,\s]/m, 'the service-account token is mounted read-only where Kubernetes mounts it');
}

t.test('the operator container leads and writes the statuses of examples/', async (t2) => {
  await until(async () => (await json(`${operator.url('metrics')}/readyz`))['leader'] === true, 60_000, 'the operator never led', [operator]);
  const lease = await get('lease', NS, 'gozargah-operator');
  t2.equal(lease['spec']['holderIdentity'], operatorPodName, 'the Lease names the pod (POD_NAME from the downward API)');
  const kinds = 'serviceproviders,inquiryroutes,clientbindings';
  let items: Obj[] = [];
  const written = (o: Obj): boolean => condition(o, 'Accepted')?.['status'] === 'True' && o['status']?.['observedGeneration'] === o['metadata']['generation'];
  await until(async () => (items = (JSON.parse(await kubectl(['get', kinds, '-A', '-o', 'json'])) as { items: Obj[] }).items).length > 0 && items.every(written), 60_000, 'statuses not written', [operator]);
  t2.equal(items.length, 12, 'four providers, four routes, four bindings, each Accepted at its generation');
  await hardened(t2, operator);
  const plan = operator.plan;
  t2.same(plan.container['command'], ['node']);
  t2.ok(plan.args.includes('--read-only') && plan.args.includes('no-new-privileges') && plan.args.includes('ALL'), 'the chart asked for all of it');
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const get = plan.container[probe]['httpGet'] as Obj;
    t2.equal((await fetch(`${operator.url(get['port'])}${get['path']}`)).status, 200, `${probe} ${get['path']} answers 200`);
  }
});

t.test('a dataplane container serves an inquiry to an agency and reports it to the operator', async (t2) => {
  const objects = [
    provider('agency', `http://${AGENCY_HOST}:${agency.port}`), route('echo', 'agency', '/image/v1/echo/{id}', { upstreamPath: '/echo/{id}', buses: [bus] }),
    route('slow', 'agency', '/image/v1/slow/{ms}', { upstreamPath: '/slow/{ms}', buses: [bus] }),
    keySecret('image-keys', { k: KEY }),
    binding('image', 'image-client', [{ namespace: 'gov', name: 'echo' }, { namespace: 'gov', name: 'slow' }], { bus }),
  ];
  await kubectl(['create', 'namespace', 'gov']);
  await kubectl(['create', 'namespace', 'clients']);
  await kubectl(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
  dataplane = await start(dataplaneDeploy, `${dataplaneDeploy['metadata']['name']}-0`, { [AGENCY_HOST]: HOST_LOOPBACK });
  const dp = dataplane;
  const inquiry = async (path: string): Promise<Response> => fetch(`${dp.url('http')}${path}`, { headers: { 'x-api-key': KEY } });
  await until(async () => (await inquiry('/image/v1/echo/1')).status === 200, 60_000, 'the inquiry was never served', [dp, operator]);
  const res = await inquiry('/image/v1/echo/2');
  t2.equal(res.status, 200);
  t2.match(await res.json(), { url: '/echo/2', method: 'GET' }, 'the agency’s answer');
  t2.ok(agency.seen.some((r) => r.url === '/echo/2'), 'the agency got the inquiry from the container');
  t2.equal((await fetch(`${dp.url('http')}/image/v1/echo/3`)).status, 401, 'no key, no inquiry');
  await until(async () => condition(await get('inquiryroute', 'gov', 'echo'), 'Programmed')?.['status'] === 'True', 60_000, 'the route never became Programmed', [dp, operator]);
  t2.pass(`the route is Programmed: the dataplane's report (as its ServiceAccount) reached the operator`);
  await hardened(t2, dp);
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const get = dp.plan.container[probe]['httpGet'] as Obj;
    t2.equal((await fetch(`${dp.url(get['port'])}${get['path']}`)).status, 200, `${probe} ${get['path']} answers 200`);
  }
  // The chart gives no --audit-log: the audit lines go to the container's standard output.
  const records = async (): Promise<Obj[]> =>
    (await podman(['logs', dp.name])).stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Obj);
  let audited: Obj[] = [];
  await until(async () => (audited = (await records()).filter((r) => r['client'] === 'image-client' && r['status'] === 200)).length >= 2, 15_000, 'no audit lines on standard output', [dp]);
  t2.match(audited[0], { client: 'image-client', method: 'GET', code: 'ok' }, 'the audit lines are on the container’s standard output');
});

t.test('SIGTERM after the preStop sleep drains an in-flight inquiry; both exit 0', async (t2) => {
  const dp = dataplane;
  if (dp === undefined) return t2.fail('no dataplane container');
  t2.ok(dp.plan.preStopSleep > 0, `preStop sleeps ${dp.plan.preStopSleep} s`);
  await dp.preStop();
  const before = agency.seen.length;
  const slow = fetch(`${dp.url('http')}/image/v1/slow/1500`, { headers: { 'x-api-key': KEY } });
  await waitFor(() => agency.seen.length > before, 10_000, () => 'the slow inquiry never reached the agency');
  const exited = dp.terminate();
  const answer = await slow;
  t2.equal(answer.status, 200, 'the inquiry in flight at SIGTERM is answered');
  t2.equal(await exited, 0, 'the dataplane exits 0');
  const logs = await dp.logs();
  t2.match(logs, /"msg":"shutting down","signal":"SIGTERM"/);
  t2.match(logs, /"msg":"stopped"/);
  t2.equal(await operator.terminate(), 0, 'the operator exits 0');
  t2.match(await operator.logs(), /"msg":"shutting down","signal":"SIGTERM"/);
  const lease = await get('lease', NS, 'gozargah-operator');
  t2.not(lease['spec']['holderIdentity'] ?? '', operatorPodName, 'the Lease is handed over');
});

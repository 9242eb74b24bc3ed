// The chart and the image through an OCI registry, as a data center would ship them: a real
// registry (CNCF Distribution, built from the Go module proxy by test/cluster/build.sh) on
// loopback; `helm package` + `helm push` the chart, `podman push` the image `make image` built;
// then `helm install oci://...` on the local control plane with the image from that registry, and
// the operator's pod started from the rendered Deployment pulls the image from the registry
// (imagePullPolicy Always: podman records a pushed digest on the local image, so IfNotPresent
// could find it locally on a machine that ran this before) and leads.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { startCluster } from '../helpers/cluster.ts';
import { ROOT, waitFor } from '../helpers/dataplane.ts';
import { cachedBinary, CHART, helm } from '../helpers/helm.ts';
import { localImage, podmanOk, requireImage, startPod } from '../helpers/pod.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

t.setTimeout(240_000);
const NS = 'gozargah-system';
const local = localImage(ROOT);
await requireImage(local.ref);
const work = mkdtempSync(join(tmpdir(), 'gozargah-registry-'));

// ---- the registry, on a free loopback port ------------------------------------------------------
const port = await new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const p = (probe.address() as AddressInfo).port;
    probe.close(() => resolve(p));
  });
});
const REGISTRY = `127.0.0.1:${port}`;
writeFileSync(
  join(work, 'config.yml'),
  `version: 0.1\nlog: { level: info }\nstorage: { filesystem: { rootdirectory: ${join(work, 'data')} } }\nhttp: { addr: ${REGISTRY} }\n`,
);
const registry = spawn(cachedBinary('registry', 'REGISTRY_VERSION', 'registry'), ['serve', join(work, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
let registryLog = '';
registry.stderr.on('data', (c: Buffer) => (registryLog += c.toString()));
t.teardown(() => {
  registry.kill('SIGTERM');
});
await waitFor(async () => (await fetch(`http://${REGISTRY}/v2/`)).status === 200, 20_000, () => `the registry never answered /v2/:\n${registryLog}`);

const helmLocal = helm();
const IMAGE_REPO = `${REGISTRY}/gozargah/gozargah`;
const CHART_REPO = `oci://${REGISTRY}/charts`;
let pushedDigest = '';

t.test('helm push the chart and podman push the image to the registry', async (t2) => {
  const pkg = await helmLocal(['package', CHART, '--destination', work]);
  t2.equal(pkg.code, 0, pkg.stderr);
  const version = /^version: (\S+)$/m.exec(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'))?.[1] as string;
  const pushed = await helmLocal(['push', join(work, `gozargah-${version}.tgz`), CHART_REPO, '--plain-http']);
  t2.equal(pushed.code, 0, pushed.stderr);
  t2.match(pushed.stdout + pushed.stderr, new RegExp(`Pushed: ${REGISTRY}/charts/gozargah:${version}`));

  const digestFile = join(work, 'digest');
  await podmanOk(['push', '--quiet', '--tls-verify=false', '--digestfile', digestFile, local.ref, `${IMAGE_REPO}:${local.tag}`]);
  pushedDigest = readFileSync(digestFile, 'utf8').trim();
  t2.match(pushedDigest, /^sha256:[0-9a-f]{64}$/);

  // What the registry holds, read back through its API.
  const catalog = (await (await fetch(`http://${REGISTRY}/v2/_catalog`)).json()) as { repositories: string[] };
  t2.same(catalog.repositories.sort(), ['charts/gozargah', 'gozargah/gozargah']);
  const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
  const res = await fetch(`http://${REGISTRY}/v2/gozargah/gozargah/manifests/${local.tag}`, { headers: { accept } });
  t2.equal(res.headers.get('docker-content-digest'), pushedDigest, 'the tag names the pushed manifest');
  const manifest = (await res.json()) as Obj;
  const config = (await (await fetch(`http://${REGISTRY}/v2/gozargah/gozargah/blobs/${manifest['config']['digest']}`)).json()) as Obj;
  const labels = podmanLabels(await podmanOk(['image', 'inspect', local.ref]));
  t2.equal(config['config']['Labels']['org.opencontainers.image.revision'], labels['org.opencontainers.image.revision'], 'the image config carries the OCI labels');
  t2.equal(config['config']['User'], '1000:1000');
});

function podmanLabels(inspect: string): Record<string, string> {
  return (JSON.parse(inspect) as Obj[])[0]?.['Labels'] as Record<string, string>;
}

t.test('helm install from oci:// with the image from the registry; the operator pod pulls it and leads', async (t2) => {
  const cluster = await startCluster();
  t2.teardown(() => cluster.stop());
  const run = helm(cluster.kubeconfig);
  const version = /^version: (\S+)$/m.exec(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'))?.[1] as string;
  const installed = await run(['install', 'gozargah', `${CHART_REPO}/gozargah`, '--version', version, '--plain-http', '--namespace', NS, '--create-namespace', '--set', `image.repository=${IMAGE_REPO}`, '--set', `image.digest=${pushedDigest}`, '--set', 'image.pullPolicy=Always']);
  t2.equal(installed.code, 0, installed.stderr);
  const manifest = await run(['get', 'manifest', 'gozargah', '--namespace', NS]);
  const operatorDeploy = parseAllDocuments(manifest.stdout)
    .map((d) => d.toJS() as Obj | null)
    .find((o) => o?.['kind'] === 'Deployment' && o['metadata']['labels']['app.kubernetes.io/component'] === 'operator') as Obj;
  const container = operatorDeploy['spec']['template']['spec']['containers'][0] as Obj;
  t2.equal(container['image'], `${IMAGE_REPO}@${pushedDigest}`, 'the Deployment names the image in the registry by digest');
  t2.equal(container['imagePullPolicy'], 'Always');
  const manifestPath = `/v2/gozargah/gozargah/manifests/${pushedDigest}`;
  const pullsBefore = registryLog.split(manifestPath).length;
  const pod = await startPod(cluster, operatorDeploy, `${operatorDeploy['metadata']['name']}-0`, { tlsVerify: false });
  t2.teardown(() => pod.remove());
  await waitFor(
    async () => ((await (await fetch(`${pod.url('metrics')}/readyz`)).json()) as Obj)['leader'] === true,
    60_000,
    () => 'the operator from the registry never led',
  );
  const lease = JSON.parse(await cluster.run(['get', 'lease', '-n', NS, 'gozargah-operator', '-o', 'json'])) as Obj;
  t2.equal(lease['spec']['holderIdentity'], `${operatorDeploy['metadata']['name']}-0`, 'the operator pulled from the registry leads');
  const ran = (JSON.parse(await podmanOk(['inspect', pod.name])) as Obj[])[0] as Obj;
  t2.equal(ran['ImageName'], `${IMAGE_REPO}@${pushedDigest}`, 'the container runs the image pulled from the registry');
  t2.ok(registryLog.split(manifestPath).length > pullsBefore, 'the registry served the manifest by digest to the pod\'s pull');
  t2.equal(await pod.terminate(), 0, 'SIGTERM: exits 0');
});

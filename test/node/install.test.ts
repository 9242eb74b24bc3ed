// The README's "Install on a cluster", on a cluster that runs pods (test/cluster/node-up.sh: a
// kubelet with containerd and runc, kube-proxy, CoreDNS, the controllers and the scheduler), in
// the order a person would do it: `helm install --wait` until the operator's and the bus's
// Deployments are Available; `helm test`; an agency, its route, a client's key Secret (created
// and labelled as the README says) and its binding; a first request through the bus's Service,
// by its ClusterIP and by `kubectl port-forward`; then `helm upgrade` rolls every dataplane pod
// while clients keep calling, and no request is lost. Last, sidecar mode: the README's pod snippet
// (deploy/sidecar/) runs as a real two-container pod and serves its agency over localhost.
// The pods run the image `make image` built, loaded into the node's containerd (nothing is pulled).
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { kubectlWait, startNodeCluster, type Cluster } from '../helpers/cluster.ts';
import { ROOT, waitFor } from '../helpers/dataplane.ts';
import { CHART, helm } from '../helpers/helm.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';
import { localImage, requireImage } from '../helpers/pod.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

// A node needs root (containerd, network namespaces, iptables). Without it this file says so and
// runs nothing; the image tests (test/image/) still run the same containers under podman.
if (process.getuid?.() === 0) await onANode();
else t.plan(0, 'a node needs root: run make test as root to run the chart’s pods under a kubelet');

async function onANode(): Promise<void> {
  t.setTimeout(420_000);
  const NS = 'gozargah-system';
  const RELEASE = 'gozargah';
  const KEYS: Record<string, string> = { default: 'demo-only-node-key-Zr8uWq3mTn', partners: 'demo-only-node-key-Pq2wLx9vBc' };
  const KEY = KEYS['default']!;
  const SIDECAR_KEY = 'demo-only-node-sidecar-key-Hy5tRe2wQa';
  // The default bus of an install without values, and a second one, as values-production.yaml has two.
  const BUSES = ['default', 'partners'];
  const { repository: REPOSITORY, tag: VERSION, ref: IMAGE } = localImage(ROOT);
  await requireImage(IMAGE);

  const cluster: Cluster = await startNodeCluster([IMAGE]);
  t.teardown(() => cluster.stop());
  const kubectl = cluster.run;
  const run = helm(cluster.kubeconfig);
  const helmOk = async (args: string[]): Promise<string> => {
    const out = await run(args);
    if (out.code !== 0) throw new Error(`helm ${args.join(' ')}:\n${out.stderr}\n${out.stdout}\n${await describePods()}`);
    return out.stdout;
  };
  /** What went wrong, for a failure message: the pods, their events and their last log lines. */
  async function describePods(): Promise<string> {
    const pods = await cluster.kubectl(['get', 'pods', '-A', '-o', 'wide']);
    const events = await cluster.kubectl(['get', 'events', '-A', '--sort-by=.lastTimestamp']);
    const logs = await cluster.kubectl(['logs', '-n', NS, '-l', 'app.kubernetes.io/name=gozargah', '--tail=4', '--prefix']);
    return [pods.stdout, events.stdout.split('\n').slice(-15).join('\n'), logs.stdout.slice(-6000)].join('\n');
  }
  const json = async (args: string[]): Promise<Obj> => JSON.parse(await kubectl([...args, '-o', 'json'])) as Obj;
  // The node has this machine's 2 cores: four dataplane pods (five while one rolls) at the
  // chart's 500m would not all be scheduled.
  const DATAPLANE_CPU = '100m';
  const busDeploy = (bus: string): string => `${RELEASE}-dataplane-${bus}`;
  const dataplaneDeploy = busDeploy('default');

  t.test('helm install --wait: the operator and the bus become Available, one operator leads', async (t2) => {
    // Nothing is on the buses yet: the operator publishes them empty (its --bus flags), so
    // their replicas become ready.
    await helmOk(['install', RELEASE, CHART, '--namespace', NS, '--create-namespace', '--set', `image.repository=${REPOSITORY}`, '--set', `image.tag=${VERSION}`, '--set', 'image.pullPolicy=Never', '--set', `busDefaults.resources.requests.cpu=${DATAPLANE_CPU}`, ...BUSES.flatMap((b, i) => ['--set', `buses[${i}].name=${b}`]), '--wait', '--timeout', '4m']);
    for (const name of [`${RELEASE}-operator`, ...BUSES.map(busDeploy)]) {
      const d = await json(['get', 'deployment', '-n', NS, name]);
      const available = (d['status']['conditions'] as Obj[]).find((c) => c['type'] === 'Available');
      t2.equal(available?.['status'], 'True', `${name} is Available`);
      t2.equal(d['status']['readyReplicas'], d['spec']['replicas'], `${name}: ${d['spec']['replicas']} of ${d['spec']['replicas']} replicas ready`);
    }
    const pods = (await json(['get', 'pods', '-n', NS])).items as Obj[];
    const operators = pods.filter((p) => p['metadata']['labels']['app.kubernetes.io/component'] === 'operator').map((p) => p['metadata']['name'] as string);
    const lease = await json(['get', 'lease', '-n', NS, 'gozargah-operator']);
    t2.ok(operators.includes(lease['spec']['holderIdentity']), `the Lease is held by an operator pod (${lease['spec']['holderIdentity']})`);
    for (const p of pods) {
      const c = p['spec']['containers'][0] as Obj;
      t2.match(c['securityContext'], { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }, `${p['metadata']['name']} runs hardened`);
      t2.equal(p['status']['containerStatuses'][0]['restartCount'], 0, `${p['metadata']['name']} never restarted`);
    }
  });

  t.test('helm test: the bus answers through its Service, by name, from a pod', async (t2) => {
    const out = await helmOk(['test', RELEASE, '--namespace', NS, '--logs', '--timeout', '2m']);
    t2.match(out, /Phase:\s+Succeeded/, 'the test Pod succeeded');
    for (const bus of BUSES) t2.match(out, new RegExp(`bus ${bus} answers: its 401 credentials_missing problem`), `bus ${bus}: its test Pod's log says why`);
  });

  // A stand-in agency in its own namespace: the image's Node, answering with what it was asked.
  const AGENCY = `require('http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end(JSON.stringify({ url: q.url, pod: process.env.HOSTNAME })); }).listen(8080)`;
  const agencyObjects: Obj[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gov' } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'clients' } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'agency', namespace: 'gov' },
      spec: {
        selector: { matchLabels: { app: 'agency' } },
        template: {
          metadata: { labels: { app: 'agency' } },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'agency',
                image: IMAGE,
                imagePullPolicy: 'Never',
                command: ['node', '-e', AGENCY],
                ports: [{ containerPort: 8080 }],
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'agency', namespace: 'gov' }, spec: { selector: { app: 'agency' }, ports: [{ port: 80, targetPort: 8080 }] } },
  ];
  const PATH = '/node-test/v1/echo/{id}';
  let serviceUrl = '';

  t.test('a first request through the bus’s Service reaches the agency, by ClusterIP and by port-forward', async (t2) => {
    await kubectl(['apply', '-f', '-'], agencyObjects.map((o) => stringify(o)).join('---\n'));
    // The client's key Secret, exactly as the README creates it.
    for (const bus of BUSES) {
      await kubectl(['-n', 'clients', 'create', 'secret', 'generic', `${bus}-client-keys`, `--from-literal=key-2026-12=${KEYS[bus]}`]);
      await kubectl(['-n', 'clients', 'label', 'secret', `${bus}-client-keys`, 'gozargah.io/credentials=true']);
    }
    const objects = [
      provider('agency', 'http://agency.gov.svc'),
      route('echo', 'agency', PATH, { upstreamPath: '/echo/{id}', buses: BUSES }),
      ...BUSES.map((bus) => binding(`${bus}-client`, `${bus}-client`, [{ namespace: 'gov', name: 'echo' }], { bus })),
    ];
    await kubectl(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
    await kubectlWait(cluster, ['-n', 'gov', '--for=condition=Programmed', 'inquiryroute/echo'], 90_000);
    t2.pass('the route is Programmed: every ready replica of the bus serves it');

    const inquiry = (base: string, id: string, key = KEY): Promise<Response> => fetch(`${base}/node-test/v1/echo/${id}`, { headers: { 'x-api-key': key } });
    for (const bus of BUSES) {
      const svc = await json(['get', 'service', '-n', NS, busDeploy(bus)]);
      const url = `http://${svc['spec']['clusterIP']}:${svc['spec']['ports'][0]['port']}`;
      if (bus === 'default') serviceUrl = url;
      // kube-proxy writes a new endpoint's rules within a second or so of it becoming ready.
      await waitFor(async () => (await inquiry(url, '0', KEYS[bus]).catch(() => null))?.status === 200, 30_000, () => `bus ${bus}: no answer through ${url}`).catch(async (err: unknown) => {
        throw new Error(`${(err as Error).message}\n${await describePods()}`);
      });
      const res = await inquiry(url, '1', KEYS[bus]);
      t2.equal(res.status, 200, `bus ${bus}: through its Service's ClusterIP (${url})`);
      t2.match(await res.json(), { url: '/echo/1', pod: /^agency-/ }, `bus ${bus}: the agency’s answer, from its pod, by its Service name`);
      t2.equal(res.headers.get('x-gozargah-error'), null, 'not a refusal by the bus');
      const refused = await fetch(`${url}/node-test/v1/echo/2`);
      t2.equal(refused.status, 401, `bus ${bus}: no key, the bus refuses`);
      t2.equal(refused.headers.get('x-gozargah-error'), 'credentials_missing');
      const otherBus = await inquiry(url, '2', KEYS[BUSES.find((b) => b !== bus)!]);
      t2.equal(otherBus.status, 401, `bus ${bus}: another bus's client is unknown here`);
      t2.equal(otherBus.headers.get('x-gozargah-error'), 'credentials_invalid');
    }

    // The README's `kubectl port-forward svc/...` (through the API server and the kubelet).
    const forward = spawn(join(cluster.dir, 'bin', 'kubectl'), ['--kubeconfig', cluster.kubeconfig, '-n', NS, 'port-forward', `svc/${dataplaneDeploy}`, '0:80'], { stdio: ['ignore', 'pipe', 'pipe'] });
    t2.teardown(() => forward.kill());
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      forward.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
        if (m !== null) resolve(Number(m[1]));
      });
      forward.once('exit', (code) => reject(new Error(`kubectl port-forward exited ${code}: ${out}`)));
    });
    const forwarded = await inquiry(`http://127.0.0.1:${port}`, '3');
    t2.equal(forwarded.status, 200, 'bus default: through kubectl port-forward');
    t2.match(await forwarded.json(), { url: '/echo/3' }, 'the agency’s answer');
  });

  t.test('helm upgrade rolls every dataplane pod while clients call; no request is lost', async (t2) => {
    if (serviceUrl === '') return t2.fail('the bus never answered');
    const before = new Set(((await json(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=dataplane'])).items as Obj[]).map((p) => p['metadata']['name'] as string));
    // Clients as they are: keep-alive connections, several at once, each calling in a loop.
    const agent = new Agent({ connections: 4 });
    t2.teardown(() => agent.close());
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const client = async (n: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await undiciFetch(`${serviceUrl}/node-test/v1/echo/${n}-${i}`, { headers: { 'x-api-key': KEY }, dispatcher: agent });
          await res.arrayBuffer();
          if (res.status === 200) ok++;
          else failures.push(`${res.status} ${res.headers.get('x-gozargah-error') ?? ''}`);
        } catch (err) {
          failures.push(((err as Error).cause as Error | undefined)?.message ?? (err as Error).message);
        }
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    await new Promise((r) => setTimeout(r, 1000));
    await helmOk(['upgrade', RELEASE, CHART, '--namespace', NS, '--reuse-values', '--set', 'busDefaults.podAnnotations.rolled=once', '--wait', '--timeout', '4m']);
    for (const bus of BUSES) await kubectl(['-n', NS, 'rollout', 'status', `deployment/${busDeploy(bus)}`, '--timeout=120s']);
    // Until every old pod has gone: the last ones drain after the rollout reports done.
    await waitFor(
      async () => ((await json(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=dataplane'])).items as Obj[]).every((p) => !before.has(p['metadata']['name'])),
      90_000,
      () => 'the old dataplane pods never went away',
    );
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(clients);
    const after = ((await json(['get', 'pods', '-n', NS, '-l', 'app.kubernetes.io/component=dataplane'])).items as Obj[]).map((p) => p['metadata']['name'] as string);
    t2.ok(after.length >= 2 * BUSES.length && after.every((p) => !before.has(p)), `every dataplane pod was replaced (${[...before].join(', ')} -> ${after.join(', ')})`);
    t2.ok(ok > 100, `${ok} requests answered during the rollout`);
    t2.same(failures, [], 'none failed');
  });

  t.test('sidecar mode: deploy/sidecar/agency-with-sidecar.yaml as real pods, the agency reached only over localhost', async (t2) => {
    // The file as it is, but for the images: the agency's own (a stand-in, the image's Node
    // listening where the file says) and the dataplane's (the local build, not ghcr.io).
    const docs = parseAllDocuments(readFileSync(join(ROOT, 'deploy/sidecar/agency-with-sidecar.yaml'), 'utf8')).map((d) => d.toJS() as Obj);
    const deployment = docs.find((d) => d['kind'] === 'Deployment')!;
    const containers = deployment['spec']['template']['spec']['containers'] as Obj[];
    const agency = containers.find((c) => c['name'] !== 'gozargah-dataplane')!;
    const sidecar = containers.find((c) => c['name'] === 'gozargah-dataplane')!;
    const listen = (agency['args'] as string[])[(agency['args'] as string[]).indexOf('--listen') + 1]!;
    const [host, port] = listen.split(':') as [string, string];
    t2.equal(host, '127.0.0.1', 'the agency listens on loopback only');
    Object.assign(agency, {
      image: IMAGE,
      imagePullPolicy: 'Never',
      command: ['node', '-e', `require('http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end(JSON.stringify({ url: q.url, pod: process.env.HOSTNAME, agency: 'in-pod' })); }).listen(${port}, '${host}')`],
      args: [],
      securityContext: sidecar['securityContext'],
    });
    Object.assign(sidecar, { image: IMAGE, imagePullPolicy: 'Never' });
    const bus = (sidecar['args'] as string[])[(sidecar['args'] as string[]).indexOf('--bus') + 1]!;
    const [providerNs, providerName] = (sidecar['args'] as string[])[(sidecar['args'] as string[]).indexOf('--provider') + 1]!.split('/') as [string, string];
    await kubectl(['create', 'namespace', providerNs]);
    await kubectl(['apply', '-f', '-'], docs.map((d) => stringify(d)).join('---\n'));
    // The provider's own upstream is never used by the sidecar (--upstream-override).
    const objects = [
      provider(providerName, 'http://civil-registry.invalid', {}, providerNs),
      route('person', providerName, '/civil-registry/v1/persons/{id}', { upstreamPath: '/persons/{id}', buses: [bus] }, providerNs),
      keySecret('sidecar-client-keys', { k: SIDECAR_KEY }),
      binding('sidecar-client', 'sidecar-client', [{ namespace: providerNs, name: 'person' }], { bus }),
    ];
    await kubectl(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
    await kubectl(['-n', providerNs, 'rollout', 'status', `deployment/${deployment['metadata']['name']}`, '--timeout=180s']).catch(async (err: unknown) => {
      throw new Error(`${(err as Error).message}\n${await describePods()}`);
    });
    const svc = await json(['get', 'service', '-n', providerNs, (docs.find((d) => d['kind'] === 'Service')!['metadata'] as Obj)['name']]);
    const url = `http://${svc['spec']['clusterIP']}:${svc['spec']['ports'][0]['port']}`;
    const ask = (): Promise<Response> => fetch(`${url}/civil-registry/v1/persons/0012345678`, { headers: { 'x-api-key': SIDECAR_KEY } });
    await waitFor(async () => (await ask().catch(() => null))?.status === 200, 30_000, () => `the sidecar never answered through ${url}`);
    const res = await ask();
    t2.equal(res.status, 200, `through the snippet's Service (${url})`);
    t2.match(await res.json(), { url: '/persons/0012345678', agency: 'in-pod', pod: /^inquiry-/ }, 'the agency container of the same pod answered, over localhost');
    const pods = (await json(['get', 'pods', '-n', providerNs])).items as Obj[];
    t2.equal(pods.length, 2, 'both replicas of the snippet run');
    for (const p of pods) t2.same((p['status']['containerStatuses'] as Obj[]).map((c) => c['ready']), [true, true], `${p['metadata']['name']}: both containers ready`);
  });
}

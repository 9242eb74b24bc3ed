// make bench-propagation: how long from `kubectl apply` of a route to the first successful
// request through the dataplane, with the whole system on a real control plane: kubectl ->
// kube-apiserver -> operator watch -> compile -> publish -> dataplane watch -> swap. Measured
// with 10 and with 10,000 routes already on the bus. Not part of make test: a benchmark, not a test.
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startAgency } from '../test/helpers/agency.ts';
import { kindInfo } from '../api/v1alpha1/index.ts';
import { installCrds, startCluster } from '../test/helpers/cluster.ts';
import { startDataplane, waitFor } from '../test/helpers/dataplane.ts';
import { installRbac, startOperator } from '../test/helpers/operator.ts';
import { scaleObjects } from '../test/helpers/scale.ts';
import { IMAGE_NODE_FLAGS } from './processes.ts';

type Obj = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };
const KEY = 'demo-only-probe-key-Lk8jH7gF6d';
const SIZES = (process.env.ROUTES ?? '10,10000').split(',').map(Number);
/** Bindings per size (paired with ROUTES by position; 10 when unset) and the share granted by selector. */
const BINDINGS = (process.env.BINDINGS ?? '').split(',').filter((b) => b !== '').map(Number);
const SELECTOR_SHARE = Number(process.env.SELECTOR_SHARE ?? 0);
const SAMPLES = Number(process.env.SAMPLES ?? 20);

/** Creates objects straight through the API, 16 at a time: kubectl apply of 10,000 objects takes minutes. */
async function createAll(kc: KubeConfig, objects: Obj[]): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const namespaces = [...new Set(objects.map((o) => o.metadata.namespace).filter((n): n is string => n !== undefined))];
  for (const name of namespaces) await core.createNamespace({ body: { metadata: { name } } });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < objects.length) {
      const o = objects[next++] as Obj;
      const namespace = o.metadata.namespace as string;
      if (o.kind === 'Secret') await core.createNamespacedSecret({ namespace, body: o as never });
      else await custom.createNamespacedCustomObject({ group: 'gozargah.io', version: 'v1alpha1', namespace, plural: kindInfo(o.kind)?.plural as string, body: o });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;

async function measure(routes: number, bindings: number): Promise<{ routes: number; bindings: number; samples: number[]; memory: string; settleMs: number }> {
  const cluster = await startCluster();
  const agency = await startAgency();
  try {
    await installCrds(cluster);
    const credentials = await installRbac(cluster);
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfig);
    const objects = scaleObjects(routes, bindings, 100, SELECTOR_SHARE) as Obj[];
    // agency-0 is a real server; the probe routes go through it.
    const first = objects.find((o) => o.kind === 'ServiceProvider') as Obj & { spec: { upstream: { url: string } } };
    first.spec.upstream.url = agency.url;
    objects.push(
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'prober-keys', namespace: 'clients', labels: { 'gozargah.io/credentials': 'true' } }, stringData: { k: KEY } },
      {
        apiVersion: 'gozargah.io/v1alpha1',
        kind: 'ClientBinding',
        metadata: { name: 'prober', namespace: 'clients' },
        spec: { client: { id: 'prober', displayName: 'Propagation prober' }, credentials: { apiKeys: { secretRef: { name: 'prober-keys' } } }, routes: [{ namespace: 'agency-0', selector: { matchLabels: { 'gozargah.io/probe': 'true' } } }] },
      },
    );
    process.stderr.write(`[propagation] ${routes} routes: creating ${objects.length} objects\n`);
    await createAll(kc, objects);
    // As the image runs them (Dockerfile NODE_OPTIONS).
    const env = { NODE_OPTIONS: IMAGE_NODE_FLAGS.join(' ') };
    const startedAt = performance.now();
    const operator = await startOperator(credentials.operator, 'operator-0', [], env);
    const dp = await startDataplane(['--kubeconfig', credentials.dataplane, '--namespace', 'gozargah-system', '--bus', 'default', '--replica', 'dp-0'], { env });
    try {
      // Let the first reconcile (every status written) finish before measuring.
      await waitFor(async () => (await operator.state()).lastReconcile?.ok === true, 600_000, () => 'the operator never finished its first reconcile');
      await settle(operator.adminUrl);
      // From the operator's start to every first status written (settle waits a quiet second).
      const settleMs = performance.now() - startedAt - 1000;
      const memory = await operatorMemory(operator.adminUrl);
      process.stderr.write(`[propagation] ${routes} routes: settled (operator ${memory}); ${SAMPLES} samples\n`);
      const samples: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const path = `/probe/v1/p${i}/{id}`;
        const yaml = stringify({
          apiVersion: 'gozargah.io/v1alpha1',
          kind: 'InquiryRoute',
          metadata: { name: `probe-${i}`, namespace: 'agency-0', labels: { 'gozargah.io/probe': 'true' } },
          spec: { providerRef: { name: 'agency-0' }, path, upstreamPath: '/echo/{id}', access: { namespaces: { from: 'All' } } },
        });
        const started = performance.now();
        await cluster.run(['apply', '-f', '-'], yaml);
        const url = `${dp.url}/probe/v1/p${i}/1`;
        for (;;) {
          const res = await fetch(url, { headers: { 'x-api-key': KEY } });
          await res.arrayBuffer();
          if (res.status === 200) break;
          if (performance.now() - started > 120_000) throw new Error(`route ${i} never served`);
          await new Promise((r) => setTimeout(r, 5));
        }
        samples.push(performance.now() - started);
        await settle(operator.adminUrl);
      }
      return { routes, bindings, samples, memory, settleMs };
    } finally {
      await dp.stop();
      await operator.stop();
    }
  } finally {
    await agency.close();
    await cluster.stop();
  }
}

/** The operator's resident memory and live heap, from its /metrics. */
async function operatorMemory(adminUrl: string): Promise<string> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const mb = (name: string): number => Math.round(Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1]) / 1048576);
  return `${mb('process_resident_memory_bytes')} MB resident, ${mb('nodejs_heap_size_used_bytes')} MB heap used`;
}

/** Waits until the operator has written no status for a second: the previous change is done. */
async function settle(adminUrl: string): Promise<void> {
  const writes = async (): Promise<number> => {
    const text = await (await fetch(`${adminUrl}/metrics`)).text();
    return [...text.matchAll(/^gozargah_operator_status_writes_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  };
  let last = -1;
  for (;;) {
    const now = await writes();
    if (now === last) return;
    last = now;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const results = [];
for (const [i, routes] of SIZES.entries()) results.push(await measure(routes, BINDINGS[i] ?? 10));
const rows = results.map(({ routes, bindings, samples, memory, settleMs }) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return `| ${routes.toLocaleString('en')} / ${bindings.toLocaleString('en')} | ${samples.length} | ${Math.round(percentile(sorted, 50))} ms | ${Math.round(percentile(sorted, 99))} ms | ${Math.round(sorted[0] as number)} ms | ${Math.round(settleMs / 1000)} s | ${memory} |`;
});
process.stdout.write(
  ['', `Selector share ${SELECTOR_SHARE}.`, '', '| existing routes / bindings | samples | p50 | p99 | min | operator start to every first status | operator once settled |', '|---|---|---|---|---|---|---|', ...rows, ''].join('\n') + '\n',
);

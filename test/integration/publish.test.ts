// The snapshot's way from the compiler to a dataplane through a real kube-apiserver: published
// as shard Secrets plus a manifest, watched by the real dataplane process (--namespace), which
// serves each new generation, refuses a shard that does not match the manifest, waits for shards
// that have not arrived yet, and keeps serving the last good snapshot once the API server is gone.
import t from 'tap';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { BUS_LABEL, MANIFEST_DATA_KEY, manifestSecretName, SHARD_DATA_KEY, SHARD_SECRET_TYPE, SNAPSHOT_LABEL, snapshotLabel, splitSnapshot, type Snapshot, type SnapshotManifest } from '../../api/snapshot/index.ts';
import { compile } from '../../compiler/index.ts';
import { publishSnapshot } from '../../operator/publish.ts';
import { startAgency } from '../helpers/agency.ts';
import { startCluster } from '../helpers/cluster.ts';
import { startDataplane, waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';

const NS = 'gozargah-system';
const KEY = 'test-key-publish-0123456789';

const cluster = await startCluster();
t.teardown(() => cluster.stop());
const created = await cluster.kubectl(['create', 'namespace', NS]);
if (created.code !== 0) throw new Error(created.stderr);
const kc = new KubeConfig();
kc.loadFromFile(cluster.kubeconfig);
const api = kc.makeApiClient(CoreV1Api);

const agency = await startAgency();
t.teardown(() => agency.close());

/** The bus with the echo route, plus one route per extra path. */
function snapshotWith(...extra: string[]): Snapshot {
  const objects = [
    provider('agency', agency.url),
    route('echo', 'agency', '/pub/v1/echo/{id}', { upstreamPath: '/echo/{id}' }),
    ...extra.map((path, i) => route(`extra-${i}`, 'agency', path)),
    keySecret('client-keys', { k: KEY }),
    binding('client', 'client', [{ namespace: 'gov', selector: {} }]),
  ];
  return compile({ objects, now: new Date().toISOString() }).snapshots['default'] as Snapshot;
}

async function status(dpUrl: string, path: string): Promise<number> {
  const res = await fetch(`${dpUrl}${path}`, { headers: { 'x-api-key': KEY } });
  await res.arrayBuffer();
  return res.status;
}

const shardNames = async (): Promise<string[]> =>
  (await api.listNamespacedSecret({ namespace: NS, labelSelector: `${BUS_LABEL}=default,${SNAPSHOT_LABEL}` })).items.map((s) => s.metadata?.name as string).sort();

await publishSnapshot(api, NS, snapshotWith(), 1);
const dp = await startDataplane(['--kubeconfig', cluster.kubeconfig, '--namespace', NS, '--bus', 'default']);
t.teardown(() => dp.stop());

interface ConfigView {
  generation: number;
  hash: string;
  lastError: string | null;
}
const config = async (): Promise<ConfigView> => (await (await fetch(`${dp.adminUrl}/config`)).json()) as ConfigView;

t.test('the published snapshot is served', async (t2) => {
  t2.equal(await status(dp.url, '/pub/v1/echo/1'), 200);
  t2.equal((await config()).generation, 1, 'the generation is the manifest’s');
});

t.test('a new publish is served, and the shards of the old snapshot are deleted', async (t2) => {
  const before = await shardNames();
  const second = snapshotWith('/pub/v1/second');
  const result = await publishSnapshot(api, NS, second, 2);
  t2.same(result.deleted.sort(), before, 'the old shards were deleted after the manifest moved on');
  t2.same(await shardNames(), result.manifest.shards.map((s) => s.name).sort(), 'only the new snapshot’s shards are left');
  await waitFor(async () => (await status(dp.url, '/pub/v1/second')) === 200, 15_000, () => `the second route was never served:\n${dp.logs()}`);
  t2.equal((await config()).generation, 2);
  t2.equal(await status(dp.url, '/pub/v1/echo/1'), 200);
  const again = await publishSnapshot(api, NS, second, 2);
  t2.same([again.written, again.deleted], [[], []], 'publishing the same snapshot again writes and deletes nothing');
});

/** Writes a snapshot's shard Secrets the way publishSnapshot would, or with other bytes. */
async function writeShards(snapshot: Snapshot, shards: { name: string; data: Buffer }[], bytes?: Buffer): Promise<void> {
  for (const shard of shards) {
    await api.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: shard.name, labels: { [BUS_LABEL]: 'default', [SNAPSHOT_LABEL]: snapshotLabel(snapshot.hash) } },
        type: SHARD_SECRET_TYPE,
        data: { [SHARD_DATA_KEY]: (bytes ?? shard.data).toString('base64') },
      },
    });
  }
}

/** Replaces the manifest Secret's content, as publishSnapshot would, but without its ordering. */
async function writeManifest(manifest: SnapshotManifest): Promise<void> {
  const current = await api.readNamespacedSecret({ name: manifestSecretName('default'), namespace: NS });
  await api.replaceNamespacedSecret({
    name: manifestSecretName('default'),
    namespace: NS,
    body: { ...current, data: { [MANIFEST_DATA_KEY]: Buffer.from(JSON.stringify(manifest)).toString('base64') } },
  });
}

t.test('a shard that does not match the manifest is refused; the last good snapshot keeps serving', async (t2) => {
  const third = snapshotWith('/pub/v1/second', '/pub/v1/third');
  const { manifest, shards } = splitSnapshot(third, 3);
  // The shard written by someone else: right name and labels, wrong bytes. Then the right manifest.
  await writeShards(third, shards, Buffer.from('not the shard'));
  await writeManifest(manifest);
  let seen: ConfigView | null = null;
  await waitFor(async () => (seen = await config()).lastError !== null, 15_000, () => `no error reported: ${JSON.stringify(seen)}\n${dp.logs()}`);
  t2.match((seen as unknown as ConfigView).lastError, /generation 3: shard .* does not match its hash in the manifest/);
  t2.equal((seen as unknown as ConfigView).generation, 2, 'generation 2 stays in force');
  t2.equal(await status(dp.url, '/pub/v1/second'), 200);
  t2.equal(await status(dp.url, '/pub/v1/third'), 404);

  // Publishing the snapshot properly repairs the shard, and it is served.
  const result = await publishSnapshot(api, NS, third, 3);
  t2.same(result.written, shards.map((s) => s.name), 'the damaged shard was rewritten');
  await waitFor(async () => (await status(dp.url, '/pub/v1/third')) === 200, 15_000, () => `the third route was never served:\n${dp.logs()}`);
  t2.equal((await config()).lastError, null);
});

t.test('a manifest that arrives before its shards waits for them instead of failing', async (t2) => {
  const fourth = snapshotWith('/pub/v1/second', '/pub/v1/third', '/pub/v1/fourth');
  const { manifest, shards } = splitSnapshot(fourth, 4);
  await writeManifest(manifest);
  await waitFor(() => dp.logs().includes('"waiting for snapshot shards"'), 15_000, () => `the dataplane never waited for the shards:\n${dp.logs()}`);
  const waiting = await config();
  t2.same([waiting.generation, waiting.lastError], [3, null], 'generation 3 in force, and no error: the shards are on their way');
  await writeShards(fourth, shards);
  await waitFor(async () => (await status(dp.url, '/pub/v1/fourth')) === 200, 15_000, () => `the fourth route was never served:\n${dp.logs()}`);
  t2.equal((await config()).generation, 4);
});

t.test('with the API server gone, the dataplane keeps serving the last snapshot', async (t2) => {
  await cluster.stop();
  await waitFor(() => dp.logs().includes('"msg":"watch failed; retrying","watch":"snapshot Secrets"'), 15_000, () => `the dataplane never noticed the API server was gone:\n${dp.logs()}`);
  for (const path of ['/pub/v1/echo/1', '/pub/v1/second', '/pub/v1/fourth']) t2.equal(await status(dp.url, path), 200, path);
  const ready = await fetch(`${dp.adminUrl}/readyz`);
  t2.equal(ready.status, 200, 'still ready');
  t2.equal((await config()).generation, 4);
});

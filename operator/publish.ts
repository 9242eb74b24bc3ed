// Publishes one bus's snapshot as Secrets: the shards first, then the manifest that names them,
// then the shards no manifest names any more. That order is what makes the publish atomic for a
// reader: a manifest it can see only ever names shards that are already there, and a shard it
// may still be reading is deleted only once the manifest has moved on.
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { isCode } from '../kube/api-errors.ts';
import {
  BUS_LABEL,
  MANIFEST_DATA_KEY,
  MANIFEST_SECRET_TYPE,
  manifestSecretName,
  SHARD_DATA_KEY,
  SHARD_SECRET_TYPE,
  SNAPSHOT_LABEL,
  snapshotLabel,
  splitSnapshot,
  type Snapshot,
  type SnapshotManifest,
} from '../api/snapshot/index.ts';

export interface PublishResult {
  manifest: SnapshotManifest;
  /** shard Secrets written by this call (the others already held the same bytes) */
  written: string[];
  /** shard Secrets of older snapshots deleted */
  deleted: string[];
}

/** Creates a shard, or leaves it be when it exists with the same bytes (a retried publish). */
async function writeShard(api: CoreV1Api, namespace: string, body: V1Secret): Promise<boolean> {
  const name = body.metadata?.name as string;
  try {
    await api.createNamespacedSecret({ namespace, body });
    return true;
  } catch (err) {
    if (!isCode(err, 409)) throw err;
  }
  const existing = await api.readNamespacedSecret({ name, namespace });
  if (existing.data?.[SHARD_DATA_KEY] === body.data?.[SHARD_DATA_KEY] && existing.type === body.type) return false;
  // Same name, other bytes: damaged or written by hand. The manifest's hash would refuse it, so
  // repair it rather than publish a snapshot no reader can load.
  await api.replaceNamespacedSecret({ name, namespace, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
  return true;
}

/** Creates the manifest Secret or replaces it; losing a race with another writer (409) retries on the fresh object. */
async function writeManifest(api: CoreV1Api, namespace: string, body: V1Secret): Promise<void> {
  const name = body.metadata?.name as string;
  for (let attempt = 1; ; attempt++) {
    try {
      const existing = await api.readNamespacedSecret({ name, namespace }).catch((err: unknown) => {
        if (isCode(err, 404)) return null;
        throw err;
      });
      if (existing === null) await api.createNamespacedSecret({ namespace, body });
      else await api.replaceNamespacedSecret({ name, namespace, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
      return;
    } catch (err) {
      if (!isCode(err, 409) || attempt === 3) throw err;
    }
  }
}

export async function publishSnapshot(api: CoreV1Api, namespace: string, snapshot: Snapshot, generation: number): Promise<PublishResult> {
  const { manifest, shards } = splitSnapshot(snapshot, generation);
  const bus = snapshot.bus;
  const written: string[] = [];
  for (const shard of shards) {
    const body: V1Secret = {
      metadata: { name: shard.name, namespace, labels: { [BUS_LABEL]: bus, [SNAPSHOT_LABEL]: snapshotLabel(snapshot.hash) } },
      type: SHARD_SECRET_TYPE,
      data: { [SHARD_DATA_KEY]: shard.data.toString('base64') },
    };
    if (await writeShard(api, namespace, body)) written.push(shard.name);
  }
  await writeManifest(api, namespace, {
    metadata: { name: manifestSecretName(bus), namespace, labels: { [BUS_LABEL]: bus } },
    type: MANIFEST_SECRET_TYPE,
    data: { [MANIFEST_DATA_KEY]: Buffer.from(JSON.stringify(manifest)).toString('base64') },
  });
  // Only shards carry SNAPSHOT_LABEL, so the manifest itself is never a candidate here.
  const named = new Set(manifest.shards.map((s) => s.name));
  const listed = await api.listNamespacedSecret({ namespace, labelSelector: `${BUS_LABEL}=${bus},${SNAPSHOT_LABEL}` });
  const deleted: string[] = [];
  for (const secret of listed.items) {
    const name = secret.metadata?.name;
    if (name === undefined || named.has(name)) continue;
    try {
      await api.deleteNamespacedSecret({ name, namespace });
    } catch (err) {
      if (!isCode(err, 404)) throw err; // another publisher got there first
    }
    deleted.push(name);
  }
  return { manifest, written, deleted };
}

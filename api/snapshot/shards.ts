// How a snapshot travels through the Kubernetes API: gzip'd canonical JSON cut into shards that
// each fit well under the 1 MiB object limit, plus a manifest naming every shard with its
// SHA-256. Shard names carry the snapshot's hash, so a new generation never overwrites a shard
// the current manifest points at: the publisher writes the shards first and the manifest last,
// and a reader either sees the whole old snapshot or the whole new one, never a mix.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { canonicalJSON } from './hash.ts';
import { manifestSecretName, snapshotLabel } from './secrets.ts';
import { checkSnapshot } from './validate.ts';
import { SNAPSHOT_API_VERSION, type Snapshot } from './v1.ts';

/** Bytes of gzip'd data per shard. A Secret stores them base64 (4/3 larger): 512 KiB -> 683 KiB < 1 MiB. */
export const SHARD_BYTES = 512 * 1024;

export interface ShardRef {
  name: string;
  sha256: string;
  bytes: number;
}

export interface SnapshotManifest {
  apiVersion: typeof SNAPSHOT_API_VERSION;
  kind: 'SnapshotManifest';
  bus: string;
  generation: number;
  /** the snapshot's own content hash */
  hash: string;
  encoding: 'gzip+json';
  shards: ShardRef[];
}

export interface Shard {
  name: string;
  data: Buffer;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Shard name prefix for a bus and snapshot: `gozargah-snapshot-<bus>-<first 12 hex of the hash>`. */
export function shardPrefix(bus: string, hash: string): string {
  return `${manifestSecretName(bus)}-${snapshotLabel(hash)}`;
}

/** Cuts a snapshot into shards and the manifest that lists them. Pure. */
export function splitSnapshot(snapshot: Snapshot, generation: number, shardBytes = SHARD_BYTES): { manifest: SnapshotManifest; shards: Shard[] } {
  const packed = gzipSync(Buffer.from(canonicalJSON(snapshot), 'utf8'), { level: 6 });
  const prefix = shardPrefix(snapshot.bus, snapshot.hash);
  const shards: Shard[] = [];
  for (let offset = 0, i = 0; offset < packed.length || i === 0; offset += shardBytes, i++) {
    shards.push({ name: `${prefix}-${i}`, data: packed.subarray(offset, offset + shardBytes) });
  }
  return {
    manifest: {
      apiVersion: SNAPSHOT_API_VERSION,
      kind: 'SnapshotManifest',
      bus: snapshot.bus,
      generation,
      hash: snapshot.hash,
      encoding: 'gzip+json',
      shards: shards.map((s) => ({ name: s.name, sha256: sha256(s.data), bytes: s.data.length })),
    },
    shards,
  };
}

/**
 * Puts a snapshot back together from its manifest and the shards read, verifying each shard's
 * hash, the snapshot's schema and its content hash. Returns the snapshot or every problem found.
 */
export function joinSnapshot(manifest: SnapshotManifest, shards: ReadonlyMap<string, Buffer>): Snapshot | string[] {
  const problems: string[] = [];
  if (manifest.apiVersion !== SNAPSHOT_API_VERSION || manifest.kind !== 'SnapshotManifest') problems.push(`not a ${SNAPSHOT_API_VERSION} SnapshotManifest`);
  if (manifest.encoding !== 'gzip+json') problems.push(`unknown encoding ${String(manifest.encoding)}`);
  const parts: Buffer[] = [];
  for (const ref of manifest.shards ?? []) {
    const data = shards.get(ref.name);
    if (data === undefined) problems.push(`shard ${ref.name} is missing`);
    else if (data.length !== ref.bytes || sha256(data) !== ref.sha256) problems.push(`shard ${ref.name} does not match its hash in the manifest`);
    else parts.push(data);
  }
  if (problems.length > 0) return problems;
  let snapshot: unknown;
  try {
    snapshot = JSON.parse(gunzipSync(Buffer.concat(parts)).toString('utf8'));
  } catch (err) {
    return [`the shards do not decode: ${(err as Error).message}`];
  }
  const invalid = checkSnapshot(snapshot);
  if (invalid.length > 0) return invalid;
  const whole = snapshot as Snapshot;
  if (whole.hash !== manifest.hash) return [`the shards hold snapshot ${whole.hash}, the manifest names ${manifest.hash}`];
  if (whole.bus !== manifest.bus) return [`the shards hold bus ${whole.bus}, the manifest names ${manifest.bus}`];
  return whole;
}

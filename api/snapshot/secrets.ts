// Where a snapshot lives in the Kubernetes API: the Secret names, labels, types and data keys
// the operator writes and the dataplane's cluster source reads. Both sides import these, so the
// two can never disagree on a name.

/** Every Secret of a bus's snapshot (shards and manifest) carries it: one label selector finds them all. */
export const BUS_LABEL = 'gozargah.io/bus';
/** On shards only: the first 12 hex of the snapshot's hash, so a bus's old shards are found by label. */
export const SNAPSHOT_LABEL = 'gozargah.io/snapshot';
export const SHARD_SECRET_TYPE = 'gozargah.io/snapshot-shard';
export const MANIFEST_SECRET_TYPE = 'gozargah.io/snapshot-manifest';
export const SHARD_DATA_KEY = 'shard';
export const MANIFEST_DATA_KEY = 'manifest.json';

/** The one manifest Secret of a bus; replaced (never re-created) on each publish. */
export const manifestSecretName = (bus: string): string => `gozargah-snapshot-${bus}`;

/** The value of SNAPSHOT_LABEL for a snapshot hash (`sha256:...` or bare hex). */
export const snapshotLabel = (hash: string): string => hash.replace(/^sha256:/, '').slice(0, 12);

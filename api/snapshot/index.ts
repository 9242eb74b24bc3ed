export * from './v1.ts';
export { canonicalJSON, snapshotHash } from './hash.ts';
export { checkSnapshot } from './validate.ts';
export { newRouteSchemaAjv, compileRouteSchema, UnsupportedPatternError } from './routeschema.ts';
export { cidrProblem, jsonProblem, RFC3339, SERVER_NAME, serverNameProblem, timestampProblem, tlsProblem, upstreamURLProblem } from './servable.ts';
export { splitSnapshot, joinSnapshot, shardPrefix, SHARD_BYTES, type SnapshotManifest, type ShardRef, type Shard } from './shards.ts';
export { BUS_LABEL, SNAPSHOT_LABEL, SHARD_SECRET_TYPE, MANIFEST_SECRET_TYPE, SHARD_DATA_KEY, MANIFEST_DATA_KEY, manifestSecretName, snapshotLabel } from './secrets.ts';
export * from './reports.ts';
export { jwksProblem, parseJwks, MAX_JWKS_KEYS, type Jwk } from './jwks.ts';

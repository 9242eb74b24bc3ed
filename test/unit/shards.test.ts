// The snapshot's transport through the Kubernetes API: shards under the object size limit,
// verified on the way back, never a mix of two snapshots.
import t from 'tap';
import { joinSnapshot, splitSnapshot, SHARD_BYTES, type Snapshot } from '../../api/snapshot/index.ts';
import { compile } from '../../compiler/index.ts';
import { scaleObjects } from '../helpers/scale.ts';

const NOW = '2026-11-23T10:00:00Z';
const small = compile({ objects: scaleObjects(20, 10, 4), now: NOW }).snapshots['default'] as Snapshot;

const asMap = (shards: { name: string; data: Buffer }[]): Map<string, Buffer> => new Map(shards.map((s) => [s.name, Buffer.from(s.data)]));

t.test('a snapshot survives split and join', async (t2) => {
  const { manifest, shards } = splitSnapshot(small, 7, 200);
  t2.ok(shards.length > 1, `split into ${shards.length} shards`);
  t2.equal(manifest.generation, 7);
  t2.equal(manifest.hash, small.hash);
  t2.same(joinSnapshot(manifest, asMap(shards)), small);
});

t.test('10,000 routes and 5,000 bindings: every shard fits a Secret with room to spare', async (t2) => {
  const big = compile({ objects: scaleObjects(10_000, 5_000), now: NOW }).snapshots['default'] as Snapshot;
  t2.equal(big.routes.length, 10_000);
  t2.equal(big.bindings.length, 5_000);
  const { manifest, shards } = splitSnapshot(big, 1);
  for (const s of shards) t2.ok(Math.ceil(s.data.length / 3) * 4 < 1024 * 1024 - 64 * 1024, `${s.name}: ${s.data.length} bytes, base64 under 960 KiB`);
  t2.ok(shards.every((s) => s.data.length <= SHARD_BYTES));
  t2.equal((joinSnapshot(manifest, asMap(shards)) as Snapshot).hash, big.hash);
});

t.test('a corrupted, missing or foreign shard is refused with the reason', async (t2) => {
  const { manifest, shards } = splitSnapshot(small, 1, 200);
  const corrupted = asMap(shards);
  const first = shards[0]?.name as string;
  const bytes = corrupted.get(first) as Buffer;
  bytes.writeUInt8(bytes.readUInt8(10) ^ 0xff, 10);
  t2.match(joinSnapshot(manifest, corrupted), [`shard ${first} does not match its hash in the manifest`]);

  const missing = asMap(shards);
  missing.delete(first);
  t2.match(joinSnapshot(manifest, missing), [`shard ${first} is missing`]);

  // Shards of another snapshot under the names this manifest expects: the hashes catch it.
  const other = compile({ objects: scaleObjects(21, 10, 4), now: NOW }).snapshots['default'] as Snapshot;
  const foreign = splitSnapshot(other, 2, 200).shards;
  const mixed = new Map(shards.map((s, i) => [s.name, Buffer.from((foreign[i] ?? s).data)]));
  const result = joinSnapshot(manifest, mixed);
  t2.ok(Array.isArray(result) && result.length > 0, 'a mix of two snapshots is never served');
});

t.test('shard names carry the snapshot hash, so a new generation never overwrites the current one', async (t2) => {
  const other = compile({ objects: scaleObjects(21, 10, 4), now: NOW }).snapshots['default'] as Snapshot;
  const a = splitSnapshot(small, 1, 200).manifest.shards.map((s) => s.name);
  const b = splitSnapshot(other, 2, 200).manifest.shards.map((s) => s.name);
  t2.same(a.filter((n) => b.includes(n)), []);
});

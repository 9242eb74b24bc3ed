// make bench-compile: the compiler at a national bus's scale (10,000 routes, 5,000 bindings):
// wall time, peak resident memory, snapshot size and shards. Not part of make test.
import { compile } from '../compiler/index.ts';
import { splitSnapshot, type Snapshot } from '../api/snapshot/index.ts';
import { scaleObjects } from '../test/helpers/scale.ts';

const [routes, bindings] = [Number(process.env['ROUTES'] ?? 10_000), Number(process.env['BINDINGS'] ?? 5_000)];
const objects = scaleObjects(routes, bindings);
const rssBefore = process.memoryUsage().rss;
const started = performance.now();
const { snapshots, statuses } = compile({ objects, now: new Date().toISOString() });
const ms = performance.now() - started;
const snapshot = snapshots['default'] as Snapshot;
const { shards } = splitSnapshot(snapshot, 1);
const json = JSON.stringify(snapshot).length;
const peakMB = Math.round(process.resourceUsage().maxRSS / 1024);
if (process.argv.includes('--json')) {
  // for bench/scale.ts
  process.stdout.write(`${JSON.stringify({ routes, bindings, objects: objects.length, ms: Math.round(ms), peakMB, beforeMB: Math.round(rssBefore / 1048576), snapshotKiB: Math.round(json / 1024) })}\n`);
  process.exit(0);
}
process.stdout.write(
  [
    `compile of ${routes} routes and ${bindings} bindings (${objects.length} objects): ${Math.round(ms)} ms`,
    `peak RSS ${peakMB} MB (before compiling: ${Math.round(rssBefore / 1048576)} MB)`,
    `${statuses.length} statuses; snapshot ${Math.round(json / 1024)} KiB of JSON, ${shards.length} shard(s) of gzip, ${Math.round(shards.reduce((n, s) => n + s.data.length, 0) / 1024)} KiB`,
  ].join('\n') + '\n',
);

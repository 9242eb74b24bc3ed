// make bench-national: the figures of a national bus, beside their goals, at 10,000 routes /
// 5,000 bindings and 50,000 routes / 10,000 bindings, a quarter of the bindings granted by label
// selector (scaleObjects): compile time (median of 3) and the compiling process's peak
// resident memory, snapshot size and shards, and a dataplane's resident memory with the
// snapshot loaded (the image's V8 flags). Each size runs in processes of its own. Not part of
// make test. The operator's memory and propagation on a real control plane are
// `make bench-propagation`'s.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitSnapshot, type Snapshot } from '../api/snapshot/index.ts';
import { compile } from '../compiler/index.ts';
import { scaleObjects } from '../test/helpers/scale.ts';
import { IMAGE_NODE_FLAGS, loadedDataplaneMB } from './processes.ts';

const SELECTOR_SHARE = 0.25;
const SIZES: [number, number][] = [
  [10_000, 5_000],
  [50_000, 10_000],
];

/** In a child process: compile one size three times; print the figures as JSON. */
async function measureCompile(routes: number, bindings: number): Promise<void> {
  const objects = scaleObjects(routes, bindings, 100, SELECTOR_SHARE);
  const times: number[] = [];
  let snapshot: Snapshot | undefined;
  let statuses = 0;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    const out = compile({ objects, now: new Date().toISOString() });
    times.push(performance.now() - started);
    snapshot = out.snapshots['default'];
    statuses = out.statuses.length;
  }
  const text = JSON.stringify(snapshot);
  const { shards } = splitSnapshot(snapshot as Snapshot, 1);
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-national-'));
  writeFileSync(join(dir, 'snapshot.json'), text);
  const granted = (snapshot as Snapshot).bindings.reduce((n, b) => n + b.routes.length, 0);
  process.stdout.write(
    `${JSON.stringify({
      objects: objects.length,
      statuses,
      granted,
      compileMs: Math.round([...times].sort((a, b) => a - b)[1] as number),
      peakMB: Math.round(process.resourceUsage().maxRSS / 1024),
      snapshotMiB: +(text.length / 1048576).toFixed(1),
      gzipMiB: +(shards.reduce((n, s) => n + s.data.length, 0) / 1048576).toFixed(1),
      shards: shards.length,
      file: join(dir, 'snapshot.json'),
    })}\n`,
  );
}

function run(args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${args.join(' ')} exited ${code}`))));
  });
}

if (process.argv[2] === '--compile') {
  await measureCompile(Number(process.argv[3]), Number(process.argv[4]));
  process.exit(0);
}

const rows: string[] = [];
for (const [routes, bindings] of SIZES) {
  process.stderr.write(`[national] ${routes} routes / ${bindings} bindings: compiling\n`);
  const c = JSON.parse(await run([...IMAGE_NODE_FLAGS, import.meta.filename, '--compile', String(routes), String(bindings)])) as Record<string, number | string>;
  process.stderr.write(`[national] ${routes} routes / ${bindings} bindings: a dataplane loads the snapshot\n`);
  const dp = await loadedDataplaneMB(c['file'] as string, 2000);
  const goal = routes >= 50_000 ? ' (goal < 3,000 ms)' : '';
  rows.push(
    `| ${routes.toLocaleString('en')} / ${bindings.toLocaleString('en')} | ${c['objects']} | ${c['granted']} | ${c['compileMs']} ms${goal} | ${c['peakMB']} MB | ${c['snapshotMiB']} MiB (${c['gzipMiB']} MiB gzip, ${c['shards']} shard(s)) | ${dp} MB |`,
  );
}
process.stdout.write(
  [
    `National scale, ${new Date().toISOString()}: ${SELECTOR_SHARE * 100}% of the bindings granted by label selector (about ten routes each), the rest three routes by name.`,
    '',
    '| routes / bindings | objects | grants | compile (median of 3) | compiling process peak resident | snapshot | dataplane resident, snapshot loaded |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);

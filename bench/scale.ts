// Scale: does the dataplane slow down with a national bus's configuration, what the compiler
// costs at that size, and how much memory the dataplane holds with it loaded.
//  - throughput with 10 routes / 10 bindings against 10,000 routes / 5,000 bindings: both
//    dataplanes run at once on the proxy CPU, and the saturation runs alternate between them;
//  - compile time and peak resident memory (bench/compile-scale.ts in its own process);
//  - the dataplane's resident memory with the large snapshot loaded, idle and after load.
import { join } from 'node:path';
import { scaleObjects } from '../test/helpers/scale.ts';
import { snapshotFile, startAgency, startDataplane, type Running } from './contenders.ts';
import { saturate, type Generator } from './generators.ts';
import { median } from './harness.ts';
import { output, pinned, CPU, IMAGE_NODE_FLAGS, residentMB } from './processes.ts';

const ROOT = join(import.meta.dirname, '..');

export interface ScaleOptions {
  generator: Generator;
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** saturation runs per size */
  runs: number;
  routes: number;
  bindings: number;
  log: (line: string) => void;
}

export interface SizeResult {
  routes: number;
  bindings: number;
  /** req/s of each run, in order */
  runs: number[];
  rps: number;
}

export interface ScaleResult {
  small: SizeResult;
  large: SizeResult;
  /** large / small req/s: the median of the rounds' ratios */
  ratio: number;
  compile: { routes: number; bindings: number; objects: number; ms: number; peakMB: number; beforeMB: number; snapshotKiB: number };
  /** the dataplane serving the large snapshot */
  memory: { loadedMB: number; afterLoadMB: number; smallLoadedMB: number };
}

/** The scale objects, with client 0 (granted route 0) allowed as many calls as the load makes, and agency 0 pointed at the agency. */
function benchSnapshot(routes: number, bindings: number, agencyUrl: string): string {
  const objects = scaleObjects(routes, bindings);
  for (const o of objects) {
    const meta = o['metadata'] as { name: string };
    const spec = o['spec'] as Record<string, unknown> | undefined;
    if (o['kind'] === 'ServiceProvider' && meta.name === 'agency-0') spec!['upstream'] = { url: agencyUrl };
    if (o['kind'] === 'ClientBinding' && meta.name === 'client-0') spec!['rateLimit'] = { requestsPerSecond: 1_000_000, burst: 1_000_000 };
  }
  return snapshotFile(objects);
}

// scaleObjects: route 0 is /agency-0/v1/inquiry-0/{id}, granted to client 0, whose key this is.
const SCALE_KEY = 'scale-test-key-00000000-0123456789';
const SCALE_PATH = '/agency-0/v1/inquiry-0/0012345678';

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function compileScale(routes: number, bindings: number): Promise<ScaleResult['compile']> {
  const child = pinned(CPU.proxy, process.execPath, [...IMAGE_NODE_FLAGS, join(ROOT, 'bench/compile-scale.ts'), '--json'], { ROUTES: String(routes), BINDINGS: String(bindings) });
  return JSON.parse((await output(child)).trim().split('\n').pop() as string) as ScaleResult['compile'];
}

export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  const agency = await startAgency('node');
  let small: (Running & { port: number }) | null = null;
  let large: (Running & { port: number }) | null = null;
  try {
    small = await startDataplane(benchSnapshot(10, 10, agency.url), `x-api-key: ${SCALE_KEY}`, SCALE_PATH);
    large = await startDataplane(benchSnapshot(o.routes, o.bindings, agency.url), `x-api-key: ${SCALE_KEY}`, SCALE_PATH);
    await settle(1000); // the load's garbage collected, as bench-memory measures
    const smallLoadedMB = residentMB(small.child?.pid as number);
    const loadedMB = residentMB(large.child?.pid as number);
    const load = (r: Running): Parameters<typeof saturate>[1] => ({ url: `${r.url}${r.path}`, connections: o.connections, seconds: o.seconds, header: r.header });
    if (o.warmupSeconds > 0) {
      await saturate(o.generator, { ...load(small), seconds: o.warmupSeconds });
      await saturate(o.generator, { ...load(large), seconds: o.warmupSeconds });
    }
    const runs = { small: [] as number[], large: [] as number[] };
    for (let i = 0; i < o.runs; i++) {
      // alternate, so a noisy moment on the machine does not land on one size only
      runs.small.push(Math.round((await saturate(o.generator, load(small))).rps));
      runs.large.push(Math.round((await saturate(o.generator, load(large))).rps));
    }
    const afterLoadMB = residentMB(large.child?.pid as number);
    const result = (routes: number, bindings: number, r: number[]): SizeResult => ({ routes, bindings, runs: r, rps: median(r, (x) => x) });
    const s = result(10, 10, runs.small);
    const l = result(o.routes, o.bindings, runs.large);
    o.log(`scale: ${s.runs.join(', ')} req/s at 10/10; ${l.runs.join(', ')} req/s at ${o.routes}/${o.bindings}`);
    await small.stop();
    await large.stop();
    const compile = await compileScale(o.routes, o.bindings);
    o.log(`compile: ${compile.ms} ms, peak ${compile.peakMB} MB`);
    // each round's ratio, then their median: a noisy moment touches both sizes of a round
    const ratio = median(runs.large.map((rps, i) => rps / (runs.small[i] as number)), (x) => x);
    return { small: s, large: l, ratio: Math.round(ratio * 100) / 100, compile, memory: { loadedMB, afterLoadMB, smallLoadedMB } };
  } finally {
    await small?.stop();
    await large?.stop();
    await agency.stop();
  }
}

export function scaleTable(r: ScaleResult): string {
  const n = (v: number): string => v.toLocaleString('en-US');
  return [
    '| measure | value | target |',
    '|---|---|---|',
    `| req/s, 10 routes / 10 bindings (median; runs) | ${n(r.small.rps)} (${r.small.runs.map(n).join(', ')}) | |`,
    `| req/s, ${n(r.large.routes)} routes / ${n(r.large.bindings)} bindings (median; runs) | ${n(r.large.rps)} (${r.large.runs.map(n).join(', ')}) | |`,
    `| throughput ratio, large / small (median of the rounds' ratios) | ${r.ratio.toFixed(2)} | >= 0.95 |`,
    `| compile ${n(r.compile.routes)} routes / ${n(r.compile.bindings)} bindings (${n(r.compile.objects)} objects) | ${n(r.compile.ms)} ms | < 3,000 ms |`,
    `| compiler process peak resident memory (before compiling: ${r.compile.beforeMB} MB) | ${r.compile.peakMB} MB | < 300 MB |`,
    `| dataplane resident, large snapshot loaded (10/10: ${r.memory.smallLoadedMB} MB) | ${r.memory.loadedMB} MB | < 200 MB |`,
    `| dataplane resident, large snapshot, after the load runs | ${r.memory.afterLoadMB} MB | |`,
  ].join('\n');
}

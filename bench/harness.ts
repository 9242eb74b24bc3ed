// The benchmark run: each contender alone on the proxy CPU, the agency and the load generator
// together on the other, the same load for each (connections, duration, generator). For each:
// requests per second at saturation (several runs: median and spread), then p50/p99 latency
// at a fixed rate.
import { atRate, saturate, type Generator, type LoadResult } from './generators.ts';
import { CONTENDERS, LABELS, startAgency, startContender, type ContenderName, type Running } from './contenders.ts';

export interface BenchOptions {
  contenders: readonly ContenderName[];
  generator: Generator;
  agency: 'node' | 'nginx';
  connections: number;
  seconds: number;
  warmupSeconds: number;
  /** saturation runs per contender */
  runs: number;
  /** requests per second for the fixed-rate run; 0 skips it */
  rate: number;
  /**
   * connections for the fixed-rate run: autocannon gives each connection rate/connections per
   * second in bursts, so with as many connections as the saturation run the p99 mostly measures
   * the generator's bursts (direct measured p99 8 to 16 ms at 50 connections, 1.8 ms at 10)
   */
  rateConnections: number;
  log: (line: string) => void;
}

export interface ContenderResult {
  name: ContenderName;
  label: string;
  /** the median run by req/s */
  saturation: LoadResult;
  /** req/s of every saturation run, in order */
  runs: number[];
  fixedRate: (LoadResult & { rate: number }) | null;
}

export interface BenchResult {
  generator: Generator;
  agency: 'node' | 'nginx';
  connections: number;
  seconds: number;
  runs: number;
  rate: number;
  rateConnections: number;
  contenders: ContenderResult[];
  ratios: Record<string, number>;
}

export function median<T>(values: readonly T[], key: (v: T) => number): T {
  const sorted = [...values].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)] as T;
}

const loadOf = (target: Running, connections: number, seconds: number) => ({ url: `${target.url}${target.path}`, connections, seconds, header: target.header });

/**
 * All contenders run at once (an idle one costs nothing) and are measured in rounds, one after
 * the other, every other round in reverse order: a noisy moment on a shared machine then touches
 * every contender, not one, and each round gives its own ratios.
 */
export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const agency = await startAgency(o.agency);
  const names = CONTENDERS.filter((name) => o.contenders.includes(name));
  const started: Running[] = [];
  const contenders: ContenderResult[] = [];
  try {
    for (const name of names) started.push(await startContender(name, agency));
    if (o.warmupSeconds > 0) for (const target of started) await saturate(o.generator, loadOf(target, o.connections, o.warmupSeconds)); // JIT, pools
    const runs: LoadResult[][] = names.map(() => []);
    for (let round = 0; round < o.runs; round++) {
      // Every other round in reverse order: a contender's place in the round (after a busy
      // neighbour, with the agency's heap grown) then favours none of them.
      const order = started.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) runs[i]?.push(await saturate(o.generator, loadOf(started[i] as Running, o.connections, o.seconds)));
      o.log(`round ${round + 1}: ${names.map((name, i) => `${name} ${Math.round(runs[i]?.[round]?.rps ?? 0)}`).join(', ')} req/s`);
    }
    for (let i = 0; i < started.length; i++) {
      const fixed = o.rate > 0 ? { ...(await atRate(loadOf(started[i] as Running, o.rateConnections, o.seconds), o.rate)), rate: o.rate } : null;
      const name = names[i] as ContenderName;
      const mine = runs[i] as LoadResult[];
      contenders.push({ name, label: LABELS[name], saturation: median(mine, (r) => r.rps), runs: mine.map((r) => Math.round(r.rps)), fixedRate: fixed });
      if (fixed !== null) o.log(`${name}: at ${o.rate}/s p50 ${fixed.p50} ms, p99 ${fixed.p99} ms`);
    }
  } finally {
    for (const target of started) await target.stop();
    await agency.stop();
  }
  return { generator: o.generator, agency: o.agency, connections: o.connections, seconds: o.seconds, runs: o.runs, rate: o.rate, rateConnections: o.rateConnections, contenders, ratios: ratios(contenders) };
}

/**
 * What a feature costs, as a variant of the dataplane against its base: counting for the fleet
 * (Redis), the audit evidence (chain, signatures, body hashes, pseudonyms) against plain records,
 * and a bearer token (JWT) against an API key.
 */
const VARIANTS: Partial<Record<ContenderName, ContenderName>> = { 'dataplane-redis': 'dataplane', 'dataplane-signed-audit': 'dataplane-plain-audit', 'dataplane-jwt': 'dataplane' };

/** The median over rounds of each round's ratio: dataplane / each other contender, and each variant / its base. */
function ratios(contenders: readonly ContenderResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  const ratio = (a: ContenderResult, b: ContenderResult): number => Math.round(median(a.runs.map((rps, i) => rps / (b.runs[i] as number)), (x) => x) * 100) / 100;
  const dp = contenders.find((c) => c.name === 'dataplane');
  for (const c of contenders) {
    const baseName = VARIANTS[c.name];
    const base = contenders.find((b) => b.name === baseName);
    if (base !== undefined) out[`${c.name}/${base.name}`] = ratio(c, base);
    else if (dp !== undefined && c !== dp && baseName === undefined && !c.name.startsWith('dataplane')) out[`dataplane/${c.name}`] = ratio(dp, c);
  }
  return out;
}

const n = (v: number): string => Math.round(v).toLocaleString('en-US');
const ms = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(2));

/** The markdown table: one row per contender, then the ratios. */
export function benchTable(r: BenchResult): string {
  const lines = [
    `| contender | req/s (median of ${r.runs}) | spread | p50 ms | p99 ms | req/s held at ${n(r.rate)}/s | p50 ms at ${n(r.rate)}/s | p99 ms at ${n(r.rate)}/s | errors | non-2xx |`,
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of r.contenders) {
    const s = c.saturation;
    const f = c.fixedRate;
    const errors = s.errors + (f?.errors ?? 0);
    const non2xx = s.non2xx + (f?.non2xx ?? 0);
    lines.push(`| ${c.label} | ${n(s.rps)} | ${n(Math.min(...c.runs))}-${n(Math.max(...c.runs))} | ${ms(s.p50)} | ${ms(s.p99)} | ${f == null ? '-' : n(f.rps)} | ${ms(f?.p50)} | ${ms(f?.p99)} | ${errors} | ${non2xx} |`);
  }
  lines.push('');
  for (const [name, value] of Object.entries(r.ratios)) lines.push(`- ${name} req/s: ${value.toFixed(2)} (median of the rounds' ratios)`);
  const direct = r.contenders.find((c) => c.name === 'direct')?.fixedRate;
  const dp = r.contenders.find((c) => c.name === 'dataplane')?.fixedRate;
  if (direct != null && dp != null) lines.push(`- dataplane p99 - direct p99 at ${n(r.rate)}/s: ${(dp.p99 - direct.p99).toFixed(2)} ms`);
  return lines.join('\n');
}

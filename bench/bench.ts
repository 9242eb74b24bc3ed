// make bench / make bench-scale: the benchmark of record. Prints the machine, the contenders'
// table, the ratios, the scale figures and each target met or missed, and writes them to
// bench/results/ (JSON and markdown). Not part of make test. Settings from the environment:
//   BENCH_SECONDS (10) per run, BENCH_CONNECTIONS (50), BENCH_RUNS (5) saturation rounds per
//   contender, BENCH_WARMUP (3) seconds, BENCH_RATE (5000) requests/s for the latency run,
//   BENCH_GENERATOR (wrk when installed, else autocannon), BENCH_AGENCY (node | nginx),
//   BENCH_CONTENDERS (a comma-separated subset, e.g. dataplane,dataplane-jwt; default all).
//   --scale-only: only the scale part (make bench-scale); --no-scale: only the contenders.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CONTENDERS, type ContenderName } from './contenders.ts';
import type { Generator } from './generators.ts';
import { benchTable, runBench, type BenchResult } from './harness.ts';
import { has, CPU } from './processes.ts';
import { runScale, scaleTable, type ScaleResult } from './scale.ts';

const ROOT = join(import.meta.dirname, '..');
const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

function machine(): string {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown CPU';
  return `${availableParallelism()} CPUs (nproc), ${model}; Node ${process.version}`;
}

interface Target {
  what: string;
  value: string;
  met: boolean;
}

function targets(bench: BenchResult | null, scale: ScaleResult | null): Target[] {
  const out: Target[] = [];
  if (bench !== null) {
    const r = bench.ratios;
    if (r['dataplane/nginx'] !== undefined) out.push({ what: 'dataplane >= 0.30x nginx req/s', value: r['dataplane/nginx'].toFixed(2), met: r['dataplane/nginx'] >= 0.3 });
    if (r['dataplane-redis/dataplane'] !== undefined) out.push({ what: 'dataplane + Redis >= 0.9x dataplane req/s', value: r['dataplane-redis/dataplane'].toFixed(2), met: r['dataplane-redis/dataplane'] >= 0.9 });
    const jwt = r['dataplane-jwt/dataplane'];
    if (jwt !== undefined) out.push({ what: 'JWT (Bearer) >= 0.9x API key req/s', value: jwt.toFixed(2), met: jwt >= 0.9 });
    const evidence = r['dataplane-signed-audit/dataplane-plain-audit'];
    if (evidence !== undefined) out.push({ what: 'audit with chain, signing, body hashes and pseudonyms >= 0.9x without req/s', value: evidence.toFixed(2), met: evidence >= 0.9 });
    if (r['dataplane/http-proxy'] !== undefined) out.push({ what: 'dataplane >= 1.8x http-proxy req/s', value: r['dataplane/http-proxy'].toFixed(2), met: r['dataplane/http-proxy'] >= 1.8 });
    const direct = bench.contenders.find((c) => c.name === 'direct')?.fixedRate;
    const dp = bench.contenders.find((c) => c.name === 'dataplane')?.fixedRate;
    if (direct != null && dp != null) {
      const over = dp.p99 - direct.p99;
      out.push({ what: `dataplane p99 at ${bench.rate}/s <= direct p99 + 2 ms`, value: `+${over.toFixed(2)} ms`, met: over <= 2 });
    }
  }
  if (scale !== null) {
    out.push({ what: '10,000/5,000 >= 0.95x the req/s of 10/10', value: scale.ratio.toFixed(2), met: scale.ratio >= 0.95 });
    out.push({ what: 'compile 10,000/5,000 < 3 s', value: `${scale.compile.ms} ms`, met: scale.compile.ms < 3000 });
    out.push({ what: 'compile peak resident < 300 MB', value: `${scale.compile.peakMB} MB`, met: scale.compile.peakMB < 300 });
    out.push({ what: 'dataplane resident with 10,000/5,000 < 200 MB', value: `${scale.memory.loadedMB} MB`, met: scale.memory.loadedMB < 200 });
  }
  return out;
}

/** Propagation (kubectl apply -> served) needs the local control plane and minutes: its own target. */
const PROPAGATION = 'measured by make bench-propagation (a real kube-apiserver, operator and dataplane; not run by make bench)';

async function main(): Promise<void> {
  const scaleOnly = process.argv.includes('--scale-only');
  const withScale = !process.argv.includes('--no-scale');
  const generator = (process.env['BENCH_GENERATOR'] ?? (has('wrk') ? 'wrk' : 'autocannon')) as Generator;
  if (generator === 'wrk' && !has('wrk')) throw new Error('wrk is not installed (make bench installs it)');
  const common = { generator, connections: env('BENCH_CONNECTIONS', 50), seconds: env('BENCH_SECONDS', 10), warmupSeconds: env('BENCH_WARMUP', 3), runs: env('BENCH_RUNS', 5), log };
  const started = new Date().toISOString();
  log(`machine: ${machine()}`);

  let bench: BenchResult | null = null;
  if (!scaleOnly) {
    const contenders = process.env['BENCH_CONTENDERS']?.split(',') ?? CONTENDERS;
    const unknown = contenders.filter((c) => !(CONTENDERS as readonly string[]).includes(c));
    if (unknown.length > 0) throw new Error(`BENCH_CONTENDERS: unknown ${unknown.join(', ')} (known: ${CONTENDERS.join(', ')})`);
    if (contenders.includes('nginx') && !has('nginx')) throw new Error('nginx is not installed (make bench installs it)');
    const agency = (process.env['BENCH_AGENCY'] ?? 'node') as 'node' | 'nginx';
    bench = await runBench({ ...common, contenders: contenders as ContenderName[], agency, rate: env('BENCH_RATE', 5000), rateConnections: env('BENCH_RATE_CONNECTIONS', 10) });
  }
  const scale = withScale ? await runScale({ ...common, routes: 10_000, bindings: 5_000 }) : null;
  const prop = withScale ? PROPAGATION : null;

  const sections = [`# Gozargah benchmark, ${started}`, '', `Machine: ${machine()}.`, ''];
  if (bench !== null) {
    sections.push(
      `Load: ${bench.generator} for saturation (${bench.connections} connections), autocannon (overallRate, ${bench.rateConnections} connections) for the fixed rate; ${bench.seconds} s per run after a ${common.warmupSeconds} s warm-up; the proxy alone on CPU ${CPU.proxy}, the agency (${bench.agency === 'node' ? 'bench/agency.ts' : 'nginx return'}) and the load generator on CPU ${CPU.load}.`,
      '',
      benchTable(bench),
      '',
    );
  }
  if (scale !== null) sections.push('Scale:', '', scaleTable(scale), '', `Propagation: ${prop}`, '');
  const t = targets(bench, scale);
  sections.push('Targets:', '', ...t.map((x) => `- ${x.met ? 'met' : 'MISSED'}: ${x.what} (${x.value})`), '');
  const report = sections.join('\n');
  process.stdout.write(`${report}\n`);

  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const name = scaleOnly ? 'bench-scale' : 'bench';
  const json = `${JSON.stringify({ date: started, machine: machine(), bench, scale, propagation: prop, targets: t }, null, 2)}\n`;
  writeFileSync(join(dir, `${name}.json`), json);
  writeFileSync(join(dir, `${name}.md`), report);
  const stamp = started.replace(/[:.]/g, '-');
  writeFileSync(join(dir, `${name}-${stamp}.json`), json);
  log(`results: bench/results/${name}.json, bench/results/${name}.md`);
}

await main();

// The load generators, run pinned on the load CPU: wrk (Debian's package) for saturation, and
// autocannon (bench/load.ts) for saturation when wrk is missing and for the fixed rate, which
// plain wrk cannot hold.
import { join } from 'node:path';
import { CPU, output, pinned } from './processes.ts';

export interface LoadResult {
  rps: number;
  /** milliseconds */
  p50: number;
  p99: number;
  requests: number;
  /** connection errors and timeouts */
  errors: number;
  non2xx: number;
}

export interface Load {
  url: string;
  connections: number;
  seconds: number;
  /** the credential header as `name: value` (x-api-key or Authorization: Bearer), when the contender needs one */
  header: string | null;
}

export type Generator = 'wrk' | 'autocannon';

/** The p-th percentile of sorted values (nearest rank). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Math.round((sorted[rank] as number) * 1000) / 1000;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function wrkMs(text: string, label: string): number {
  const m = new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
  if (m === null) throw new Error(`wrk printed no ${label} latency:\n${text}`);
  return Math.round(Number(m[1]) * (UNIT_MS[m[2] as string] as number) * 1000) / 1000;
}

/** Parses `wrk --latency` output. */
export function parseWrk(text: string, seconds: number): LoadResult {
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? Number.NaN);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = socket === null ? 0 : socket.slice(1).reduce((sum, v) => sum + Number(v), 0);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? requests / seconds),
    p50: wrkMs(text, '50%'),
    p99: wrkMs(text, '99%'),
    requests,
    errors,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0),
  };
}

const ROOT = join(import.meta.dirname, '..');

/** Saturation: as many requests as the contender answers, on `connections` connections. */
export async function saturate(generator: Generator, load: Load): Promise<LoadResult> {
  if (generator === 'wrk') {
    const args = ['-t1', `-c${load.connections}`, `-d${load.seconds}s`, '--latency', ...(load.header === null ? [] : ['-H', load.header]), load.url];
    return parseWrk(await output(pinned(CPU.load, 'wrk', args)), load.seconds);
  }
  return autocannon(load, 0);
}

/** A fixed overall rate (autocannon's overallRate), for latency below saturation. */
export function atRate(load: Load, rate: number): Promise<LoadResult> {
  return autocannon(load, rate);
}

async function autocannon(load: Load, rate: number): Promise<LoadResult> {
  const args = [join(ROOT, 'bench/load.ts'), load.url, String(load.connections), String(load.seconds), String(rate), load.header ?? ''];
  const out = await output(pinned(CPU.load, process.execPath, args));
  return JSON.parse(out.trim().split('\n').pop() as string) as LoadResult;
}

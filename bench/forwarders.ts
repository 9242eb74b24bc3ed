// make bench-forwarders: requests per second through each forwarder, in one run, with the same
// load. The proxy under test runs alone on CPU 1; the agency and the load generator share CPU 0
// (taskset), so the contenders do not steal each other's CPU and the ratios mean something.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { binding, keySecret, manifestDir, provider, route } from '../test/helpers/manifests.ts';
import { CPU, output, pinned, printed, stop } from './processes.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const CONNECTIONS = process.env['BENCH_CONNECTIONS'] ?? '50';
const SECONDS = process.env['BENCH_SECONDS'] ?? '10';
const KEY = 'bench-only-key-0123456789abcdef';
const [AGENCY, PROXY] = [18500, 18501];

async function load(url: string, key?: string): Promise<{ rps: number; p50: number; p99: number; errors: number; non2xx: number }> {
  const child = pinned(CPU.load, NODE, [join(ROOT, 'bench/load.ts'), url, CONNECTIONS, SECONDS, '0', ...(key === undefined ? [] : [key])]);
  return JSON.parse((await output(child)).trim().split('\n').pop() as string);
}

function dataplaneManifests(): string {
  return manifestDir([
    provider('agency', `http://127.0.0.1:${AGENCY}`),
    route('person', 'agency', '/registry/v1/persons/{nationalId}'),
    keySecret('bench-keys', { k: KEY }),
    // Limits high enough never to reject: the limiter runs, it does not refuse.
    binding('bench', 'bench', [{ namespace: 'gov', name: 'person' }], {
      rateLimit: { requestsPerSecond: 1000000, burst: 1000000 },
      quota: { requests: 1000000000000, period: 'Month' },
    }),
  ]);
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function main(): Promise<void> {
  const agency = pinned(CPU.load, NODE, [join(ROOT, 'bench/agency.ts'), String(AGENCY)]);
  await printed(agency, 'ready');
  const path = '/registry/v1/persons/0012345678';
  const rows: Row[] = [];
  const measure = async (name: string, args: string[] | null, marker: string, url: string, key?: string): Promise<void> => {
    const proxy = args === null ? null : pinned(CPU.proxy, NODE, args);
    if (proxy !== null) await printed(proxy, marker);
    await load(url, key); // warm-up: JIT and pools
    const r = await load(url, key);
    rows.push({ name, ...r });
    process.stderr.write(`${name}: ${Math.round(r.rps)} req/s\n`);
    await stop(proxy);
  };
  try {
    await measure('direct', null, '', `http://127.0.0.1:${AGENCY}${path}`);
    await measure('http-proxy 1.18', [join(ROOT, 'bench/http-proxy.ts'), String(PROXY), `http://127.0.0.1:${AGENCY}`], 'ready', `http://127.0.0.1:${PROXY}${path}`);
    await measure('bare undici forwarder', [join(ROOT, 'bench/undici-forwarder.ts'), String(PROXY), `http://127.0.0.1:${AGENCY}`], 'ready', `http://127.0.0.1:${PROXY}${path}`);
    const audit = join(mkdtempSync(join(tmpdir(), 'gozargah-bench-audit-')), 'audit.jsonl');
    await measure(
      'gozargah dataplane (full pipeline)',
      [join(ROOT, 'dataplane/main.ts'), '--manifests', dataplaneManifests(), '--listen', `127.0.0.1:${PROXY}`, '--admin-listen', '127.0.0.1:0', '--audit-log', audit],
      '"listening"',
      `http://127.0.0.1:${PROXY}${path}`,
      KEY,
    );
  } finally {
    await stop(agency);
  }
  const by = (n: string): Row => rows.find((r) => r.name.startsWith(n)) as Row;
  const table = [
    `| contender | req/s | p50 ms | p99 ms | errors | non-2xx |`,
    `|---|---|---|---|---|---|`,
    ...rows.map((r) => `| ${r.name} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors} | ${r.non2xx} |`),
    '',
    `dataplane / http-proxy: ${(by('gozargah').rps / by('http-proxy').rps).toFixed(2)}`,
    `bare undici / http-proxy: ${(by('bare undici').rps / by('http-proxy').rps).toFixed(2)}`,
    `dataplane / bare undici: ${(by('gozargah').rps / by('bare undici').rps).toFixed(2)}`,
    '',
    `${CONNECTIONS} connections, ${SECONDS} s per contender after a warm-up run; proxy on CPU 1, agency and autocannon on CPU 0.`,
  ].join('\n');
  process.stdout.write(`${table}\n`);
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'forwarders.json'), `${JSON.stringify({ date: new Date().toISOString(), connections: CONNECTIONS, seconds: SECONDS, rows }, null, 2)}\n`);
  writeFileSync(join(dir, 'forwarders.md'), `${table}\n`);
}

await main();

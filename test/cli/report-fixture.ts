// The fixed data set of the report tests, written the two ways the bus writes it: audit files
// (dataplane/audit-log.ts auditLine, one line per transaction) and the fleet's Redis hashes
// (HINCRBY of the day and month hashes, SADD gozargah:buses), as the dataplane's flush does.
// Expected figures are computed here from the entries, independently of cli/report.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { BUSES_KEY, outcomeOf, usageField, usageKey } from '../../api/accounting/index.ts';
import { auditLine } from '../../dataplane/audit-log.ts';
import type { Transaction } from '../../dataplane/metering.ts';
import { startRedis, type RunningRedis } from '../helpers/redis.ts';
import type { Test } from 'tap';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');

/** [bus, start of the first transaction, provider, route, client, code, transactions (1 s apart)] */
export type Entry = [string, string, string, string, string, string, number];

export const ENTRIES: readonly Entry[] = [
  ['public', '2026-10-31T23:59:59.999Z', 'civil/registry', 'civil/birth-lookup', 'bank-a/app', 'ok', 1], // the day before
  ['public', '2026-11-01T00:00:00.000Z', 'civil/registry', 'civil/birth-lookup', 'bank-b/app', 'ok', 1], // the first instant
  ['public', '2026-11-02T08:00:00.000Z', 'civil/registry', 'civil/birth-lookup', 'bank-a/app', 'ok', 60],
  ['public', '2026-11-02T09:00:00.000Z', 'civil/registry', 'civil/birth-lookup', 'bank-b/app', 'ok', 25],
  ['internal', '2026-11-03T09:00:00.000Z', 'health/records', 'health/vaccination', 'ministry/portal', 'ok', 35],
  ['internal', '2026-11-03T10:00:00.000Z', 'health/records', 'health/vaccination', 'ministry/portal', 'upstream_unavailable', 5],
  ['internal', '2026-11-03T13:00:00.000Z', 'civil/registry', 'civil/birth-lookup', 'ministry/portal', 'ok', 10],
  ['public', '2026-11-05T10:00:00.000Z', 'civil/registry', 'civil/death-lookup', 'insurer/claims', 'ok', 30],
  ['public', '2026-11-05T11:00:00.000Z', 'civil/registry', 'civil/death-lookup', 'insurer/claims', 'upstream_timeout', 4],
  ['public', '2026-11-08T06:00:00.000Z', 'tax/ledger', 'tax/income', 'bank-a/app', 'ok', 2400], // thousands, grouped
  ['internal', '2026-11-09T10:00:00.000Z', 'post/address', 'post/zip', 'lone/client', 'ok', 1], // a share below 0.1%
  ['public', '2026-11-10T12:00:00.000Z', 'tax/ledger', 'tax/income', 'bank-a/app', 'ok', 40],
  ['public', '2026-11-10T13:00:00.000Z', 'tax/ledger', 'tax/income', 'bank-a/app', 'rate_limited', 12],
  ['public', '2026-11-12T14:00:00.000Z', 'tax/ledger', 'tax/income', 'bank-b/app', 'quota_exhausted', 8],
  ['public', '2026-11-12T15:00:00.000Z', 'tax/ledger', 'tax/income', 'bank-b/app', 'upstream_error', 3],
  ['internal', '2026-11-17T11:00:00.000Z', 'post/address', 'post/zip', 'ministry/portal', 'ok', 20],
  ['internal', '2026-11-17T12:00:00.000Z', 'post/address', 'post/zip', 'insurer/claims', 'ok', 20],
  ['internal', '2026-11-18T08:00:00.000Z', 'post/address', 'post/zip', 'insurer/claims', 'route_not_granted', 3],
  ['public', '2026-11-20T07:00:00.000Z', '', '', '', 'route_not_found', 5], // refused before the route was known
  ['public', '2026-11-20T07:30:00.000Z', 'civil/registry', 'civil/birth-lookup', '', 'credentials_missing', 6],
  ['internal', '2026-11-21T05:00:00.000Z', 'post/address', 'post/zip', 'archive/batch', 'ok', 38], // ties bank-b/app: 38
  ['public', '2026-11-25T16:00:00.000Z', 'civil/registry', 'civil/birth-lookup', 'bank-a/app', 'client_gone', 2],
  ['public', '2026-11-30T23:59:59.999Z', 'tax/ledger', 'tax/income', 'bank-b/app', 'ok', 1], // the last instant
  ['public', '2026-12-01T00:00:00.000Z', 'tax/ledger', 'tax/income', 'bank-a/app', 'ok', 9], // the day after
  ['internal', '2026-10-15T10:00:00.000Z', 'post/address', 'post/zip', 'archive/batch', 'ok', 4], // the month before
];

export const BUSES = ['internal', 'public'];

/** Each transaction of an entry: its start in ms (1 s apart, all on the entry's UTC day). */
function* transactions(e: Entry): Generator<number> {
  const first = Date.parse(e[1]);
  for (let i = 0; i < e[6]; i++) yield first + i * 1000;
}

/** The audit line the dataplane writes; withBus false: a record from before records named their bus. */
export function auditRecord(e: Entry, startMs: number, n: number, withBus = true): string {
  const [bus, , provider, route, client, code] = e;
  const tx = {
    requestId: `req-${bus}-${startMs}-${n}`,
    client,
    binding: client === '' ? '' : `${client.split('/')[0]}/${route.split('/')[1] ?? 'none'}`,
    provider,
    route,
    method: 'GET',
    status: code === 'ok' ? 200 : code === 'upstream_error' ? 502 : code === 'client_gone' ? 499 : 429,
    code,
    start: startMs,
    durationMs: 12.5,
    upstreamMs: 10,
    requestBytes: 0,
    responseBytes: 321,
    params: route === '' ? null : { id: String(n) },
    fields: null,
    requestHash: null,
    responseHash: null,
  } satisfies Transaction;
  return auditLine(tx, new Date(startMs).toISOString(), withBus ? `"bus":${JSON.stringify(bus)},` : '');
}

/** Every record of the entries that match, in start order. */
export function auditLines(entries: readonly Entry[], options: { bus?: string; withBus?: boolean } = {}): string[] {
  const records: [number, string][] = [];
  let n = 0;
  for (const e of entries) {
    if (options.bus !== undefined && e[0] !== options.bus) continue;
    for (const ms of transactions(e)) records.push([ms, auditRecord(e, ms, n++, options.withBus ?? true)]);
  }
  return records.sort((a, b) => a[0] - b[0]).map(([, line]) => line);
}

export const scratch = (): string => mkdtempSync(join(tmpdir(), 'gozargah-report-'));

/**
 * The data set in both forms for a test file: a real redis-server loaded with it, and the audit
 * files in a scratch directory; both removed when the test ends.
 */
export async function bothSources(t: Test): Promise<{ redis: RunningRedis; dir: string; files: string[] }> {
  const redis = await startRedis();
  t.teardown(() => redis.close());
  await loadRedis(redis.url);
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { redis, dir, files: writeAuditFiles(dir) };
}

/** The data set as the dataplane leaves it: public.log (plain) and internal.log.gz (rotated, compressed). */
export function writeAuditFiles(dir: string, entries: readonly Entry[] = ENTRIES): string[] {
  const publicFile = join(dir, 'public.log');
  const internalFile = join(dir, 'internal.log.gz');
  writeFileSync(publicFile, `${auditLines(entries, { bus: 'public' }).join('\n')}\n`);
  writeFileSync(internalFile, gzipSync(`${auditLines(entries, { bus: 'internal' }).join('\n')}\n`));
  return [publicFile, internalFile];
}

/** The data set as the dataplane's flush leaves it in Redis: HINCRBY of the day and month hashes. */
export async function loadRedis(url: string, entries: readonly Entry[] = ENTRIES, password?: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, password });
  await redis.connect();
  try {
    for (const e of entries) {
      const [bus, start, provider, route, client, code, count] = e;
      const field = usageField(provider, route, client, code);
      await redis
        .multi()
        .hincrby(usageKey(bus, start.slice(0, 10)), field, count)
        .hincrby(usageKey(bus, start.slice(0, 7)), field, count)
        .sadd(BUSES_KEY, bus)
        .exec();
    }
  } finally {
    redis.disconnect();
  }
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function flushRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  await redis.flushall();
  redis.disconnect();
}

/** Totals of the entries whose day is in [from, to] (and on `bus`), computed without cli/report. */
export function expected(from: string, to: string, bus?: string): { total: number; served: number; refused: number; agency_error: number; refusals: Record<string, number> } {
  const sums = { total: 0, served: 0, refused: 0, agency_error: 0, refusals: {} as Record<string, number> };
  for (const e of ENTRIES) {
    const day = e[1].slice(0, 10);
    if (day < from || day > to || (bus !== undefined && e[0] !== bus)) continue;
    const outcome = outcomeOf(e[5]);
    sums.total += e[6];
    sums[outcome] += e[6];
    if (outcome === 'refused') sums.refusals[e[5]] = (sums.refusals[e[5]] ?? 0) + e[6];
  }
  return sums;
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `gozargah report ...` as a process, with only the environment given (no GOZARGAH_* of the caller). */
export function report(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Run {
  const run = spawnSync(NODE, ['cli/main.ts', 'report', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env['PATH'] ?? '', ...options.env },
    input: options.input,
  });
  if (run.error !== undefined) throw run.error;
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

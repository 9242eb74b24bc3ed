// Usage rows from the dataplane's audit records (dataplane/audit-log.ts, one JSON line per
// transaction), streamed line by line: files of any size, rotated ones compressed (.gz), `-` for
// standard input. A transaction counts on the UTC day of its `start`, as the dataplane counts it
// in Redis. A line that cannot be read is reported and skipped, never fatal. The audit chain's
// own records (chain start, checkpoints: docs/decisions/0002-audit-evidence.md) carry a `type`,
// which transactions never do: they are skipped without a word.
//
// Records carry the bus they were served on (`bus`); older ones do not. Those are counted, under
// --bus when given (the file is taken to be that bus's log), and the report says how many.
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { dayLabel, type UsageRow } from '../../api/accounting/index.ts';
import { ReportFailure } from './errors.ts';
import type { RowSink, SourceRead, SourceRequest } from './sources.ts';

/** Malformed lines shown one by one; the rest are counted. */
export const SHOWN_WARNINGS = 5;

const FIELDS = ['provider', 'route', 'client', 'code'] as const;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T/;

export interface AuditRecord {
  bus: string | null;
  day: string;
  provider: string;
  route: string;
  client: string;
  code: string;
}

/** The record on a line, null for a record that is not a transaction, or why it cannot be counted. */
export function parseAuditLine(line: string): AuditRecord | string | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'not a JSON record';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const o = value as { [key: string]: unknown };
  if (o['type'] !== undefined) return null;
  const start = o['start'];
  if (typeof start !== 'string') return 'no "start" time';
  const ms = Date.parse(start);
  if (!ISO_TIME.test(start) || !Number.isFinite(ms)) return `"start" is not an RFC 3339 time: ${JSON.stringify(start).slice(0, 40)}`;
  for (const f of FIELDS) if (typeof o[f] !== 'string') return `no "${f}" string`;
  if (o['code'] === '') return '"code" is empty';
  const bus = o['bus'];
  if (bus !== undefined && (typeof bus !== 'string' || bus === '')) return '"bus" is not a bus name';
  return { bus: bus ?? null, day: dayLabel(ms), provider: o['provider'] as string, route: o['route'] as string, client: o['client'] as string, code: o['code'] as string };
}

async function input(file: string): Promise<Readable> {
  if (file === '-') return process.stdin;
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new ReportFailure(`cannot read audit file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const stream = handle.createReadStream();
  // pipeline carries a read error on to the gunzip stream, where the reader sees it.
  return file.endsWith('.gz') ? pipeline(stream, createGunzip(), () => {}) : stream;
}

export async function readAudit(files: readonly string[], req: SourceRequest, sink: RowSink): Promise<SourceRead> {
  const { from, to } = req.period;
  /** buses named by the records (any day), and whether some record names none */
  const named = new Set<string>();
  let someBusless = false;
  let malformed = 0;
  let busless = 0;
  for (const file of files) {
    const name = file === '-' ? '<stdin>' : file;
    const lines = createInterface({ input: await input(file), crlfDelay: Infinity });
    let n = 0;
    try {
      for await (const line of lines) {
        n++;
        if (line.trim() === '') continue;
        const r = parseAuditLine(line);
        if (r === null) continue;
        if (typeof r === 'string') {
          malformed++;
          if (malformed <= SHOWN_WARNINGS) req.warn(`warning: ${name}:${n}: ${r}`);
          continue;
        }
        if (r.bus === null) someBusless = true;
        else {
          named.add(r.bus);
          if (req.bus !== null && r.bus !== req.bus) continue;
        }
        if (r.day < from || r.day > to) continue;
        if (r.bus === null) busless++;
        const row: UsageRow = { bus: r.bus ?? req.bus ?? '', label: r.day, provider: r.provider, route: r.route, client: r.client, code: r.code, count: 1 };
        sink(row);
      }
    } catch (err) {
      throw new ReportFailure(`cannot read audit file ${name} after line ${n}: ${(err as Error).message}`);
    }
  }
  if (malformed > SHOWN_WARNINGS) req.warn(`warning: ${malformed - SHOWN_WARNINGS} more malformed line(s) not shown`);
  if (req.bus !== null && !named.has(req.bus) && named.size > 0 && !someBusless) {
    throw new ReportFailure(`unknown bus ${req.bus}: the audit records name ${[...named].sort().join(', ')}`);
  }
  const notes: string[] = [];
  if (malformed > 0) notes.push(`${malformed} audit line(s) could not be read and are not counted.`);
  if (busless > 0) notes.push(`${busless} audit record(s) name no bus (written before records carried one); they are counted${req.bus === null ? '' : ` as bus ${req.bus}`}.`);
  return { buses: req.bus !== null ? [req.bus] : [...named].sort(), notes };
}

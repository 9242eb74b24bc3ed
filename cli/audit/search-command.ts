// The command line and output of `gozargah audit search`. The value searched for is a person's
// identifier: it is never printed, not even in an error ("the value given" stands for it).
import { parseArgs } from 'node:util';
import { grouped } from '../report/render.ts';
import { renderTable } from '../table.ts';
import { AuditUsageError } from './errors.ts';
import type { AuditIo } from './io.ts';
import { searchAudit, type Lookup, type SearchOptions, type SearchResult } from './search.ts';
import { STDIN } from './text-input.ts';

export const SEARCH_USAGE = `gozargah audit search --param NAME=VALUE --pseudonym-key FILE [--pseudonym-key FILE]...
                      [--from YYYY-MM-DD] [--to YYYY-MM-DD] [-o table|json|csv] FILE...
  Lists the transactions that carried VALUE as path parameter NAME, or in a body field NAME (or
  one ending in .NAME), found by its pseudonym under each key given (the dataplane's
  --audit-pseudonym-key; give old keys too after a rotation). --from/--to: UTC days of the
  transaction's start, inclusive. FILE may be .gz or - (standard input). VALUE is never printed.`;

const FORMATS = ['table', 'json', 'csv'] as const;
type Format = (typeof FORMATS)[number];

function day(option: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (m === null || new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).toISOString().slice(0, 10) !== value) {
    throw new AuditUsageError(`${option} must be a UTC day of the calendar, YYYY-MM-DD; got ${JSON.stringify(value)}`);
  }
  return value;
}

function parseSearchArgs(argv: string[]): SearchOptions & { format: Format } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        param: { type: 'string' },
        'pseudonym-key': { type: 'string', multiple: true },
        from: { type: 'string' },
        to: { type: 'string' },
        output: { type: 'string', short: 'o' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    throw new AuditUsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  // Checked first: a mistake here must not end in a message that repeats the value.
  const param = values.param;
  if (param === undefined) throw new AuditUsageError('--param NAME=VALUE is required: the parameter or body field and the value to look for');
  const eq = param.indexOf('=');
  if (eq <= 0) throw new AuditUsageError('--param must be NAME=VALUE, with the parameter or field name before "="');
  if (eq === param.length - 1) throw new AuditUsageError('--param NAME=VALUE has an empty VALUE');
  const keys = values['pseudonym-key'] ?? [];
  if (keys.length === 0) throw new AuditUsageError('--pseudonym-key FILE is required: the key the dataplane made pseudonyms with (--audit-pseudonym-key)');
  const format = (values.output ?? 'table') as Format;
  if (!FORMATS.includes(format)) throw new AuditUsageError(`-o must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(values.output)}`);
  const from = day('--from', values.from);
  const to = day('--to', values.to);
  if (from !== null && to !== null && to < from) throw new AuditUsageError(`--to ${to} is before --from ${from}`);
  if (positionals.length === 0) throw new AuditUsageError('no audit files: give at least one FILE (or - for standard input)');
  if (positionals.filter((f) => f === STDIN).length > 1) throw new AuditUsageError('standard input (-) can be read once');
  return { files: positionals, name: param.slice(0, eq), value: param.slice(eq + 1), pseudonymKeys: keys, from, to, format };
}

const COLUMNS = ['time', 'bus', 'client', 'binding', 'route', 'method', 'status', 'code', 'requestId', 'chain', 'seq', 'field'] as const;

const cells = (l: Lookup): string[] => COLUMNS.map((c) => (l[c] === null ? '' : String(l[c])));

const csvCell = (s: string): string => (/[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

function period(from: string | null, to: string | null): string {
  if (from === null && to === null) return '';
  if (from === to) return ` on ${from}`;
  return from === null ? ` up to ${to}` : to === null ? ` from ${from}` : ` from ${from} to ${to}`;
}

function summary(r: SearchResult, name: string, from: string | null, to: string | null): string {
  const where = `in ${grouped(r.records)} records${period(from, to)}`;
  return r.lookups.length === 0
    ? `no lookups of ${name} found ${where} (searched for the value given)`
    : `${grouped(r.lookups.length)} lookup${r.lookups.length === 1 ? '' : 's'} of ${name} (the value given) ${where}`;
}

export async function searchCommand(argv: string[], io: AuditIo): Promise<number> {
  const { format, ...options } = parseSearchArgs(argv);
  const r = await searchAudit({ ...options, stdin: io.stdin });
  const line = summary(r, options.name, options.from, options.to);
  for (const n of r.notices) io.stderr(`notice: ${n}\n`);
  if (format === 'json') {
    io.stdout(`${JSON.stringify({ name: options.name, from: options.from, to: options.to, records: r.records, lookups: r.lookups, notices: r.notices }, null, 2)}\n`);
    io.stderr(`${line}\n`);
  } else if (format === 'csv') {
    io.stdout([COLUMNS.join(','), ...r.lookups.map((l) => cells(l).map(csvCell).join(','))].join('\n') + '\n');
    io.stderr(`${line}\n`);
  } else {
    const header = COLUMNS.map((c) => (c === 'requestId' ? 'REQUEST-ID' : c.toUpperCase()));
    io.stdout(r.lookups.length === 0 ? `${line}\n` : `${renderTable(header, r.lookups.map(cells))}\n\n${line}\n`);
  }
  return 0;
}

// The command line and output of `gozargah audit search`. The values searched for are people's
// identifiers: they are never printed, not even in an error or a notice (a value is named by its
// line in the list given, or as "the value given"). They are best given on standard input
// (--param NAME), or in a file (--param NAME=@FILE): a value on the command line (NAME=VALUE) is
// seen by every user of the machine (ps, /proc/PID/cmdline) and kept in shell history.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { grouped } from '../report/render.ts';
import { renderTable } from '../table.ts';
import { AuditFailure, AuditUsageError } from './errors.ts';
import type { AuditIo } from './io.ts';
import { searchAudit, type Lookup, type SearchOptions, type SearchResult } from './search.ts';
import { STDIN } from './text-input.ts';

export const SEARCH_USAGE = `gozargah audit search --param NAME --pseudonym-key FILE [--pseudonym-key FILE]...
                      [--from YYYY-MM-DD] [--to YYYY-MM-DD] [-o table|json|csv] FILE... < VALUES
  Lists the transactions that carried one of the VALUES as path parameter NAME, or in a body
  field NAME (or one ending in .NAME), found by its pseudonym under each key given (the
  dataplane's --audit-pseudonym-key; give old keys too after a rotation). --from/--to: UTC days
  of the transaction's start, inclusive. FILE may be .gz or - (standard input, when the values
  are not read from it).
  --param NAME         the values from standard input, one a line (blank lines ignored): the form
                       to prefer, as nothing of them is on the command line.
  --param NAME=@FILE   the values from FILE, one a line.
  --param NAME=VALUE   one value on the command line, where ps, /proc and the shell history show
                       it: avoid it for a person's ID.
  A value is never printed: with a list, each lookup names the line its value is on (VALUE-LINE).`;

const FORMATS = ['table', 'json', 'csv'] as const;
type Format = (typeof FORMATS)[number];

/**
 * A path parameter or body field name (api/v1alpha1's field paths). One of digits alone is
 * refused: that is a value given where the name goes, and it would be printed.
 */
const NAME = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+|\.\*)*$/;
const LOOKS_LIKE_A_VALUE = /^[\d\s.+-]*$/;

/** Where the values come from: the command line, a file, or standard input. */
type ValueSource = { from: 'argument'; value: string } | { from: 'file'; file: string } | { from: 'stdin' };

interface Values {
  values: string[];
  /** the line each value is on in the list (1 for a value on the command line) */
  lines: number[];
  /** a list was given (a file or standard input): each lookup names its value's line */
  list: boolean;
  /** where from, in words, for messages: "standard input", "the file of values" */
  where: string;
  notices: string[];
}

function day(option: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (m === null || new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).toISOString().slice(0, 10) !== value) {
    throw new AuditUsageError(`${option} must be a UTC day of the calendar, YYYY-MM-DD; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** NAME and where its values come from; the messages never repeat what was given. */
function parseParam(param: string | undefined): { name: string; source: ValueSource } {
  if (param === undefined) throw new AuditUsageError('--param NAME is required: the parameter or body field to look in (the values to look for on standard input, one a line)');
  const eq = param.indexOf('=');
  const name = eq < 0 ? param : param.slice(0, eq);
  if (name === '') throw new AuditUsageError('--param has no NAME: the parameter or field name goes before "="');
  if (!NAME.test(name) || LOOKS_LIKE_A_VALUE.test(name)) {
    throw new AuditUsageError('--param NAME must be a path parameter or body field name (such as nationalId or person.nationalId); a value goes on standard input (--param NAME < VALUES), not in place of NAME');
  }
  if (eq < 0) return { name, source: { from: 'stdin' } };
  const rest = param.slice(eq + 1);
  if (rest === '') throw new AuditUsageError('--param NAME=VALUE has an empty VALUE');
  if (rest.startsWith('@')) {
    if (rest.length === 1) throw new AuditUsageError('--param NAME=@FILE has no FILE');
    return { name, source: { from: 'file', file: rest.slice(1) } };
  }
  return { name, source: { from: 'argument', value: rest } };
}

function parseSearchArgs(argv: string[]): Omit<SearchOptions, 'values'> & { source: ValueSource; format: Format } {
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
    // parseArgs names an unknown option, never an option's value.
    throw new AuditUsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  // Checked first: a mistake here must not end in a message that repeats the value.
  const { name, source } = parseParam(values.param);
  const keys = values['pseudonym-key'] ?? [];
  if (keys.length === 0) throw new AuditUsageError('--pseudonym-key FILE is required: the key the dataplane made pseudonyms with (--audit-pseudonym-key)');
  const format = (values.output ?? 'table') as Format;
  if (!FORMATS.includes(format)) throw new AuditUsageError(`-o must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(values.output)}`);
  const from = day('--from', values.from);
  const to = day('--to', values.to);
  if (from !== null && to !== null && to < from) throw new AuditUsageError(`--to ${to} is before --from ${from}`);
  if (positionals.length === 0) throw new AuditUsageError('no audit files: give at least one FILE (or - for standard input)');
  const stdinFiles = positionals.filter((f) => f === STDIN).length;
  if (stdinFiles > 1) throw new AuditUsageError('standard input (-) can be read once');
  // A value given where the files go (--param NAME 0012345678 FILE) is not repeated in "cannot read".
  if (positionals.some((f) => LOOKS_LIKE_A_VALUE.test(f) && f !== STDIN && !existsSync(f))) {
    throw new AuditUsageError('an audit FILE given is digits alone and no such file exists: a value given where the files go? (not repeated here) Values go on standard input: --param NAME < VALUES');
  }
  if (stdinFiles > 0 && source.from === 'stdin') throw new AuditUsageError('standard input holds the values (--param NAME): an audit FILE cannot be - too; give the values with --param NAME=@FILE');
  return { files: positionals, name, source, pseudonymKeys: keys, from, to, format };
}

/** The values of a list, one a line: blank lines skipped, a value given twice searched once. */
function listOf(text: string, where: string): Values {
  const values: string[] = [];
  const lines: number[] = [];
  const seen = new Set<string>();
  /** lines of values with a space or tab before or after them */
  const spaced: number[] = [];
  let twice = 0;
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, i) => {
      const value = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (value.trim() === '') return;
      if (seen.has(value)) {
        twice++;
        return;
      }
      if (value.trim() !== value) spaced.push(i + 1);
      seen.add(value);
      values.push(value);
      lines.push(i + 1);
    });
  if (values.length === 0) throw new AuditUsageError(`no values from ${where}: give one a line (blank lines are ignored)`);
  const notices: string[] = [];
  if (spaced.length > 0) {
    const lines = `line${spaced.length === 1 ? '' : 's'} ${spaced.slice(0, 20).join(', ')}${spaced.length > 20 ? ` and ${grouped(spaced.length - 20)} more` : ''}`;
    notices.push(`the value${spaced.length === 1 ? '' : 's'} on ${lines} from ${where} ${spaced.length === 1 ? 'begins or ends' : 'begin or end'} with a space or tab: searched as given, spaces included`);
  }
  if (twice > 0) notices.push(`${twice === 1 ? 'a value' : `${grouped(twice)} values`} from ${where} ${twice === 1 ? 'is' : 'are'} given again on a later line: searched once, named by ${twice === 1 ? 'its' : 'their'} first line`);
  return { values, lines, list: true, where, notices };
}

async function readAll(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

async function valuesOf(source: ValueSource, io: AuditIo): Promise<Values> {
  if (source.from === 'argument') return { values: [source.value], lines: [1], list: false, where: 'the value given', notices: [] };
  if (source.from === 'file') {
    let text: string;
    try {
      text = await readFile(source.file, 'utf8');
    } catch (err) {
      // Not named: what follows "@" may be a value typed by mistake.
      throw new AuditFailure(`cannot read the file of values (--param NAME=@FILE): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return listOf(text, 'the file of values');
  }
  if ((io.stdin as Partial<NodeJS.ReadStream>).isTTY === true) io.stderr('reading the values to search for from standard input, one a line; end with Ctrl-D\n');
  return listOf(await readAll(io.stdin), 'standard input');
}

const COLUMNS = ['time', 'bus', 'client', 'binding', 'route', 'method', 'status', 'code', 'requestId', 'chain', 'seq', 'field'] as const;

/** A lookup as printed: the value by the line it is on in the list, never itself. */
type Row = Omit<Lookup, 'value'> & { valueLine?: number };

const rowOf = (l: Lookup, v: Values): Row => {
  const { value, ...row } = l;
  return v.list ? { ...row, valueLine: v.lines[value] as number } : row;
};

function cells(r: Row, list: boolean): string[] {
  const out = COLUMNS.map((c) => (r[c] === null ? '' : String(r[c])));
  if (list) out.push(String(r.valueLine));
  return out;
}

const csvCell = (s: string): string => (/[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

function period(from: string | null, to: string | null): string {
  if (from === null && to === null) return '';
  if (from === to) return ` on ${from}`;
  return from === null ? ` up to ${to}` : to === null ? ` from ${from}` : ` from ${from} to ${to}`;
}

/** The lines of the list whose values were not found. */
function notFound(r: SearchResult, v: Values): number[] {
  const found = new Set(r.lookups.map((l) => l.value));
  return v.lines.filter((_, i) => !found.has(i));
}

function summary(r: SearchResult, v: Values, name: string, from: string | null, to: string | null): string {
  const where = `in ${grouped(r.records)} records${period(from, to)}`;
  if (!v.list) {
    return r.lookups.length === 0
      ? `no lookups of ${name} found ${where} (searched for the value given)`
      : `${grouped(r.lookups.length)} lookup${r.lookups.length === 1 ? '' : 's'} of ${name} (the value given) ${where}`;
  }
  const given = `${v.values.length === 1 ? 'the value' : `the ${grouped(v.values.length)} values`} from ${v.where}`;
  if (r.lookups.length === 0) return `no lookups of ${name} found ${where} (searched for ${given})`;
  const missing = notFound(r, v);
  const shown = missing.slice(0, 20).join(', ');
  const none = missing.length === 0 ? '' : `; none for the value${missing.length === 1 ? '' : 's'} on line${missing.length === 1 ? '' : 's'} ${shown}${missing.length > 20 ? ` and ${grouped(missing.length - 20)} more` : ''}`;
  return `${grouped(r.lookups.length)} lookup${r.lookups.length === 1 ? '' : 's'} of ${name} (${given}) ${where}${none}`;
}

export async function searchCommand(argv: string[], io: AuditIo): Promise<number> {
  const { format, source, ...options } = parseSearchArgs(argv);
  const v = await valuesOf(source, io);
  const r = await searchAudit({ ...options, values: v.values, stdin: io.stdin });
  const line = summary(r, v, options.name, options.from, options.to);
  const notices = [...v.notices, ...r.notices];
  for (const n of notices) io.stderr(`notice: ${n}\n`);
  const rows = r.lookups.map((l) => rowOf(l, v));
  if (format === 'json') {
    const list = v.list ? { values: v.values.length, valueLinesNotFound: notFound(r, v) } : {};
    io.stdout(`${JSON.stringify({ name: options.name, from: options.from, to: options.to, ...list, records: r.records, lookups: rows, notices }, null, 2)}\n`);
    io.stderr(`${line}\n`);
  } else if (format === 'csv') {
    const header = v.list ? [...COLUMNS, 'valueLine'] : [...COLUMNS];
    io.stdout([header.join(','), ...rows.map((row) => cells(row, v.list).map(csvCell).join(','))].join('\n') + '\n');
    io.stderr(`${line}\n`);
  } else {
    const header = [...COLUMNS.map((c) => (c === 'requestId' ? 'REQUEST-ID' : c.toUpperCase())), ...(v.list ? ['VALUE-LINE'] : [])];
    io.stdout(rows.length === 0 ? `${line}\n` : `${renderTable(header, rows.map((row) => cells(row, v.list)))}\n\n${line}\n`);
  }
  return 0;
}

// The command line of `gozargah report`: where the counts come from (Redis or audit files), the
// period, the bus, how many names the top lists show and the output format.
import { parseArgs } from 'node:util';
import { REDIS_URL_ENV } from '../../api/accounting/index.ts';
import { ReportUsageError } from './errors.ts';
import { monthPeriod, rangePeriod, type Period } from './period.ts';

export type Source = { kind: 'redis'; url: string; passwordFile: string | null } | { kind: 'audit'; files: string[] };

export const FORMATS = ['table', 'markdown', 'csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

export interface ReportOptions {
  source: Source;
  period: Period;
  /** one bus, or null for every bus the source knows */
  bus: string | null;
  /** names in each top list */
  top: number;
  format: Format;
}

export const DEFAULT_TOP = 10;
const MAX_TOP = 1000;

function source(values: { redis?: string; 'redis-password-file'?: string; audit?: string[] }, positionals: string[], env: NodeJS.ProcessEnv): Source {
  const audit = values.audit === undefined ? [] : [...values.audit, ...positionals];
  if (audit.length === 0 && positionals.length > 0) throw new ReportUsageError(`unexpected argument ${positionals[0]} (audit files follow --audit)`);
  if (audit.length > 0 && values.redis !== undefined) throw new ReportUsageError('give either --redis or --audit, not both');
  if (audit.length > 0) {
    if (values['redis-password-file'] !== undefined) throw new ReportUsageError('--redis-password-file goes with --redis, not --audit');
    if (audit.filter((f) => f === '-').length > 1) throw new ReportUsageError('standard input (-) can be read once');
    return { kind: 'audit', files: audit };
  }
  const url = values.redis ?? env[REDIS_URL_ENV] ?? '';
  if (url === '') throw new ReportUsageError(`no source: give --redis URL (or ${REDIS_URL_ENV}) or --audit FILE...`);
  return { kind: 'redis', url, passwordFile: values['redis-password-file'] ?? null };
}

function period(values: { month?: string; from?: string; to?: string }): Period {
  if (values.month !== undefined) {
    if (values.from !== undefined || values.to !== undefined) throw new ReportUsageError('give either --month or --from/--to, not both');
    return monthPeriod(values.month);
  }
  if (values.from === undefined && values.to === undefined) throw new ReportUsageError('no period: give --month YYYY-MM or --from YYYY-MM-DD --to YYYY-MM-DD');
  if (values.from === undefined) throw new ReportUsageError('--to needs --from (the first day, inclusive)');
  if (values.to === undefined) throw new ReportUsageError('--from needs --to (the last day, inclusive)');
  return rangePeriod(values.from, values.to);
}

function top(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TOP;
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > MAX_TOP) throw new ReportUsageError(`--top must be a whole number from 1 to ${MAX_TOP}, got ${JSON.stringify(value)}`);
  return Number(value);
}

function format(value: string | undefined): Format {
  if (value === undefined) return 'table';
  if (!(FORMATS as readonly string[]).includes(value)) throw new ReportUsageError(`-o must be one of ${FORMATS.join(', ')}, not ${JSON.stringify(value)}`);
  return value as Format;
}

export function parseReportArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ReportOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        redis: { type: 'string' },
        'redis-password-file': { type: 'string' },
        audit: { type: 'string', multiple: true },
        month: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        bus: { type: 'string' },
        top: { type: 'string' },
        output: { type: 'string', short: 'o' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    throw new ReportUsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.bus === '') throw new ReportUsageError('--bus must name a bus');
  return {
    source: source(values, positionals, env),
    period: period(values),
    bus: values.bus ?? null,
    top: top(values.top),
    format: format(values.output),
  };
}

// The period a report covers: a UTC month (--month 2026-11) or an inclusive range of UTC days
// (--from 2026-11-03 --to 2026-11-17). Either way it is a list of days, so a month and the range
// of its days read the same counts.
import { dayLabel, DAY_USAGE_TTL_S } from '../../api/accounting/index.ts';
import { ReportUsageError } from './errors.ts';

export interface Period {
  /** first day, 2026-11-01 */
  from: string;
  /** last day, inclusive */
  to: string;
  /** 2026-11 when the period was given as a month, else null */
  month: string | null;
  /** every UTC day of the period, in order */
  days: string[];
}

/** The longest period: as long as Redis keeps day figures (400 days). */
export const MAX_DAYS = DAY_USAGE_TTL_S / 86_400;

const DAY_MS = 86_400_000;

/** ms of a YYYY-MM-DD day at 00:00 UTC, or an error naming the option and the value. */
function dayStart(option: string, value: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (m === null) throw new ReportUsageError(`${option} must be a UTC day YYYY-MM-DD, got ${JSON.stringify(value)}`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (dayLabel(ms) !== value) throw new ReportUsageError(`${option} ${value} is not a day of the calendar`);
  return ms;
}

function days(fromMs: number, toMs: number): string[] {
  const out: string[] = [];
  for (let ms = fromMs; ms <= toMs; ms += DAY_MS) out.push(dayLabel(ms));
  return out;
}

export function monthPeriod(value: string): Period {
  const m = /^(\d{4})-(\d{2})$/.exec(value);
  if (m === null || Number(m[2]) < 1 || Number(m[2]) > 12) throw new ReportUsageError(`--month must be a UTC month YYYY-MM (e.g. 2026-11), got ${JSON.stringify(value)}`);
  const year = Number(m[1]);
  const month = Number(m[2]) - 1;
  const all = days(Date.UTC(year, month, 1), Date.UTC(year, month + 1, 0));
  return { from: all[0] as string, to: all[all.length - 1] as string, month: value, days: all };
}

export function rangePeriod(from: string, to: string): Period {
  const fromMs = dayStart('--from', from);
  const toMs = dayStart('--to', to);
  if (toMs < fromMs) throw new ReportUsageError(`--to ${to} is before --from ${from}`);
  const count = (toMs - fromMs) / DAY_MS + 1;
  if (count > MAX_DAYS) throw new ReportUsageError(`--from ${from} --to ${to} spans ${count} days; a report covers at most ${MAX_DAYS} (Redis keeps day figures that long)`);
  return { from, to, month: null, days: days(fromMs, toMs) };
}

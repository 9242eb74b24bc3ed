// The report as text. Shares are exact fractions in json and csv; in table and markdown they are
// percents of one decimal, rounded half up from the counts themselves (so 1 of 2000 is 0.1%),
// with "<0.1%" for a share above zero that would read 0.0% and ">99.9%" for one below all that
// would read 100.0%. Counts are grouped by thousands (1,234) in table and markdown.
//
// csv is one table, so a spreadsheet reads it at once: section,rank,name,count,share,refused,
// refused_share,agency_errors,agency_error_share. Sections: period (name: from/to), bus, total,
// outcome, active (count: distinct names), provider, service, client (ranked), refusal (name: the
// code), note (name: the text). count is transactions everywhere but in `active`.
import type { Outcome } from '../../api/accounting/index.ts';
import type { Format } from './args.ts';
import type { Ranked, Report } from './aggregate.ts';

/** part of whole as a percent with one decimal, rounded half up, in integer arithmetic. */
export function percent(part: number, whole: number): string {
  if (whole === 0) return '0.0%';
  const tenths = Math.floor((part * 2000 + whole) / (2 * whole));
  if (tenths === 0 && part > 0) return '<0.1%';
  if (tenths === 1000 && part < whole) return '>99.9%';
  return `${Math.floor(tenths / 10)}.${tenths % 10}%`;
}

export const grouped = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

const OUTCOME_NAMES: Record<Outcome, string> = { served: 'served', refused: 'refused', agency_error: 'agency error' };
const OUTCOMES = Object.keys(OUTCOME_NAMES) as Outcome[];
const LISTS = ['providers', 'services', 'clients'] as const;

function periodText(r: Report): string {
  const p = r.period;
  const days = `${p.days} day${p.days === 1 ? '' : 's'}`;
  return p.month === null ? `${p.from} to ${p.to} (${days})` : `${p.month} (${p.from} to ${p.to}, ${days})`;
}

const busesText = (r: Report): string => (r.buses.length === 0 ? 'none' : r.buses.join(', '));

/** The rows shared by table and markdown: each table's header, right-aligned columns and cells. */
interface TextTable {
  title: string;
  header: string[];
  right: boolean[];
  rows: string[][];
}

function textTables(r: Report): TextTable[] {
  const total = r.transactions;
  const rankedRows = (list: Ranked[]): string[][] =>
    list.map((x, i) => [String(i + 1), x.name, grouped(x.transactions), percent(x.transactions, total), percent(x.refused, x.transactions), percent(x.agencyErrors, x.transactions)]);
  const rankedTable = (kind: string, list: Ranked[]): TextTable => ({
    title: `Top ${r.top.limit} ${kind}s`,
    header: ['#', kind, 'transactions', 'share', 'refused', 'agency errors'],
    right: [true, false, true, true, true, true],
    rows: rankedRows(list),
  });
  return [
    {
      title: 'Transactions',
      header: ['outcome', 'transactions', 'share'],
      right: [false, true, true],
      rows: [...OUTCOMES.map((o) => [OUTCOME_NAMES[o], grouped(r.outcomes[o].transactions), percent(r.outcomes[o].transactions, total)]), ['total', grouped(total), percent(total, total)]],
    },
    { title: 'Active', header: ['active', 'count'], right: [false, true], rows: LISTS.map((l) => [l, grouped(r.active[l])]) },
    rankedTable('provider', r.top.providers),
    rankedTable('service', r.top.services),
    rankedTable('client', r.top.clients),
    {
      title: 'Refusals by code',
      header: ['refusal code', 'transactions', 'share'],
      right: [false, true, true],
      rows: r.refusals.map((x) => [x.code, grouped(x.transactions), percent(x.transactions, total)]),
    },
  ];
}

function aligned(t: TextTable): string {
  const header = t.header.map((h) => h.toUpperCase());
  const widths = header.map((h, i) => Math.max(h.length, ...t.rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (t.right[i] === true ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('   ').trimEnd();
  return [line(header), ...t.rows.map(line)].join('\n');
}

export function renderText(r: Report): string {
  const tables = textTables(r).map((t) => (t.title.startsWith('Top ') ? `${t.title.toUpperCase()}\n${aligned(t)}` : aligned(t)));
  const notes = r.notes.map((n) => `note: ${n}`);
  return [`Gozargah report for ${periodText(r)}\nBuses: ${busesText(r)}`, ...tables, ...(notes.length > 0 ? [notes.join('\n')] : [])].join('\n\n') + '\n';
}

const mdCell = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
const capitalized = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function markdownTable(t: TextTable): string {
  const row = (cells: string[]): string => `| ${cells.map(mdCell).join(' | ')} |`;
  // The two summary tables read as prose: capitalized names, the total in bold.
  const summary = t.title === 'Transactions' || t.title === 'Active';
  const rows = summary ? t.rows.map(([name, ...rest]) => [capitalized(name ?? ''), ...rest]) : t.rows;
  if (t.title === 'Transactions') rows[rows.length - 1] = (rows[rows.length - 1] ?? []).map((c) => `**${c}**`);
  return [
    `### ${t.title}`,
    '',
    row(t.header.map((h) => (h === '#' ? h : capitalized(h)))),
    `| ${t.right.map((right) => (right ? '--:' : ':--')).join(' | ')} |`,
    ...rows.map(row),
  ].join('\n');
}

export function renderMarkdown(r: Report): string {
  const notes = r.notes.map((n) => `> Note: ${n}`).join('\n>\n');
  return [
    `## Gozargah report: ${r.period.month ?? `${r.period.from} to ${r.period.to}`}`,
    `${r.period.from} to ${r.period.to}, ${r.period.days} day${r.period.days === 1 ? '' : 's'} (UTC). Buses: ${busesText(r)}.`,
    ...textTables(r).map(markdownTable),
    ...(notes === '' ? [] : [notes]),
  ].join('\n\n') + '\n';
}

const csvCell = (v: string | number | null): string => {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export const CSV_HEADER = ['section', 'rank', 'name', 'count', 'share', 'refused', 'refused_share', 'agency_errors', 'agency_error_share'] as const;

export function renderCsv(r: Report): string {
  type Row = [string, number | null, string, ...(number | null)[]];
  const rows: Row[] = [];
  const none = [null, null, null, null] as const;
  const total = r.transactions;
  const share = (n: number): number => (total === 0 ? 0 : n / total);
  rows.push(['period', null, `${r.period.from}/${r.period.to}`, r.period.days, ...[null, ...none]]);
  for (const bus of r.buses) rows.push(['bus', null, bus, null, ...[null, ...none]]);
  const refused = r.outcomes.refused.transactions;
  const agency = r.outcomes.agency_error.transactions;
  rows.push(['total', null, 'all', total, total === 0 ? 0 : 1, refused, share(refused), agency, share(agency)]);
  for (const o of OUTCOMES) rows.push(['outcome', null, o, r.outcomes[o].transactions, r.outcomes[o].share, ...none]);
  for (const l of LISTS) rows.push(['active', null, l, r.active[l], ...[null, ...none]]);
  for (const l of LISTS) {
    r.top[l].forEach((x, i) => rows.push([l.slice(0, -1), i + 1, x.name, x.transactions, x.share, x.refused, x.refusedShare, x.agencyErrors, x.agencyErrorShare]));
  }
  r.refusals.forEach((x, i) => rows.push(['refusal', i + 1, x.code, x.transactions, x.share, ...none]));
  for (const n of r.notes) rows.push(['note', null, n, null, ...[null, ...none]]);
  return [CSV_HEADER.join(','), ...rows.map((row) => row.map(csvCell).join(','))].join('\n') + '\n';
}

export const renderJson = (r: Report): string => `${JSON.stringify(r, null, 2)}\n`;

export function render(r: Report, format: Format): string {
  switch (format) {
    case 'table':
      return renderText(r);
    case 'markdown':
      return renderMarkdown(r);
    case 'csv':
      return renderCsv(r);
    case 'json':
      return renderJson(r);
  }
}

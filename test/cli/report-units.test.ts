// The pure parts of `gozargah report`: periods, the rounding of shares, the order of the top
// lists, the audit line parser on what the dataplane writes, and the escaping of names in csv
// and markdown.
import t from 'tap';
import { auditLine } from '../../dataplane/audit-log.ts';
import type { Transaction } from '../../dataplane/metering.ts';
import { buildReport, Tally, type CountedRow } from '../../cli/report/aggregate.ts';
import { parseAuditLine } from '../../cli/report/audit-source.ts';
import { monthPeriod, rangePeriod } from '../../cli/report/period.ts';
import { grouped, percent, renderCsv, renderMarkdown } from '../../cli/report/render.ts';

t.test('a month is its UTC days; a range is inclusive', async (t) => {
  t.same(monthPeriod('2028-02').days.length, 29, 'a leap February');
  t.same(monthPeriod('2026-02').days.length, 28);
  const december = monthPeriod('2026-12');
  t.same([december.from, december.to, december.month], ['2026-12-01', '2026-12-31', '2026-12']);
  t.same(rangePeriod('2026-12-30', '2027-01-02').days, ['2026-12-30', '2026-12-31', '2027-01-01', '2027-01-02']);
  t.same(rangePeriod('2026-11-05', '2026-11-05').days, ['2026-11-05'], 'one day');
  t.same(rangePeriod('2026-11-01', '2026-11-30').days, monthPeriod('2026-11').days, 'a month is the range of its days');
  t.throws(() => monthPeriod('2026-00'), /--month must be a UTC month/);
  t.throws(() => rangePeriod('2026-04-31', '2026-05-01'), /--from 2026-04-31 is not a day of the calendar/);
});

t.test('percent: one decimal, half up, from the counts; never 0.0% or 100.0% for a part that is not', async (t) => {
  const cases: [number, number, string][] = [
    [0, 0, '0.0%'],
    [0, 5, '0.0%'],
    [5, 5, '100.0%'],
    [1, 3, '33.3%'],
    [2, 3, '66.7%'],
    [1, 8, '12.5%'],
    [1, 2000, '0.1%'], // 0.05% exactly: half up
    [1, 2001, '<0.1%'],
    [1999, 2000, '>99.9%'], // 99.95%
    [1997, 2000, '99.9%'], // 99.85%: half up
    [4_000_000_000, 8_000_000_001, '50.0%'],
  ];
  for (const [part, whole, text] of cases) t.equal(percent(part, whole), text, `${part} of ${whole}`);
  t.same([0, 999, 1000, 1234567].map(grouped), ['0', '999', '1,000', '1,234,567']);
});

const row = (provider: string, route: string, client: string, code: string, count: number): CountedRow => ({ provider, route, client, code, count });
const META = { period: monthPeriod('2026-11'), buses: ['b'], top: 10, notes: [] };

t.test('top lists: count descending, then name in code-point order; empty names are not listed', async (t) => {
  const tally = new Tally();
  for (const r of [
    row('p/a', 'r/1', 'c/zeta', 'ok', 5),
    row('p/a', 'r/1', 'c/Alpha', 'ok', 5), // upper case sorts first in code-point order
    row('p/a', 'r/1', 'c/alpha', 'ok', 5),
    row('p/a', 'r/1', 'c/alpha', 'ok', 2), // the same cell again: summed
    row('p/b', 'r/2', 'c/zeta', 'upstream_error', 3),
    row('', '', '', 'route_not_found', 4),
    row('p/a', 'r/1', '', 'credentials_missing', 1),
    row('p/a', 'r/1', 'c/zeta', 'ok', 0), // nothing
  ]) {
    tally.add(r);
  }
  const r = buildReport(tally.rows(), META);
  t.equal(r.transactions, 25);
  t.same(r.top.clients.map((c) => [c.name, c.transactions]), [['c/zeta', 8], ['c/alpha', 7], ['c/Alpha', 5]]);
  t.same(r.top.providers.map((p) => p.name), ['p/a', 'p/b']);
  t.same(r.active, { providers: 2, services: 2, clients: 3 });
  t.same(r.refusals.map((x) => [x.code, x.transactions]), [['route_not_found', 4], ['credentials_missing', 1]], 'agency errors are not refusals');
  const zeta = r.top.clients[0];
  t.equal(zeta?.agencyErrorShare, 3 / 8, "shares of refusals and agency errors are of the name's own transactions");
  t.equal(zeta?.share, 8 / 25);
  t.same(r.outcomes.agency_error, { transactions: 3, share: 3 / 25 });
  t.same(buildReport([], META).notes, ['No transactions in the period on b.']);
});

t.test('the bus\'s own documents are not transactions: left out, and the note says how many', async (t) => {
  const tally = new Tally();
  tally.add(row('civil/registry', 'civil/birth', 'c/a', 'ok', 3));
  tally.add(row('gozargah', 'gozargah/catalogue', 'c/a', 'ok', 2));
  tally.add(row('gozargah', 'gozargah/openapi', 'c/a', 'ok', 1));
  const r = buildReport(tally.rows(), META);
  t.equal(r.transactions, 3);
  t.same(r.active, { providers: 1, services: 1, clients: 1 });
  t.same(r.notes, ["3 request(s) for the bus's own documents (catalogue, OpenAPI) are not counted as transactions."]);
});

t.test('the audit parser reads what the dataplane writes, with and without the bus', async (t) => {
  const tx: Transaction = {
    requestId: 'r-1', client: 'bank/app', binding: 'bank/b', provider: 'civil/registry', route: 'civil/birth', method: 'GET', status: 200, code: 'ok',
    start: Date.parse('2026-11-30T23:59:59.999Z'), durationMs: 3, upstreamMs: 2, requestBytes: 0, responseBytes: 10, params: { id: '1' }, fields: null, requestHash: null, responseHash: null,
  };
  const want = { day: '2026-11-30', provider: 'civil/registry', route: 'civil/birth', client: 'bank/app', code: 'ok' };
  t.same(parseAuditLine(auditLine(tx, new Date(tx.start).toISOString(), '"bus":"public",')), { bus: 'public', ...want });
  t.same(parseAuditLine(auditLine(tx, new Date(tx.start).toISOString(), '')), { bus: null, ...want });
  t.same(parseAuditLine(auditLine({ ...tx, start: Date.parse('2026-12-01T00:00:00.000Z') }, '2026-12-01T00:00:00.000Z', '')), { bus: null, ...want, day: '2026-12-01' });
  t.same((parseAuditLine('{"start":"2026-11-02T00:00:00+03:30","provider":"","route":"","client":"","code":"x"}') as { day: string }).day, '2026-11-01', 'an offset is read as the UTC instant');
  t.equal(parseAuditLine('{"start":"2026-11-02T00:00:00Z","provider":"","route":"","client":"","code":""}'), '"code" is empty');
  t.equal(parseAuditLine('{"bus":"","start":"2026-11-02T00:00:00Z","provider":"","route":"","client":"","code":"ok"}'), '"bus" is not a bus name');
  t.equal(parseAuditLine('null'), 'not a JSON object');
});

t.test('names are escaped: csv quotes, markdown pipes', async (t) => {
  const tally = new Tally();
  tally.add(row('p|q', 'r', 'say "hi", then', 'ok', 2));
  const r = buildReport(tally.rows(), META);
  t.match(renderCsv(r), '\nclient,1,"say ""hi"", then",2,1,0,0,0,0\n');
  t.match(renderMarkdown(r), '| 1 | p\\|q | 2 | 100.0% | 0.0% | 0.0% |');
});

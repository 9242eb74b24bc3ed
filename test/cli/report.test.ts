// `gozargah report` on the fixed data set (report-fixture.ts), loaded into a real redis-server
// the way the dataplane's flush writes it and written as the dataplane's audit files: both
// sources give the same report, byte for byte, in every format, and that report is the golden
// one under fixtures/report/golden (UPDATE_GOLDEN=1 rewrites them; read the diff before
// committing). The figures are also checked against sums computed from the entries directly.
import t, { type Test } from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bothSources, BUSES, expected, report, ROOT } from './report-fixture.ts';

const GOLDEN = join(ROOT, 'test/cli/fixtures/report/golden');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

interface JsonReport {
  period: { from: string; to: string; month: string | null; days: number };
  buses: string[];
  transactions: number;
  outcomes: Record<'served' | 'refused' | 'agency_error', { transactions: number; share: number }>;
  active: { providers: number; services: number; clients: number };
  top: { limit: number; providers: { name: string; transactions: number }[]; services: { name: string; transactions: number }[]; clients: { name: string; transactions: number }[] };
  refusals: { code: string; transactions: number; share: number }[];
  notes: string[];
}

const { redis, files } = await bothSources(t);

function golden(t: Test, name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (UPDATE) {
    writeFileSync(file, actual);
    t.pass(`rewrote ${name}`);
    return;
  }
  t.ok(existsSync(file), `${name} exists (UPDATE_GOLDEN=1 writes it)`);
  t.equal(actual, readFileSync(file, 'utf8'), `${name} is unchanged`);
}

function json(args: string[]): JsonReport {
  const run = report([...args, '-o', 'json']);
  if (run.status !== 0) throw new Error(`exit ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as JsonReport;
}

const FORMATS: [string, string][] = [['table', 'month.txt'], ['markdown', 'month.md'], ['csv', 'month.csv'], ['json', 'month.json']];

for (const [format, name] of FORMATS) {
  t.test(`-o ${format}: Redis and the audit files give the golden report`, async (t) => {
    const fromRedis = report(['--redis', redis.url, '--month', '2026-11', '-o', format]);
    const fromAudit = report(['--audit', ...files, '--month', '2026-11', '-o', format]);
    t.equal(fromRedis.status, 0, fromRedis.stderr);
    t.equal(fromAudit.status, 0, fromAudit.stderr);
    t.equal(fromAudit.stderr, '', 'the audit files read cleanly');
    t.equal(fromAudit.stdout, fromRedis.stdout, 'the same bytes from both sources');
    golden(t, name, fromRedis.stdout);
  });
}

t.test('a period without data: the golden report of zeros, from both sources', async (t) => {
  const fromRedis = report(['--redis', redis.url, '--month', '2025-01']);
  const fromAudit = report(['--audit', ...files, '--month', '2025-01']);
  t.equal(fromRedis.status, 0, fromRedis.stderr);
  t.equal(fromAudit.stdout, fromRedis.stdout);
  golden(t, 'empty.txt', fromRedis.stdout);
});

t.test('the JSON report: the same object from both sources, with the figures of the entries', async (t) => {
  const fromRedis = json(['--redis', redis.url, '--month', '2026-11']);
  const fromAudit = json(['--audit', ...files, '--month', '2026-11']);
  t.same(fromAudit, fromRedis);
  const want = expected('2026-11-01', '2026-11-30');
  t.equal(fromRedis.transactions, want.total);
  t.equal(fromRedis.outcomes.served.transactions, want.served);
  t.equal(fromRedis.outcomes.refused.transactions, want.refused);
  t.equal(fromRedis.outcomes.agency_error.transactions, want.agency_error);
  t.equal(fromRedis.outcomes.served.share, want.served / want.total, 'shares are raw fractions');
  t.same(Object.fromEntries(fromRedis.refusals.map((r) => [r.code, r.transactions])), want.refusals);
  t.same(fromRedis.buses, BUSES, 'both buses, reported together');
  t.same(fromRedis.period, { from: '2026-11-01', to: '2026-11-30', month: '2026-11', days: 30 });
  // civil/registry serves on both buses: one provider, its counts summed.
  t.same(fromRedis.top.providers.map((p) => p.name), ['tax/ledger', 'civil/registry', 'post/address', 'health/records']);
  t.same(fromRedis.active, { providers: 4, services: 5, clients: 6 }, 'empty ids (refused before known) are not active names');
  // archive/batch and bank-b/app both have 38: the name breaks the tie.
  const clients = fromRedis.top.clients.map((c) => `${c.name}=${c.transactions}`);
  t.ok(clients.indexOf('archive/batch=38') + 1 === clients.indexOf('bank-b/app=38'), clients.join(' '));
  t.same(fromRedis.notes, []);
});

t.test('a month and the range of its days agree; a range counts its days only', async (t) => {
  for (const source of [['--redis', redis.url], ['--audit', ...files]]) {
    const month = json([...source, '--month', '2026-11']);
    const range = json([...source, '--from', '2026-11-01', '--to', '2026-11-30']);
    t.same({ ...range, period: { ...range.period, month: '2026-11' } }, month, `${source[0]}: same figures`);
    t.equal(range.period.month, null);
    const part = json([...source, '--from', '2026-11-03', '--to', '2026-11-17']);
    const want = expected('2026-11-03', '2026-11-17');
    t.equal(part.transactions, want.total, `${source[0]}: the range's total`);
    t.equal(part.outcomes.refused.transactions, want.refused);
    t.same(part.period, { from: '2026-11-03', to: '2026-11-17', month: null, days: 15 });
  }
  const one = json(['--redis', redis.url, '--from', '2026-11-30', '--to', '2026-11-30']);
  t.equal(one.transactions, 1, 'the last instant of the month counts on its last day');
  t.same(json(['--audit', ...files, '--from', '2026-11-03', '--to', '2026-11-17']), json(['--redis', redis.url, '--from', '2026-11-03', '--to', '2026-11-17']));
});

t.test('--bus reports one bus, the same from both sources', async (t) => {
  for (const bus of BUSES) {
    const fromRedis = json(['--redis', redis.url, '--month', '2026-11', '--bus', bus]);
    t.same(json(['--audit', ...files, '--month', '2026-11', '--bus', bus]), fromRedis, bus);
    t.same(fromRedis.buses, [bus]);
    t.equal(fromRedis.transactions, expected('2026-11-01', '2026-11-30', bus).total);
  }
});

t.test('--top N shortens the lists, never the counts', async (t) => {
  const all = json(['--redis', redis.url, '--month', '2026-11']);
  const two = json(['--redis', redis.url, '--month', '2026-11', '--top', '2']);
  t.equal(two.top.limit, 2);
  t.same(two.top.providers, all.top.providers.slice(0, 2));
  t.same(two.top.clients, all.top.clients.slice(0, 2));
  t.same(two.top.services, all.top.services.slice(0, 2));
  t.same(two.active, all.active);
  t.equal(two.transactions, all.transactions);
  const table = report(['--redis', redis.url, '--month', '2026-11', '--top', '2']);
  t.match(table.stdout, /^TOP 2 CLIENTS$/m);
});

t.test('GOZARGAH_REDIS_URL stands for --redis', async (t) => {
  const run = report(['--month', '2026-11', '-o', 'json'], { env: { GOZARGAH_REDIS_URL: redis.url } });
  t.equal(run.status, 0, run.stderr);
  t.same(JSON.parse(run.stdout), json(['--redis', redis.url, '--month', '2026-11']));
});

t.test('audit records from standard input (-), the plain file read from stdin', async (t) => {
  const publicFile = files[0] as string;
  const fromStdin = report(['--audit', '-', '--month', '2026-11', '-o', 'json'], { input: readFileSync(publicFile, 'utf8') });
  t.equal(fromStdin.status, 0, fromStdin.stderr);
  t.same(JSON.parse(fromStdin.stdout), json(['--audit', publicFile, '--month', '2026-11']));
  t.same((JSON.parse(fromStdin.stdout) as JsonReport).buses, ['public']);
});

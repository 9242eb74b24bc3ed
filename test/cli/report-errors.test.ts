// `gozargah report` when something is wrong: each usage error and failure names what is wrong and
// exits 2 without a stack trace; a period without data is a report of zeros with a note (exit 0);
// malformed audit lines are reported by file and line and skipped; Redis figures that disagree
// or are not numbers are said in the report.
import t, { type Test } from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { usageField, usageKey } from '../../api/accounting/index.ts';
import { startRedis } from '../helpers/redis.ts';
import { auditLines, bothSources, closedPort, ENTRIES, expected, loadRedis, report, type Run } from './report-fixture.ts';

const { redis, dir, files } = await bothSources(t);
const month = ['--month', '2026-11'];

/** exit 2, one `gozargah report: ...` line first, nothing on stdout, no stack trace */
function failsWith(t: Test, run: Run, message: string, usage: boolean): void {
  t.equal(run.status, 2, `exit 2 (stderr: ${run.stderr})`);
  t.equal(run.stdout, '', 'nothing on stdout');
  t.equal(run.stderr.split('\n')[0], `gozargah report: ${message}`);
  t.equal(run.stderr.includes('Usage:'), usage, usage ? 'the usage follows' : 'no usage for a failure');
  t.notMatch(run.stderr, /^\s+at /m, 'no stack trace');
}

t.test('usage errors name the option and the value', async (t) => {
  const f = files[0] as string;
  const cases: [string[], string][] = [
    [['--audit', f], 'no period: give --month YYYY-MM or --from YYYY-MM-DD --to YYYY-MM-DD'],
    [month, 'no source: give --redis URL (or GOZARGAH_REDIS_URL) or --audit FILE...'],
    [['--redis', redis.url, '--audit', f, ...month], 'give either --redis or --audit, not both'],
    [['--audit', f, '--month', '2026-13'], '--month must be a UTC month YYYY-MM (e.g. 2026-11), got "2026-13"'],
    [['--audit', f, '--month', '11/2026'], '--month must be a UTC month YYYY-MM (e.g. 2026-11), got "11/2026"'],
    [['--audit', f, '--month', '2026-11', '--from', '2026-11-01', '--to', '2026-11-02'], 'give either --month or --from/--to, not both'],
    [['--audit', f, '--from', '2026-11-17', '--to', '2026-11-03'], '--to 2026-11-03 is before --from 2026-11-17'],
    [['--audit', f, '--from', '2026-11-03'], '--from needs --to (the last day, inclusive)'],
    [['--audit', f, '--to', '2026-11-03'], '--to needs --from (the first day, inclusive)'],
    [['--audit', f, '--from', '2026-02-30', '--to', '2026-03-01'], '--from 2026-02-30 is not a day of the calendar'],
    [['--audit', f, '--from', '2026-11-3', '--to', '2026-11-04'], '--from must be a UTC day YYYY-MM-DD, got "2026-11-3"'],
    [['--audit', f, '--from', '2025-01-01', '--to', '2026-12-31'], '--from 2025-01-01 --to 2026-12-31 spans 730 days; a report covers at most 400 (Redis keeps day figures that long)'],
    [['--audit', f, ...month, '--top', '0'], '--top must be a whole number from 1 to 1000, got "0"'],
    [['--audit', f, ...month, '--top', 'ten'], '--top must be a whole number from 1 to 1000, got "ten"'],
    [['--audit', f, ...month, '-o', 'xml'], '-o must be one of table, markdown, csv, json, not "xml"'],
    [['--audit', f, ...month, '--bus', ''], '--bus must name a bus'],
    [['--redis', redis.url, ...month, 'extra'], 'unexpected argument extra (audit files follow --audit)'],
    [['--audit', '-', '-', ...month], 'standard input (-) can be read once'],
    [['--audit', f, '--redis-password-file', f, ...month], '--redis-password-file goes with --redis, not --audit'],
  ];
  for (const [args, message] of cases) failsWith(t, report(args), message, true);
  const unknown = report(['--audit', f, '--months', '2026-11']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /^gozargah report: Unknown option '--months'/);
});

t.test('Redis unreachable: the URL without its password, the cause, exit 2', async (t) => {
  const port = await closedPort();
  const run = report(['--redis', `redis://reporter:hunter2@127.0.0.1:${port}/0`, ...month]);
  failsWith(t, run, `cannot reach Redis at redis://127.0.0.1:${port}/0: connect ECONNREFUSED 127.0.0.1:${port}`, false);
  t.notMatch(run.stderr, 'hunter2', 'the password is never shown');
  failsWith(t, report(['--redis', 'http://127.0.0.1:6379', ...month]), 'the Redis URL http://127.0.0.1:6379/ has scheme http; use redis, rediss, unix or redis-sentinel', false);
});

t.test('an unknown bus names the buses there are', async (t) => {
  failsWith(t, report(['--redis', redis.url, ...month, '--bus', 'nope']), `unknown bus nope: Redis at ${redis.url} has usage of internal, public`, false);
  failsWith(t, report(['--redis', `${redis.url}/1`, ...month, '--bus', 'nope']), `unknown bus nope: Redis at ${redis.url}/1 has usage of no bus yet`, false);
  failsWith(t, report(['--audit', ...files, ...month, '--bus', 'nope']), 'unknown bus nope: the audit records name internal, public', false);
});

t.test('an audit file that cannot be read is named', async (t) => {
  failsWith(t, report(['--audit', join(dir, 'missing.log'), ...month]), `cannot read audit file ${join(dir, 'missing.log')}: ENOENT`, false);
  const sub = join(dir, 'a-directory');
  mkdirSync(sub, { recursive: true });
  failsWith(t, report(['--audit', sub, ...month]), `cannot read audit file ${sub} after line 0: EISDIR: illegal operation on a directory, read`, false);
  const notGzip = join(dir, 'plain.log.gz');
  writeFileSync(notGzip, 'not gzip\n');
  failsWith(t, report(['--audit', notGzip, ...month]), `cannot read audit file ${notGzip} after line 0: incorrect header check`, false);
});

t.test('no data in the period: a report of zeros and a note, exit 0', async (t) => {
  for (const source of [['--redis', redis.url], ['--audit', ...files]]) {
    const run = report([...source, '--month', '2025-01', '-o', 'json']);
    t.equal(run.status, 0, run.stderr);
    const r = JSON.parse(run.stdout) as { transactions: number; outcomes: { served: { share: number } }; top: { providers: unknown[] }; refusals: unknown[]; notes: string[]; buses: string[] };
    t.equal(r.transactions, 0);
    t.equal(r.outcomes.served.share, 0, 'a share of nothing is 0, not NaN');
    t.same(r.top.providers, []);
    t.same(r.refusals, []);
    t.same(r.buses, ['internal', 'public']);
    t.same(r.notes, ['No transactions in the period on internal, public.']);
  }
  const empty = report(['--redis', `${redis.url}/1`, ...month]);
  t.equal(empty.status, 0, 'an empty Redis is a report of zeros too');
  t.match(empty.stdout, /^Buses: none$/m);
  t.match(empty.stdout, /^total\s+0\s+0\.0%$/m);
  t.match(empty.stdout, /^note: No transactions in the period\.$/m);
});

t.test('malformed audit lines: the first five by file and line, then a count; the rest is counted', async (t) => {
  const good = auditLines(ENTRIES, { bus: 'public' });
  const bad = [
    '{"requestId":"cut-off",',
    '[1,2,3]',
    '{"requestId":"r","bus":"public","durationMs":1,"provider":"p","route":"r","client":"c","code":"ok"}',
    '{"requestId":"r","bus":"public","start":"yesterday","provider":"p","route":"r","client":"c","code":"ok"}',
    '{"requestId":"r","bus":"public","start":"2026-11-02T00:00:00.000Z","provider":"p","route":"r","client":"c"}',
    '{"requestId":"r","bus":"public","start":"2026-11-02T00:00:00.000Z","provider":"p","route":"r","client":"c","code":7}',
    '{"requestId":"r","bus":7,"start":"2026-11-02T00:00:00.000Z","provider":"p","route":"r","client":"c","code":"ok"}',
  ];
  // The bad lines among the good ones (lines 3, 6, 9, ... of the file), an empty line, and a last line cut off with no newline.
  const lines: string[] = [];
  good.forEach((line, i) => {
    lines.push(line);
    if (i % 2 === 1 && bad.length > 0) lines.push(bad.shift() as string);
  });
  lines.splice(1, 0, '');
  const file = join(dir, 'malformed.log');
  writeFileSync(file, `${lines.join('\n')}\n{"requestId":"last","bus":"pub`);
  const goodSet = new Set(good);
  const badLines = lines.map((l, i) => [l, i + 1] as const).filter(([l]) => l !== '' && !goodSet.has(l)).map(([, n]) => n);
  t.equal(badLines.length, 7);
  const run = report(['--audit', file, ...month, '-o', 'json']);
  t.equal(run.status, 0, 'a report all the same');
  const warnings = run.stderr.trimEnd().split('\n');
  t.same(warnings, [
    `warning: ${file}:${badLines[0]}: not a JSON record`,
    `warning: ${file}:${badLines[1]}: not a JSON object`,
    `warning: ${file}:${badLines[2]}: no "start" time`,
    `warning: ${file}:${badLines[3]}: "start" is not an RFC 3339 time: "yesterday"`,
    `warning: ${file}:${badLines[4]}: no "code" string`,
    'warning: 3 more malformed line(s) not shown',
  ]);
  const r = JSON.parse(run.stdout) as { transactions: number; notes: string[] };
  t.equal(r.transactions, expected('2026-11-01', '2026-11-30', 'public').total, 'every good line counted, no bad one');
  t.same(r.notes, ['8 audit line(s) could not be read and are not counted.']);
});

t.test('records from before the bus field: counted, as --bus when given, and said', async (t) => {
  const file = join(dir, 'old-format.log');
  writeFileSync(file, `${auditLines(ENTRIES, { bus: 'public', withBus: false }).join('\n')}\n`);
  const n = expected('2026-11-01', '2026-11-30', 'public').total;
  const run = report(['--audit', file, ...month, '--bus', 'public', '-o', 'json']);
  t.equal(run.status, 0, run.stderr);
  const old = JSON.parse(run.stdout) as Record<string, unknown>;
  t.same(old['notes'], [`${n} audit record(s) name no bus (written before records carried one); they are counted as bus public.`]);
  const fromRedis = JSON.parse(report(['--redis', redis.url, ...month, '--bus', 'public', '-o', 'json']).stdout) as Record<string, unknown>;
  t.same({ ...old, notes: [] }, fromRedis, 'the same figures as Redis has for the bus');
  const all = JSON.parse(report(['--audit', file, ...month, '-o', 'json']).stdout) as { buses: string[]; transactions: number; notes: string[] };
  t.same(all.buses, [], 'no bus is named');
  t.equal(all.transactions, n);
  t.match(all.notes[0], `${n} audit record(s) name no bus (written before records carried one); they are counted.`);
});

t.test('Redis figures that disagree or are not numbers are said in the report', async (t) => {
  const url = `${redis.url}/2`;
  await loadRedis(url);
  const client = new Redis(url, { lazyConnect: true });
  await client.connect();
  t.teardown(() => client.disconnect());
  const lost = await client.hlen(usageKey('public', '2026-11-02'));
  t.ok(lost > 0);
  await client.del(usageKey('public', '2026-11-02'));
  await client.hset(usageKey('internal', '2026-11-09'), usageField('post/address', 'post/zip', 'x/y', 'ok'), 'many');
  const run = report(['--redis', url, ...month, '-o', 'json']);
  t.equal(run.status, 0, run.stderr);
  t.equal(run.stderr, 'warning: 1 usage field(s) in Redis hold no whole number and are not counted\n');
  const r = JSON.parse(run.stdout) as { transactions: number; notes: string[] };
  const publicTotal = expected('2026-11-01', '2026-11-30', 'public').total;
  t.equal(r.transactions, expected('2026-11-01', '2026-11-30').total - 85, 'the day hash lost: 60 + 25 transactions');
  t.same(r.notes, [
    `Bus public: the day figures sum to ${publicTotal - 85} transactions, the month figure (gozargah:{public}:usage:2026-11) says ${publicTotal}; day figures are kept 400 days. This report counts the days.`,
    '1 usage field(s) in Redis held no whole number and are not counted.',
  ]);
});

t.test('the Redis password: from a file or GOZARGAH_REDIS_PASSWORD; a wrong or missing one is named', async (t) => {
  const locked = await startRedis({ password: 's3cret-pass' });
  t.teardown(() => locked.close());
  await loadRedis(locked.url, ENTRIES, 's3cret-pass');
  const file = join(dir, 'redis-password');
  writeFileSync(file, 's3cret-pass\n');
  const withFile = report(['--redis', locked.url, '--redis-password-file', file, ...month, '-o', 'json']);
  t.equal(withFile.status, 0, withFile.stderr);
  t.equal((JSON.parse(withFile.stdout) as { transactions: number }).transactions, expected('2026-11-01', '2026-11-30').total);
  const withEnv = report(['--redis', locked.url, ...month, '-o', 'json'], { env: { GOZARGAH_REDIS_PASSWORD: 's3cret-pass' } });
  t.equal(withEnv.stdout, withFile.stdout);
  const wrong = report(['--redis', locked.url, ...month], { env: { GOZARGAH_REDIS_PASSWORD: 'wrong' } });
  failsWith(t, wrong, `cannot reach Redis at ${locked.url}: WRONGPASS invalid username-password pair or user is disabled.`, false);
  const none = report(['--redis', locked.url, ...month]);
  t.equal(none.status, 2);
  t.match(none.stderr, new RegExp(`^gozargah report: (cannot reach|reading) Redis at ${locked.url}.*NOAUTH`));
  failsWith(t, report(['--redis', locked.url, '--redis-password-file', join(dir, 'nope'), ...month]), `the Redis password file ${join(dir, 'nope')} cannot be read: ENOENT`, false);
});

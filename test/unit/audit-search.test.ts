// `gozargah audit search` on synthetic chains written to real files: a national ID is found by
// its pseudonym across files and chains, as a path parameter and as a body field, within
// --from/--to; several IDs are searched in one pass, read from standard input or a file, not the
// command line; and no clear value appears anywhere in what the command prints.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { searchAudit, type SearchOptions } from '../../cli/audit/search.ts';
import { makeKeys, SyntheticChain, tempDir, writeLines } from '../helpers/audit-evidence.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');

const ID = '0012345678';
const OTHER = '0099999999';
const day = (d: number, h: number): number => Date.parse(`2026-12-0${d}T${String(h).padStart(2, '0')}:00:00.000Z`);

const dir = tempDir(t);
const keys = makeKeys(dir);
const oldKeys = makeKeys(dir, 'old');

// Replica dp-0 across two days and a rotation; replica dp-1 under the old pseudonym key.
const a = new SyntheticChain({ keys, replica: 'dp-0', startMs: day(1, 8) });
a.tx({ startMs: day(1, 9), client: 'bank-a/app', route: 'civil/person', params: { nationalId: ID }, sensitive: ['nationalId'] });
a.tx({ startMs: day(1, 10), client: 'bank-a/app', route: 'civil/person', params: { nationalId: OTHER }, sensitive: ['nationalId'] });
a.tx({ startMs: day(1, 11), client: 'insurer/claims', route: 'civil/lookup', method: 'POST', fields: { 'person.nationalId': [ID] } });
a.tx({ startMs: day(1, 12), client: 'insurer/claims', route: 'civil/batch', method: 'POST', fields: { 'items.*.nationalId': [OTHER, ID] } });
a.tx({ startMs: day(1, 13), client: 'bank-b/app', route: 'civil/other', params: { personId: ID }, sensitive: ['personId'] }); // another parameter name
a.rotate();
a.tx({ startMs: day(2, 9), client: 'bank-b/app', route: 'civil/person', status: 404, code: 'not_found', params: { nationalId: ID }, sensitive: ['nationalId'] });
a.txs(50);
a.shutdown();
const b = new SyntheticChain({ keys: oldKeys, replica: 'dp-1', startMs: day(1, 7) });
b.tx({ startMs: day(1, 8), client: 'ministry/portal', route: 'civil/person', params: { nationalId: ID }, sensitive: ['nationalId'] });
b.txs(10);
b.shutdown();
const files = [writeLines(dir, 'dp-0.log.1.gz', a.files[0] as string[]), writeLines(dir, 'dp-0.log', a.files[1] as string[]), writeLines(dir, 'dp-1.log', b.lines)];

const search = (o: Partial<SearchOptions>) => searchAudit({ files, name: 'nationalId', values: [ID], pseudonymKeys: [keys.pseudonymKeyFile, oldKeys.pseudonymKeyFile], from: null, to: null, ...o });

t.test('finds every lookup, by path parameter and body field, across files and chains, sorted by time', async (t) => {
  const r = await search({});
  t.same(
    r.lookups.map((l) => [l.time, l.client, l.route, l.field, l.chain === a.id ? 'a' : 'b']),
    [
      ['2026-12-01T08:00:00.000Z', 'ministry/portal', 'civil/person', 'params.nationalId', 'b'],
      ['2026-12-01T09:00:00.000Z', 'bank-a/app', 'civil/person', 'params.nationalId', 'a'],
      ['2026-12-01T11:00:00.000Z', 'insurer/claims', 'civil/lookup', 'person.nationalId', 'a'],
      ['2026-12-01T12:00:00.000Z', 'insurer/claims', 'civil/batch', 'items.*.nationalId', 'a'],
      ['2026-12-02T09:00:00.000Z', 'bank-b/app', 'civil/person', 'params.nationalId', 'a'],
    ],
  );
  t.match(r.lookups[4], { status: 404, code: 'not_found', method: 'GET', bus: 'public', binding: 'bank-b/app-binding', seq: 8 });
  t.equal(r.records, 5 + 1 + 50 + 1 + 10, 'every transaction read');
  t.same(r.notices, [], 'both pseudonym keys given');

  const personField = await search({ name: 'person.nationalId' });
  t.same(personField.lookups.map((l) => l.field), ['person.nationalId'], 'a full field path names that field only');
  const withoutOld = await search({ pseudonymKeys: [keys.pseudonymKeyFile] });
  t.equal(withoutOld.lookups.length, 4, 'the chain under the old key is not found without it');
  t.match(withoutOld.notices.join('\n'), new RegExp(`chain ${b.id} .* recorded pseudonyms under key id [0-9a-f]{16}, which none of the --pseudonym-key given has`));
});

t.test('--from and --to are UTC days, inclusive', async (t) => {
  t.same((await search({ from: '2026-12-02' })).lookups.map((l) => l.time), ['2026-12-02T09:00:00.000Z']);
  t.equal((await search({ to: '2026-12-01' })).lookups.length, 4);
  t.equal((await search({ from: '2026-12-01', to: '2026-12-01' })).lookups.length, 4);
  t.equal((await search({ from: '2026-12-03' })).lookups.length, 0);
});

t.test('the CLI never prints the value: not in results, not when nothing is found, not in errors', async (t) => {
  const run = (...args: string[]) => spawnSync(NODE, ['cli/main.ts', 'audit', 'search', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  const keyArgs = ['--pseudonym-key', keys.pseudonymKeyFile, '--pseudonym-key', oldKeys.pseudonymKeyFile];
  const runs = {
    table: run('--param', `nationalId=${ID}`, ...keyArgs, ...files),
    json: run('--param', `nationalId=${ID}`, ...keyArgs, '-o', 'json', ...files),
    csv: run('--param', `nationalId=${ID}`, ...keyArgs, '-o', 'csv', ...files),
    none: run('--param', `nationalId=${ID}`, ...keyArgs, '--from', '2026-12-05', ...files),
    badDay: run('--param', `nationalId=${ID}`, ...keyArgs, '--from', '2026-02-30', ...files),
    noKey: run('--param', `nationalId=${ID}`, ...files),
    noName: run('--param', `=${ID}`, ...keyArgs, ...files),
    noEquals: run('--param', ID, ...keyArgs, ...files),
    valueAsFile: run('--param', 'nationalId', ...keyArgs, ID, ...files),
  };
  for (const [name, r] of Object.entries(runs)) {
    t.notMatch(r.stdout + r.stderr, ID, `${name}: the value is nowhere in the output`);
  }
  t.equal(runs.table.status, 0, runs.table.stderr);
  t.match(runs.table.stdout, /TIME\s+BUS\s+CLIENT\s+BINDING\s+ROUTE\s+METHOD\s+STATUS\s+CODE\s+REQUEST-ID\s+CHAIN\s+SEQ\s+FIELD/);
  t.match(runs.table.stdout, /5 lookups of nationalId \(the value given\) in 67 records/);
  t.equal((JSON.parse(runs.json.stdout) as { lookups: unknown[] }).lookups.length, 5);
  t.equal(runs.csv.stdout.split('\n')[0], 'time,bus,client,binding,route,method,status,code,requestId,chain,seq,field');
  t.equal(runs.csv.stdout.trim().split('\n').length, 6);
  t.equal(runs.none.status, 0, 'nothing found is not an error');
  t.match(runs.none.stdout, /no lookups of nationalId found in 67 records from 2026-12-05/);
  for (const name of ['badDay', 'noKey', 'noName', 'noEquals', 'valueAsFile'] as const) t.equal(runs[name].status, 2, `${name}: a usage error`);
  t.match(runs.badDay.stderr, /--from must be a UTC day of the calendar/);
  t.match(runs.noKey.stderr, /--pseudonym-key FILE is required/);
  t.match(runs.noEquals.stderr, /--param NAME must be a path parameter or body field name .*a value goes on standard input/);
  t.match(runs.valueAsFile.stderr, /an audit FILE given is digits alone/);
});

t.test('several values in one pass: each lookup names its value, one lookup per value a record carries', async (t) => {
  const r = await search({ values: [OTHER, ID] });
  t.same(
    r.lookups.map((l) => [l.time, l.field, l.value]),
    [
      ['2026-12-01T08:00:00.000Z', 'params.nationalId', 1],
      ['2026-12-01T09:00:00.000Z', 'params.nationalId', 1],
      ['2026-12-01T10:00:00.000Z', 'params.nationalId', 0],
      ['2026-12-01T11:00:00.000Z', 'person.nationalId', 1],
      ['2026-12-01T12:00:00.000Z', 'items.*.nationalId', 0],
      ['2026-12-01T12:00:00.000Z', 'items.*.nationalId', 1],
      ['2026-12-02T09:00:00.000Z', 'params.nationalId', 1],
    ],
  );
  // Beyond a few pseudonyms, every pseudonym in a chunk is looked up instead: the same lookups.
  const many = await search({ values: [OTHER, ID, ...Array.from({ length: 20 }, (_, i) => String(5e9 + i))] });
  t.same(many.lookups, r.lookups);
});

t.test('the CLI takes the values from standard input, from a file, or (not preferred) the command line, and prints none', async (t) => {
  const run = (input: string | undefined, ...args: string[]) => spawnSync(NODE, ['cli/main.ts', 'audit', 'search', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, input });
  const keyArgs = ['--pseudonym-key', keys.pseudonymKeyFile, '--pseudonym-key', oldKeys.pseudonymKeyFile];
  // Blank lines, a CRLF line end and a value given twice: lines 2 and 4 hold the values.
  const list = `\n${OTHER}\r\n\n${ID}\n   \n${OTHER}\n`;
  const valuesFile = join(dir, 'ids.txt');
  writeFileSync(valuesFile, list);
  const runs = {
    stdin: run(list, '--param', 'nationalId', ...keyArgs, ...files),
    file: run(undefined, '--param', `nationalId=@${valuesFile}`, ...keyArgs, ...files),
    json: run(list, '--param', 'nationalId', ...keyArgs, '-o', 'json', ...files),
    csv: run(list, '--param', 'nationalId', ...keyArgs, '-o', 'csv', ...files),
    argument: run(undefined, '--param', `nationalId=${ID}`, ...keyArgs, ...files),
    partly: run(`${ID}\n5000000000\n`, '--param', 'nationalId', ...keyArgs, ...files),
    empty: run('\n \n', '--param', 'nationalId', ...keyArgs, ...files),
    stdinTwice: run(list, '--param', 'nationalId', ...keyArgs, '-'),
    noFile: run(undefined, '--param', `nationalId=@${join(dir, 'missing.txt')}`, ...keyArgs, ...files),
  };
  for (const [name, r] of Object.entries(runs)) {
    for (const value of [ID, OTHER, '5000000000']) t.notOk(r.stdout.includes(value) || r.stderr.includes(value), `${name}: no value searched for is in the output`);
  }
  t.equal(runs.stdin.status, 0, runs.stdin.stderr);
  t.match(runs.stdin.stdout, /TIME\s+BUS\s+.*\s+FIELD\s+VALUE-LINE\n/);
  t.match(runs.stdin.stdout, /7 lookups of nationalId \(the 2 values from standard input\) in 67 records\n/);
  t.match(runs.stdin.stderr, /notice: a value from standard input is given again on a later line: searched once, named by its first line/);
  t.equal(runs.file.status, 0, runs.file.stderr);
  t.match(runs.file.stdout, /7 lookups of nationalId \(the 2 values from the file of values\) in 67 records/);
  t.same(runs.file.stdout.replace(/from the file of values/, 'from standard input'), runs.stdin.stdout, 'a file and standard input: the same lookups');
  const json = JSON.parse(runs.json.stdout) as { values: number; valueLinesNotFound: number[]; lookups: { valueLine: number; field: string }[] };
  t.same([json.values, json.valueLinesNotFound], [2, []]);
  t.same(json.lookups.map((l) => l.valueLine), [4, 4, 2, 4, 2, 4, 4], 'each lookup names the line of its value');
  t.equal(runs.csv.stdout.split('\n')[0], 'time,bus,client,binding,route,method,status,code,requestId,chain,seq,field,valueLine');
  t.equal(runs.argument.status, 0, runs.argument.stderr);
  t.notMatch(runs.argument.stdout, /VALUE-LINE/, 'one value on the command line: no list, no line column');
  t.match(runs.argument.stdout, /5 lookups of nationalId \(the value given\)/);
  t.match(runs.partly.stdout, /5 lookups of nationalId \(the 2 values from standard input\) in 67 records; none for the value on line 2/);
  t.equal(runs.empty.status, 2);
  t.match(runs.empty.stderr, /no values from standard input: give one a line \(blank lines are ignored\)/);
  t.equal(runs.stdinTwice.status, 2);
  t.match(runs.stdinTwice.stderr, /standard input holds the values/);
  t.equal(runs.noFile.status, 2);
  t.match(runs.noFile.stderr, /cannot read the file of values \(--param NAME=@FILE\): ENOENT/);

  const help = spawnSync(NODE, ['cli/main.ts', 'audit', 'search', '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.match(help.stdout, /gozargah audit search --param NAME --pseudonym-key FILE/);
  t.match(help.stdout, /--param NAME +the values from standard input, one a line \(blank lines ignored\): the form\s+to prefer/);
  t.match(help.stdout, /--param NAME=VALUE +one value on the command line, where ps, \/proc and the shell history show/);
});

t.test('throughput (a figure, not an assertion)', async (t) => {
  const c = new SyntheticChain({ keys });
  for (let i = 0; i < 100_000; i++) c.tx({ params: { nationalId: String(1e9 + i) }, sensitive: ['nationalId'] });
  c.shutdown();
  const file = writeLines(dir, 'big.log', c.lines);
  const r = await searchAudit({ files: [file], name: 'nationalId', values: [String(1e9 + 500)], pseudonymKeys: [keys.pseudonymKeyFile], from: null, to: null });
  t.equal(r.lookups.length, 1);
  t.comment(`search: ${r.records} records in ${r.seconds.toFixed(2)} s, ${Math.round(r.records / r.seconds)} records/s`);
});

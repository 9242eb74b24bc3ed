// The real `gozargah` command, run as a process with the project's Node 24: exit codes, what it
// prints on stdout and stderr, and that its output parses.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { checkSnapshot, type Snapshot } from '../../api/snapshot/index.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const FIXTURES = 'test/cli/fixtures';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function gozargah(...args: string[]): Run {
  return gozargahWith(undefined, ...args);
}

/** With `input` on standard input. */
function gozargahWith(input: string | undefined, ...args: string[]): Run {
  const run = spawnSync(NODE, ['cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, input });
  if (run.error !== undefined) throw run.error;
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** namespace/name of every Gozargah object in examples/, read independently of the CLI. */
function exampleObjects(): string[] {
  const ids: string[] = [];
  for (const file of readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(ROOT, 'examples', file), 'utf8'))) {
      const obj = doc.toJS() as { apiVersion?: string; metadata: { name: string; namespace?: string } } | null;
      if (obj?.apiVersion === 'gozargah.io/v1alpha1') ids.push(`${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`);
    }
  }
  return ids;
}

interface CompileOutput {
  snapshots: Record<string, Snapshot>;
  statuses: { kind: string; metadata: { namespace: string; name: string }; status: { conditions: { type: string; status: string }[] } }[];
}

t.test('validate -f examples/ accepts every object and lists it', async (t) => {
  const run = gozargah('validate', '-f', 'examples/');
  t.equal(run.status, 0, run.stderr);
  const ids = exampleObjects();
  t.ok(ids.length >= 10, `${ids.length} objects in examples/`);
  for (const id of ids) t.match(run.stdout, id, `lists ${id}`);
  t.match(run.stdout, /^KIND\s+NAMESPACE\/NAME\s+FILE\s+ACCEPTED\s+RESOLVEDREFS\s+REASON$/m, 'a kubectl-style header');
  t.match(run.stdout, 'examples/10-civil-registry.yaml#2', 'the file and document each object came from');
  t.match(run.stdout, `All ${ids.length} objects accepted.`);
  t.equal(run.stderr, '', 'nothing on stderr');
});

t.test('validate reports an object that is not accepted, with its file', async (t) => {
  const file = `${FIXTURES}/missing-provider.yaml`;
  const run = gozargah('validate', '-f', file);
  t.equal(run.status, 1);
  t.match(run.stdout, 'ProviderNotFound: ServiceProvider agency/registry does not exist.');
  t.match(run.stdout, `${file}#1`);
  t.match(run.stdout, '1 of 1 objects not accepted.');
});

t.test('a misspelt kind or apiVersion is an error with a suggestion, never a silent skip', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-typo-'));
  const good = readFileSync(join(ROOT, 'examples/10-civil-registry.yaml'), 'utf8');
  writeFileSync(join(dir, 'good.yaml'), good);
  writeFileSync(
    join(dir, 'typos.yaml'),
    ['apiVersion: gozargah.io/v1alpha1\nkind: ClientBindng\nmetadata: { name: a, namespace: b }', 'apiVersion: gozargah.io/v1\nkind: InquiryRoute\nmetadata: { name: a, namespace: b }', 'apiVersion: gozargah.io/v1alpha1\nkind: Gateway\nmetadata: { name: a, namespace: b }', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: a }'].join('\n---\n'),
  );
  const run = gozargah('validate', '-f', dir);
  t.equal(run.status, 1, 'exit 1: the good objects do not hide the mistakes');
  t.match(run.stderr, 'typos.yaml (document 1): apiVersion gozargah.io/v1alpha1, kind ClientBindng is not a Gozargah kind: did you mean apiVersion gozargah.io/v1alpha1, kind ClientBinding?');
  t.match(run.stderr, 'typos.yaml (document 2): apiVersion gozargah.io/v1, kind InquiryRoute is not a Gozargah kind: did you mean apiVersion gozargah.io/v1alpha1, kind InquiryRoute?');
  t.match(run.stderr, "typos.yaml (document 3): apiVersion gozargah.io/v1alpha1, kind Gateway is not a Gozargah kind: Gozargah's kinds are ServiceProvider, InquiryRoute, ClientBinding");
  t.match(run.stderr, 'note: skipped', 'what is simply not Gozargah\'s is a note');
  t.match(run.stdout, /3 unreadable document\(s\)/);
  const compiled = gozargah('compile', '-f', dir);
  t.equal(compiled.status, 1, 'compile fails the same way');
});

t.test('nothing to validate is a failure, not "All 0 objects accepted"', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-empty-'));
  writeFileSync(join(dir, 'deploy.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: a }\n');
  const run = gozargah('validate', '-f', dir);
  t.equal(run.status, 1);
  t.match(run.stdout, `No ServiceProvider, InquiryRoute or ClientBinding found in ${dir}.`);
  t.notMatch(run.stdout, 'All 0');
});

t.test('a YAML syntax error names the file and the document', async (t) => {
  const file = `${FIXTURES}/syntax-error.yaml`;
  const run = gozargah('validate', '-f', file);
  t.equal(run.status, 1);
  t.match(run.stderr, `error: ${file} (document 2): YAML error:`);
  t.match(run.stdout, 'agency/registry', 'the readable document is still checked');
  t.match(run.stdout, '1 unreadable document(s)');
});

t.test('an object defined twice is an error naming both places', async (t) => {
  const run = gozargah('validate', '-f', `${FIXTURES}/twice`);
  t.equal(run.status, 1);
  t.match(
    run.stderr,
    `error: ${FIXTURES}/twice/b.yaml (document 2): ServiceProvider/agency/registry is defined twice: first in ${FIXTURES}/twice/a.yaml document 1`,
  );
});

t.test('compile -f examples -o json prints snapshots and statuses', async (t) => {
  const run = gozargah('compile', '-f', 'examples', '-o', 'json');
  t.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout) as CompileOutput;
  t.same(Object.keys(out).sort(), ['snapshots', 'statuses']);
  t.same(Object.keys(out.snapshots).sort(), ['internal', 'public'], 'one snapshot per bus');
  for (const [bus, snapshot] of Object.entries(out.snapshots)) {
    t.equal(snapshot.bus, bus);
    t.same(checkSnapshot(snapshot), [], `the ${bus} snapshot passes the dataplane's check`);
  }
  t.same(out.statuses.map((s) => `${s.metadata.namespace}/${s.metadata.name}`).sort(), exampleObjects().sort(), 'a status per object');
  for (const s of out.statuses) {
    const accepted = s.status.conditions.find((c) => c.type === 'Accepted');
    t.equal(accepted?.status, 'True', `${s.kind} ${s.metadata.namespace}/${s.metadata.name} is accepted`);
  }
});

t.test('compile -o yaml parses to the same snapshots', async (t) => {
  const yamlRun = gozargah('compile', '-f', 'examples', '-o', 'yaml');
  t.equal(yamlRun.status, 0, yamlRun.stderr);
  const fromYaml = parse(yamlRun.stdout) as CompileOutput;
  const fromJson = JSON.parse(gozargah('compile', '-f', 'examples').stdout) as CompileOutput;
  t.same(fromYaml.snapshots, fromJson.snapshots, 'the same snapshots as -o json (the default)');
  t.equal(fromYaml.statuses.length, fromJson.statuses.length);
});

t.test('usage errors exit 2', async (t) => {
  const noInput = gozargah('compile');
  t.equal(noInput.status, 2);
  t.match(noInput.stderr, 'gozargah: no input: give at least one -f PATH');
  t.match(noInput.stderr, 'Usage:');
  t.equal(noInput.stdout, '', 'nothing on stdout');

  const badFormat = gozargah('compile', '-f', 'examples', '-o', 'xml');
  t.equal(badFormat.status, 2);
  t.match(badFormat.stderr, '-o must be json or yaml, not xml');

  const unknownFlag = gozargah('validate', '--filename-typo', 'examples');
  t.equal(unknownFlag.status, 2);
  t.match(unknownFlag.stderr, 'Usage:');

  const missingPath = gozargah('validate', '-f', `${FIXTURES}/does-not-exist.yaml`);
  t.equal(missingPath.status, 2);
  t.match(missingPath.stderr, 'does-not-exist.yaml');

  const noCommand = gozargah();
  t.equal(noCommand.status, 2);
  t.match(noCommand.stdout, 'Usage:');
});

t.test('-f - reads standard input: the examples piped in are all accepted; a misspelt kind is named', async (t2) => {
  const piped = readdirSync(join(ROOT, 'examples'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `${readFileSync(join(ROOT, 'examples', f), 'utf8')}\n---\n`)
    .join('');
  const ok = gozargahWith(piped, 'validate', '-f', '-');
  t2.equal(ok.status, 0, ok.stderr);
  t2.match(ok.stdout, `All ${exampleObjects().length} objects accepted.`);
  t2.match(ok.stdout, /<stdin>#\d+/, 'the FILE column names standard input and the document');
  const typo = gozargahWith('apiVersion: gozargah.io/v1alpha1\nkind: ClientBindng\nmetadata: { name: x, namespace: y }\n', 'validate', '-f', '-');
  t2.equal(typo.status, 1);
  t2.match(typo.stderr, /<stdin> \(document 1\): .*ClientBinding/);
  const empty = gozargahWith('', 'validate', '-f', '-');
  t2.equal(empty.status, 1);
  t2.match(empty.stdout, /found in standard input/);
});

t.test('--version, and --help for each command', async (t2) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const v = gozargah('--version');
  t2.equal(v.status, 0);
  t2.match(v.stdout, `gozargah ${pkg.version} (Node v24.`);
  for (const command of ['validate', 'compile', 'report', 'audit']) {
    const help = gozargah(command, '--help');
    t2.equal(help.status, 0, `${command} --help: ${help.stderr}`);
    t2.match(help.stdout, new RegExp(`^Usage:?\\s[^]*gozargah ${command === 'audit' ? 'audit verify' : command}`), `${command} --help prints its usage`);
  }
});

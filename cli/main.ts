#!/usr/bin/env node
// gozargah: check and compile Gozargah manifests without a cluster.
//   gozargah validate -f PATH...            table of every object and its conditions
//   gozargah compile  -f PATH... [-o json|yaml]   the snapshots and statuses
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { compile, isKnownKind, parseManifests, type StatusEntry } from '../compiler/index.ts';
import { readManifestFiles } from './files.ts';
import { renderTable } from './table.ts';

const USAGE = `Usage:
  gozargah validate -f PATH [-f PATH...]        check manifests; exit 1 if any object is not accepted
  gozargah compile  -f PATH [-f PATH...] [-o json|yaml]
                                                print the dataplane snapshot per bus and every status
PATH is a YAML/JSON file or a directory (read recursively). Secrets may use data or stringData.`;

class UsageError extends Error {}

interface Loaded {
  statuses: StatusEntry[];
  snapshots: ReturnType<typeof compile>['snapshots'];
  origin: Map<string, string>;
  problems: string[];
  skipped: string[];
}

function load(paths: string[]): Loaded {
  if (paths.length === 0) throw new UsageError('no input: give at least one -f PATH');
  let files;
  try {
    files = readManifestFiles(paths);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const parsed = parseManifests(files);
  const problems = parsed.errors.map((e) => `${e.file} (document ${e.document}): ${e.message}`);
  const origin = new Map<string, string>();
  const skipped: string[] = [];
  const objects: unknown[] = [];
  for (const m of parsed.objects) {
    if (!isKnownKind(m.object)) {
      skipped.push(`${m.file} (document ${m.document}): ${String(m.object['apiVersion'])} ${String(m.object['kind'])} is not read by gozargah`);
      continue;
    }
    const meta = m.object['metadata'] as { name: string; namespace?: string };
    origin.set(`${String(m.object['kind'])}/${meta.namespace ?? 'default'}/${meta.name}`, `${m.file}#${m.document}`);
    objects.push(m.object);
  }
  const { snapshots, statuses } = compile({ objects, now: new Date().toISOString() });
  return { statuses, snapshots, origin, problems, skipped };
}

const condition = (s: StatusEntry, type: string) => s.status.conditions.find((c) => c.type === type);
const fullyAccepted = (s: StatusEntry): boolean =>
  condition(s, 'Accepted')?.status === 'True' && condition(s, 'ResolvedRefs')?.status === 'True';

function validate(paths: string[]): number {
  const { statuses, origin, problems, skipped } = load(paths);
  for (const s of skipped) process.stderr.write(`note: skipped ${s}\n`);
  for (const p of problems) process.stderr.write(`error: ${p}\n`);
  const rows = statuses.map((s) => {
    const failing = s.status.conditions.find((c) => (c.type === 'Accepted' || c.type === 'ResolvedRefs') && c.status !== 'True');
    return [
      s.kind,
      `${s.metadata.namespace}/${s.metadata.name}`,
      origin.get(`${s.kind}/${s.metadata.namespace}/${s.metadata.name}`) ?? '',
      condition(s, 'Accepted')?.status ?? '',
      condition(s, 'ResolvedRefs')?.status ?? '',
      failing === undefined ? condition(s, 'Accepted')?.reason ?? '' : `${failing.reason}: ${failing.message}`,
    ];
  });
  process.stdout.write(`${renderTable(['KIND', 'NAMESPACE/NAME', 'FILE', 'ACCEPTED', 'RESOLVEDREFS', 'REASON'], rows)}\n`);
  // Accepted, but likely a mistake: the compiler says so in the Accepted message.
  for (const s of statuses) {
    for (const warning of (condition(s, 'Accepted')?.message ?? '').split(' Warning: ').slice(1)) {
      process.stdout.write(`\nwarning: ${s.kind} ${s.metadata.namespace}/${s.metadata.name}: ${warning}`);
    }
  }
  if (statuses.some((s) => condition(s, 'Accepted')?.message.includes(' Warning: ') === true)) process.stdout.write('\n');
  const bad = statuses.filter((s) => !fullyAccepted(s)).length;
  if (bad > 0 || problems.length > 0) {
    process.stdout.write(`\n${bad} of ${statuses.length} objects not accepted${problems.length > 0 ? `, ${problems.length} unreadable document(s)` : ''}.\n`);
    return 1;
  }
  process.stdout.write(`\nAll ${statuses.length} objects accepted.\n`);
  return 0;
}

function compileCommand(paths: string[], format: string): number {
  if (format !== 'json' && format !== 'yaml') throw new UsageError(`-o must be json or yaml, not ${format}`);
  const { statuses, snapshots, problems } = load(paths);
  for (const p of problems) process.stderr.write(`error: ${p}\n`);
  const out = { snapshots, statuses };
  process.stdout.write(format === 'json' ? `${JSON.stringify(out, null, 2)}\n` : stringify(out, { lineWidth: 0, aliasDuplicateObjects: false }));
  return problems.length > 0 || statuses.some((s) => !fullyAccepted(s)) ? 1 : 0;
}

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  try {
    const { values } = parseArgs({
      args: rest,
      options: { filename: { type: 'string', short: 'f', multiple: true }, output: { type: 'string', short: 'o', default: 'json' } },
      allowPositionals: false,
    });
    const paths = values.filename ?? [];
    if (command === 'validate') return validate(paths);
    if (command === 'compile') return compileCommand(paths, values.output);
    throw new UsageError(`unknown command ${command}`);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`gozargah: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = main(process.argv.slice(2));

#!/usr/bin/env node
// gozargah: check and compile Gozargah manifests without a cluster; report the bus's figures.
//   gozargah validate -f PATH...            table of every object and its conditions
//   gozargah compile  -f PATH... [-o json|yaml]   the snapshots and statuses
//   gozargah report   --redis URL | --audit FILE...  the bus's figures for a month or range of days
//   gozargah audit    verify | search | public-key    the audit records' evidence (cli/audit/)
//   gozargah catalogue -f PATH... [--bus B] [--client ID] [-o markdown|openapi|json]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type * as Yaml from 'yaml';
import type * as Compiler from '../compiler/index.ts';
import type { StatusEntry } from '../compiler/index.ts';
import { audit } from './audit/command.ts';
import { catalogueDocument, CatalogueUsageError } from './catalogue.ts';
import { readManifestFiles } from './files.ts';
import { report } from './report/command.ts';
import { ReportFailure, ReportUsageError } from './report/errors.ts';
import { renderTable } from './table.ts';

const USAGE = `Usage:
  gozargah validate -f PATH [-f PATH...]        check manifests; exit 1 if any object is not accepted
  gozargah compile  -f PATH [-f PATH...] [-o json|yaml]
                                                print the dataplane snapshot per bus and every status
  gozargah report   (--redis URL [--redis-password-file FILE] | --audit FILE [FILE...])
                    (--month YYYY-MM | --from YYYY-MM-DD --to YYYY-MM-DD)
                    [--bus BUS] [--top N] [-o table|markdown|csv|json]
                                                transactions, outcomes and top providers, services and
                                                clients of a period (UTC days, --to inclusive), from the
                                                fleet's Redis or the dataplane's audit records
  gozargah audit    verify FILE... [--public-key FILE]... [--checkpoints FILE]... [--allow-open] [--allow-partial]
                    search --param NAME --pseudonym-key FILE... [--from DAY] [--to DAY] FILE... < VALUES
                    public-key --signing-key FILE
                                                check the audit records' hash chain and signatures; find
                                                the transactions that carried one person's ID; print the
                                                key that verifies them (gozargah audit --help for more)
  gozargah catalogue -f PATH [-f PATH...] [--bus BUS] [--client ID] [-o markdown|openapi|json]
                                                the inquiries a client may call on a bus (every
                                                inquiry without --client), as the bus publishes them
  gozargah --version                            the version
PATH is a YAML/JSON file, a directory (read recursively) or - (standard input, e.g.
helm template ... | gozargah validate -f -). Secrets may use data or stringData.
report: --redis defaults to $GOZARGAH_REDIS_URL, the password to $GOZARGAH_REDIS_PASSWORD; audit
FILE may be .gz or - (standard input); without --bus every bus is reported together; --top 10.
Exit 2 on a usage error, an unreachable Redis, an unreadable file or an unknown bus.`;

/** `gozargah COMMAND --help`: the command's lines of USAGE. */
const COMMAND_USAGE: Record<string, string> = {
  validate: `Usage: gozargah validate -f PATH [-f PATH...]
  Checks ServiceProvider, InquiryRoute and ClientBinding manifests as the operator would: a table
  of every object with its Accepted and ResolvedRefs conditions and the reason of the first that
  fails, then warnings. PATH is a YAML/JSON file, a directory (read recursively) or - (standard
  input). Exit 0 when every object is accepted; 1 when one is not, a document cannot be read, a
  kind or apiVersion meant for gozargah.io is misspelt, or no Gozargah object is found; 2 on a
  usage error.`,
  report: `Usage: gozargah report (--redis URL [--redis-password-file FILE] | --audit FILE [FILE...])
                       (--month YYYY-MM | --from YYYY-MM-DD --to YYYY-MM-DD)
                       [--bus BUS] [--top N] [-o table|markdown|csv|json]
  The bus's figures for a UTC month or range of days (--to inclusive): transactions, outcomes,
  active and top providers, services and clients, refusals by code; from the fleet's Redis
  (--redis, default $GOZARGAH_REDIS_URL; the password from --redis-password-file or
  $GOZARGAH_REDIS_PASSWORD) or the dataplane's audit files (.gz, or - for standard input).
  Without --bus every bus is reported together; --top 10. Exit 2 on a usage error, an
  unreachable Redis, an unreadable file or an unknown bus.`,
  catalogue: `Usage: gozargah catalogue -f PATH [-f PATH...] [--bus BUS] [--client ID] [-o markdown|openapi|json]
  The inquiries client ID is granted on BUS (default: default), or every inquiry of the bus
  without --client: path, methods, summary, tags, deprecation, and the client's rate limit,
  quota and validity. The same documents the bus answers an authenticated client at
  /.well-known/gozargah/catalogue and /.well-known/gozargah/openapi.json. -o openapi: an
  OpenAPI 3.1 document with the request and response schemas, the problem codes of each
  operation and the security schemes; markdown (the default) for people; json. PATH as for
  validate. Exit 2 on a usage error, an unknown bus or a client with no binding on it.`,
  compile: `Usage: gozargah compile -f PATH [-f PATH...] [-o json|yaml]
  Prints what the operator would publish: the dataplane snapshot of every bus and the status of
  every object. PATH as for validate. Exit 1 when an object is not accepted, 2 on a usage error.`,
};

/** The version in package.json, beside the sources (in the image too). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `gozargah ${pkg.version} (Node ${process.version})`;
}

class UsageError extends Error {}

// validate and compile load the compiler and yaml when they run (main): report starts without them.
let compiler: typeof Compiler;
let yaml: typeof Yaml;

interface Loaded {
  statuses: StatusEntry[];
  snapshots: ReturnType<typeof Compiler.compile>['snapshots'];
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
  const parsed = compiler.parseManifests(files);
  const problems = parsed.errors.map((e) => `${e.file} (document ${e.document}): ${e.message}`);
  const origin = new Map<string, string>();
  const skipped: string[] = [];
  const objects: unknown[] = [];
  for (const m of parsed.objects) {
    const mistake = compiler.kindMistake(m.object);
    if (mistake !== null) {
      problems.push(`${m.file} (document ${m.document}): ${mistake}`);
      continue;
    }
    if (!compiler.isKnownKind(m.object)) {
      skipped.push(`${m.file} (document ${m.document}): ${String(m.object['apiVersion'])} ${String(m.object['kind'])} is not read by gozargah`);
      continue;
    }
    const meta = m.object['metadata'] as { name: string; namespace?: string };
    origin.set(`${String(m.object['kind'])}/${meta.namespace ?? 'default'}/${meta.name}`, `${m.file}#${m.document}`);
    objects.push(m.object);
  }
  const { snapshots, statuses } = compiler.compile({ objects, now: new Date().toISOString() });
  return { statuses, snapshots, origin, problems, skipped };
}

const condition = (s: StatusEntry, type: string) => s.status.conditions.find((c) => c.type === type);
const fullyAccepted = (s: StatusEntry): boolean =>
  condition(s, 'Accepted')?.status === 'True' && condition(s, 'ResolvedRefs')?.status === 'True';

function validate(paths: string[]): number {
  const { statuses, origin, problems, skipped } = load(paths);
  for (const s of skipped) process.stderr.write(`note: skipped ${s}\n`);
  for (const p of problems) process.stderr.write(`error: ${p}\n`);
  // Nothing to check is a mistake too (a wrong path, every kind misspelt): never "All 0 accepted".
  if (statuses.length === 0) {
    process.stdout.write(`No ServiceProvider, InquiryRoute or ClientBinding found in ${paths.map((p) => (p === '-' ? 'standard input' : p)).join(', ')}${problems.length > 0 ? `; ${problems.length} document(s) with errors` : ''}.\n`);
    return 1;
  }
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
  process.stdout.write(format === 'json' ? `${JSON.stringify(out, null, 2)}\n` : yaml.stringify(out, { lineWidth: 0, aliasDuplicateObjects: false }));
  return problems.length > 0 || statuses.some((s) => !fullyAccepted(s)) ? 1 : 0;
}

function catalogueCommand(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      filename: { type: 'string', short: 'f', multiple: true },
      bus: { type: 'string', default: 'default' },
      client: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'markdown' },
    },
    allowPositionals: false,
  });
  const { snapshots, statuses, problems } = load(values.filename ?? []);
  for (const p of problems) process.stderr.write(`error: ${p}\n`);
  const refused = statuses.filter((s) => !fullyAccepted(s)).length;
  if (refused > 0) process.stderr.write(`note: ${refused} object(s) not accepted are left out (gozargah validate says why)\n`);
  process.stdout.write(catalogueDocument(snapshots, values.bus, values.client, values.output, Date.now()));
  return problems.length > 0 ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version' || command === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const usage = COMMAND_USAGE[command];
  if (usage !== undefined && rest.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  try {
    if (command === 'report') return await report(rest);
    if (command === 'audit') return await audit(rest);
    [compiler, yaml] = await Promise.all([import('../compiler/index.ts'), import('yaml')]);
    if (command === 'catalogue') return catalogueCommand(rest);
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
    if (err instanceof CatalogueUsageError) {
      process.stderr.write(`gozargah catalogue: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ReportFailure) {
      process.stderr.write(`gozargah report: ${err.message}\n`);
      return 2;
    }
    if (err instanceof UsageError || err instanceof ReportUsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`gozargah${err instanceof ReportUsageError ? ' report' : ''}: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main(process.argv.slice(2));

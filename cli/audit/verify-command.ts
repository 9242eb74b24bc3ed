// The command line and output of `gozargah audit verify`: exit 0 when every rule holds, 1 naming
// the first bad record first, 2 on a usage error or a file or key that cannot be read.
import { parseArgs } from 'node:util';
import { grouped } from '../report/render.ts';
import { renderTable } from '../table.ts';
import { AuditUsageError } from './errors.ts';
import { failureText } from './findings.ts';
import type { AuditIo } from './io.ts';
import { STDIN } from './text-input.ts';
import { verifyAudit, type VerifyOptions, type VerifyResult } from './verify.ts';

/** Failures listed in text; -o json lists up to findings.ts KEPT. */
const SHOWN = 20;

export const VERIFY_USAGE = `gozargah audit verify FILE... [--public-key FILE]... [--checkpoints FILE]... [--allow-open] [--allow-partial] [-o text|json]
  Checks the dataplane's audit files (docs/decisions/0002-audit-evidence.md): every record's hash
  against the one before it, no seq missing, reordered or claimed twice, every chain beginning at
  its start or at the first record after a rotation, every checkpoint over the record before it
  and signed, and every chain ending at a shutdown or rotate checkpoint, or named by the next run
  of its replica. FILE may be .gz or - (standard input); files in any order.
  --public-key FILE    the bus's audit public key (PEM; gozargah audit public-key prints it); may
                       be repeated (key rotation). Every chain must then have a checkpoint signed by
                       one of them. Without it, signatures are checked against the key each chain
                       start publishes: integrity, not origin.
  --checkpoints FILE   the external record of checkpoints: the dataplane's process log (lines with
                       "msg":"audit checkpoint") or checkpoint lines; each must be in the files.
  --allow-open         a chain may end anywhere (its log is still being written); the records
                       after its last signed checkpoint are named.
  --allow-partial      a chain may begin anywhere (files a log shipper split at arbitrary points);
                       the first record of such a chain cannot be checked, and is named.
  Exit 0: everything holds; 1: something does not (named); 2: usage, or a file or key unreadable.`;

function parseVerifyArgs(argv: string[]): VerifyOptions & { format: 'text' | 'json' } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        'public-key': { type: 'string', multiple: true },
        checkpoints: { type: 'string', multiple: true },
        'allow-open': { type: 'boolean' },
        'allow-partial': { type: 'boolean' },
        output: { type: 'string', short: 'o' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    throw new AuditUsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const format = values.output ?? 'text';
  if (format !== 'text' && format !== 'json') throw new AuditUsageError(`-o must be text or json, not ${JSON.stringify(format)}`);
  if (positionals.length === 0) throw new AuditUsageError('no audit files: give at least one FILE (or - for standard input)');
  const checkpoints = values.checkpoints ?? [];
  if ([...positionals, ...checkpoints].filter((f) => f === STDIN).length > 1) throw new AuditUsageError('standard input (-) can be read once');
  return { files: positionals, publicKeys: values['public-key'] ?? [], checkpoints, allowOpen: values['allow-open'] === true, allowPartial: values['allow-partial'] === true, format };
}

function keyText(r: VerifyResult): string {
  if (r.signedVerified === 0) return '';
  const keys = `${r.keyIds.length === 1 ? 'key' : 'keys'} ${r.keyIds.join(', ')}`;
  return ` with ${keys} (${r.keySource === 'public-key' ? 'from --public-key' : 'as the chain starts publish them'})`;
}

function summary(r: VerifyResult): string {
  const external = r.externalCheckpoints > 0 ? `, ${grouped(r.externalCheckpoints)} found in the external record` : '';
  return (
    `${plural(r.files, 'file')}, ${plural(r.chains.length, 'chain')}, ${grouped(r.records)} records (${grouped(r.transactions)} transactions), ` +
    `${grouped(r.checkpoints)} checkpoints${external}, ${grouped(r.signedVerified)} signatures verified${keyText(r)}`
  );
}

const plural = (n: number, one: string): string => `${grouped(n)} ${one}${n === 1 ? '' : 's'}`;

function renderText(r: VerifyResult): string {
  const out: string[] = [];
  if (!r.ok) {
    const first = r.failures[0];
    const firstText = first === undefined || first.line === null ? '' : ` The first bad record: ${first.file}:${first.line}${first.chain === null ? '' : ` (chain ${first.chain}${first.seq === null ? '' : `, seq ${first.seq}`})`}.`;
    out.push(`FAILED: ${plural(r.failureCount, 'problem')}.${firstText}`);
    for (const f of r.failures.slice(0, SHOWN)) out.push(`  ${failureText(f)}`);
    if (r.failureCount > SHOWN) out.push(`  ... and ${grouped(r.failureCount - SHOWN)} more (-o json lists up to ${grouped(r.failures.length)})`);
    out.push('');
  }
  if (r.chains.length > 0) {
    const rows = r.chains.map((c) => [c.chain, c.bus ?? '', c.replica ?? '', `${c.firstSeq}..${c.lastSeq}`, grouped(c.transactions), grouped(c.checkpoints), grouped(c.signedVerified), c.end]);
    out.push(renderTable(['CHAIN', 'BUS', 'REPLICA', 'SEQ', 'TRANSACTIONS', 'CHECKPOINTS', 'SIGNED', 'END'], rows), '');
  }
  out.push(`${r.ok ? 'verified' : 'read'}: ${summary(r)}`);
  if (r.keySource === 'chain-start') {
    out.push('warning: no --public-key: signatures were checked against the key each chain start publishes; this proves the records were not changed after they were written (integrity), not that the bus wrote them (origin). Pass --public-key with the key the bus published.');
  }
  for (const n of r.notices) out.push(`notice: ${n}`);
  out.push(`${grouped(r.records)} records in ${r.seconds.toFixed(2)} s: ${grouped(r.recordsPerSecond)} records/s`);
  return `${out.join('\n')}\n`;
}

export async function verifyCommand(argv: string[], io: AuditIo): Promise<number> {
  const { format, ...options } = parseVerifyArgs(argv);
  const result = await verifyAudit({ ...options, stdin: io.stdin });
  io.stdout(format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : renderText(result));
  return result.ok ? 0 : 1;
}

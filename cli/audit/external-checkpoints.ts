// The external record of checkpoints (`audit verify --checkpoints FILE`): the dataplane repeats
// every checkpoint in its process log once it is in the audit file, as
//   {"level":"info","msg":"audit checkpoint","chain":..,"seq":..,"line":"<the checkpoint line>"}
// The file may hold those log lines (other log lines are skipped, a `kubectl logs --timestamps`
// prefix too), bare checkpoint lines, or log lines carrying the checkpoint as an object
// (`"checkpoint":{...}`) instead of its line. The exact line is preferred: it is compared with
// the audit file byte for byte.
import { readSeal } from '../../api/audit/index.ts';
import { chainHead, parseObject, readCheckpoint, type ChainHead, type CheckpointFields } from './chain-records.ts';
import { AuditFailure } from './errors.ts';
import { displayName, readText } from './text-input.ts';
import type { Readable } from 'node:stream';

export const CHECKPOINT_LOG_MSG = 'audit checkpoint';

export interface ExternalCheckpoint {
  line: number;
  head: ChainHead;
  /** its members, to check its signature; null when the entry does not carry them */
  fields: CheckpointFields | null;
  /** the checkpoint line exactly as written, when the entry carries it */
  text: string | null;
}

export interface ExternalRecord {
  file: string;
  entries: ExternalCheckpoint[];
  /** entries that claim to be checkpoints but cannot be read: [line, why] */
  problems: [number, string][];
  /** lines that are not checkpoints (other process-log lines) */
  skipped: number;
}

/** A checkpoint from its exact line, or why it is not one. */
function fromLine(text: string): { head: ChainHead; fields: CheckpointFields } | string {
  const seal = readSeal(text);
  if (typeof seal === 'string') return `its checkpoint line is not a sealed record (${seal})`;
  const o = parseObject(text);
  if (typeof o === 'string') return `its checkpoint line is ${o}`;
  if (o['type'] !== 'checkpoint') return 'its line is not a checkpoint record';
  const fields = readCheckpoint(o);
  if (typeof fields === 'string') return `its checkpoint: ${fields}`;
  return { head: { chain: seal.chain, seq: seal.seq, hash: seal.hash }, fields };
}

function entryOf(raw: string, lineNo: number): ExternalCheckpoint | string | null {
  const at = raw.indexOf('{');
  if (at < 0) return null;
  const json = raw.slice(at).trimEnd();
  const o = parseObject(json);
  if (typeof o === 'string') return null;
  if (o['type'] === 'checkpoint') {
    const c = fromLine(json);
    return typeof c === 'string' ? c : { line: lineNo, ...c, text: json };
  }
  if (o['msg'] !== CHECKPOINT_LOG_MSG) return null;
  if (typeof o['line'] === 'string') {
    const c = fromLine(o['line']);
    return typeof c === 'string' ? c : { line: lineNo, ...c, text: o['line'] };
  }
  const head = chainHead(o['checkpoint']);
  if (head === null) return 'an "audit checkpoint" log line with neither a "line" nor a "checkpoint" naming its chain, seq and hash';
  const fields = readCheckpoint(o['checkpoint'] as Record<string, unknown>);
  return { line: lineNo, head, fields: typeof fields === 'string' ? null : fields, text: null };
}

export async function readExternalCheckpoints(file: string, stdin?: Readable): Promise<ExternalRecord> {
  const record: ExternalRecord = { file: displayName(file), entries: [], problems: [], skipped: 0 };
  const seen = new Set<string>();
  let lineNo = 0;
  await readText(
    file,
    (text) => {
      for (let start = 0; start < text.length; ) {
        let end = text.indexOf('\n', start);
        if (end < 0) end = text.length;
        const raw = text.slice(start, end);
        start = end + 1;
        lineNo++;
        const entry = raw.trim() === '' ? null : entryOf(raw, lineNo);
        if (entry === null) record.skipped++;
        else if (typeof entry === 'string') record.problems.push([lineNo, entry]);
        else {
          // The same checkpoint logged twice (a log shipper's retry) is one checkpoint.
          const key = `${entry.head.chain}/${entry.head.seq}/${entry.head.hash}`;
          if (!seen.has(key)) record.entries.push(entry);
          seen.add(key);
        }
      }
    },
    stdin,
  );
  if (record.entries.length === 0 && record.problems.length === 0) {
    throw new AuditFailure(`--checkpoints ${record.file} holds no audit checkpoints: neither checkpoint lines nor process-log lines with "msg":"${CHECKPOINT_LOG_MSG}" (${lineNo} lines read)`);
  }
  return record;
}

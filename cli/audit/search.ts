// `gozargah audit search`: the transactions that carried sensitive values, found by their
// pseudonyms (docs/decisions/0002-audit-evidence.md: HMAC-SHA-256 of the value alone, so a path
// parameter and a body field carrying the same ID have the same pseudonym). The pseudonym of each
// value under each key is computed first; a chunk of lines is scanned for them natively (for a
// few, each is looked for; for many, every pseudonym in the chunk is looked up), and only the
// lines that contain one are parsed. The values themselves are never kept beyond that, nor printed:
// a lookup names its value by its place in the list given.
import type { Readable } from 'node:stream';
import { AuditKeyError, pseudonym, pseudonymKeyId, readPseudonymKey, readSeal } from '../../api/audit/index.ts';
import { parseObject } from './chain-records.ts';
import { AuditFailure } from './errors.ts';
import { readText } from './text-input.ts';

export interface SearchOptions {
  files: string[];
  /** the path parameter or body field name: `nationalId` also finds `person.nationalId` */
  name: string;
  /** the clear values (several IDs searched in one pass): only their pseudonyms are used */
  values: readonly string[];
  /** --pseudonym-key files (several while keys are rotated) */
  pseudonymKeys: string[];
  /** UTC days, inclusive; null: unbounded */
  from: string | null;
  to: string | null;
  stdin?: Readable;
}

export interface Lookup {
  time: string;
  bus: string;
  client: string;
  binding: string;
  route: string;
  method: string;
  status: number | null;
  code: string;
  requestId: string;
  chain: string;
  seq: number | null;
  /** where the value was: `params.NAME`, or the body field's path */
  field: string;
  /** which value: its index in `values` */
  value: number;
}

export interface SearchResult {
  lookups: Lookup[];
  /** transaction records read */
  records: number;
  files: number;
  /** chains whose pseudonyms none of the keys given can match */
  notices: string[];
  seconds: number;
}

const CHAIN_START = '{"type":"chain-start"';
const TYPED = '{"type":';

/** `hmac:` and 128 bits in hex: api/audit/keys.ts pseudonym() */
const PSEUDONYM_LENGTH = 37;
const PSEUDONYM_PREFIX = 'hmac:';
/** Up to this many pseudonyms, a chunk is scanned for each; beyond, each pseudonym in it is looked up. */
const FEW = 8;

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Which of the values (by index) a record carries under `name`, and where: the first place each is. */
function matchesIn(o: Record<string, unknown>, name: string, pseudonyms: ReadonlyMap<string, number>): Map<number, string> {
  const found = new Map<number, string>();
  const params = o['params'];
  if (typeof params === 'object' && params !== null) {
    const value = (params as Record<string, unknown>)[name];
    const index = typeof value === 'string' ? pseudonyms.get(value) : undefined;
    if (index !== undefined) found.set(index, `params.${name}`);
  }
  const fields = o['fields'];
  if (typeof fields !== 'object' || fields === null) return found;
  const suffix = `.${name}`;
  for (const [field, values] of Object.entries(fields)) {
    if ((field !== name && !field.endsWith(suffix)) || !Array.isArray(values)) continue;
    for (const value of values) {
      const index = typeof value === 'string' ? pseudonyms.get(value) : undefined;
      if (index !== undefined && !found.has(index)) found.set(index, field);
    }
  }
  return found;
}

function keysOf(files: readonly string[]): Buffer[] {
  return files.map((file) => {
    try {
      return readPseudonymKey(file);
    } catch (err) {
      if (err instanceof AuditKeyError) throw new AuditFailure(err.message);
      throw err;
    }
  });
}

export async function searchAudit(options: SearchOptions): Promise<SearchResult> {
  const started = process.hrtime.bigint();
  const keys = keysOf(options.pseudonymKeys);
  /** each value's pseudonym under each key, to the value's index */
  const pseudonyms = new Map<string, number>();
  options.values.forEach((value, index) => {
    for (const key of keys) pseudonyms.set(pseudonym(key, value), index);
  });
  const keyIds = new Set(keys.map(pseudonymKeyId));
  const lookups: Lookup[] = [];
  const notices: string[] = [];
  let records = 0;

  const chainStart = (line: string): void => {
    const o = parseObject(line);
    const seal = readSeal(line);
    if (typeof o === 'string' || typeof seal === 'string') return;
    const id = o['pseudonymKeyId'];
    const which = `chain ${seal.chain} (bus ${text(o['bus'])}, replica ${text(o['replica'])}, started ${text(o['time'])})`;
    if (id === null) notices.push(`${which} recorded no pseudonyms (its dataplane had no --audit-pseudonym-key): its sensitive values are redacted and cannot be searched`);
    else if (typeof id === 'string' && !keyIds.has(id)) notices.push(`${which} recorded pseudonyms under key id ${id}, which none of the --pseudonym-key given has: lookups in it cannot be found`);
  };

  const lookup = (line: string): void => {
    const o = parseObject(line);
    if (typeof o === 'string' || o['type'] !== undefined) return;
    const found = matchesIn(o, options.name, pseudonyms);
    if (found.size === 0) return;
    const time = text(o['start']);
    const day = time.slice(0, 10);
    if ((options.from !== null && day < options.from) || (options.to !== null && day > options.to)) return;
    const seal = readSeal(line);
    for (const [value, field] of found) {
      lookups.push({
        time,
        bus: text(o['bus']),
        client: text(o['client']),
        binding: text(o['binding']),
        route: text(o['route']),
        method: text(o['method']),
        status: typeof o['status'] === 'number' ? o['status'] : null,
        code: text(o['code']),
        requestId: text(o['requestId']),
        chain: typeof seal === 'string' ? '' : seal.chain,
        seq: typeof seal === 'string' ? null : seal.seq,
        field,
        value,
      });
    }
  };

  const scan = (chunk: string): void => {
    for (let start = 0; start < chunk.length; ) {
      let end = chunk.indexOf('\n', start);
      if (end < 0) end = chunk.length;
      if (end > start) {
        if (!chunk.startsWith(TYPED, start)) records++;
        else if (chunk.startsWith(CHAIN_START, start)) chainStart(chunk.slice(start, end));
      }
      start = end + 1;
    }
    // Lines holding a pseudonym, each once however many times it holds one.
    const hits = new Set<number>();
    if (pseudonyms.size <= FEW) {
      for (const p of pseudonyms.keys()) {
        for (let at = chunk.indexOf(p); at >= 0; at = chunk.indexOf(p, at + p.length)) hits.add(chunk.lastIndexOf('\n', at) + 1);
      }
    } else {
      for (let at = chunk.indexOf(PSEUDONYM_PREFIX); at >= 0; at = chunk.indexOf(PSEUDONYM_PREFIX, at + PSEUDONYM_PREFIX.length)) {
        if (pseudonyms.has(chunk.slice(at, at + PSEUDONYM_LENGTH))) hits.add(chunk.lastIndexOf('\n', at) + 1);
      }
    }
    for (const start of [...hits].sort((a, b) => a - b)) {
      const end = chunk.indexOf('\n', start);
      lookup(chunk.slice(start, end < 0 ? chunk.length : end).trimEnd());
    }
  };

  for (const file of options.files) await readText(file, scan, options.stdin);
  lookups.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : (a.seq ?? 0) - (b.seq ?? 0) || a.value - b.value));
  return { lookups, records, files: options.files.length, notices, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

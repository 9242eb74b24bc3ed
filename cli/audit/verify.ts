// `gozargah audit verify`: every rule of "What `gozargah audit verify` checks" in
// docs/decisions/0002-audit-evidence.md, over files given in any order (rotated files are often
// listed newest first). Stricter than it says in three places: a chain must begin at its start or
// after a rotation (--allow-partial relaxes it), with --public-key every chain needs a checkpoint
// a key given signed, and a later chain accounts for a killed run only when it is the next run of
// the same bus and replica, started after it, and (with --public-key) signed.
//
// One pass over the lines: a record is checked against the hash of the record before it as soon
// as both have been read, whichever came first; the hashes are kept by seq (seq-hashes.ts), so
// a duplicate is told from a second record claiming a seq, and the seqs no file has are found at
// the end. Only the chain's own records (`{"type":` at the start) are parsed. Checkpoint covers,
// signatures, chain ends and the external record are checked once every file has been read,
// when every chain start and every hash is known.
import { hash as digest } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AuditKeyError, canonicalOf, chainHash, checkpointMessage, publicKeyFromBase64, readPublicKey, readSeal, verifyCheckpoint, ZERO_HASH, type PublicKey, type Seal } from '../../api/audit/index.ts';
import { parseObject, readChainStart, readCheckpoint, type ChainStart, type CheckpointFields } from './chain-records.ts';
import { AuditFailure } from './errors.ts';
import { readExternalCheckpoints, type ExternalCheckpoint, type ExternalRecord } from './external-checkpoints.ts';
import { Findings, type Failure, type FailureKind } from './findings.ts';
import { SeqHashes } from './seq-hashes.ts';
import { displayName, readText } from './text-input.ts';

export interface VerifyOptions {
  files: string[];
  /** --public-key files: checkpoints must be signed by one of them */
  publicKeys?: string[];
  /** --checkpoints files: the external record of checkpoints */
  checkpoints?: string[];
  /** --allow-open: a chain may end anywhere (a log still being written) */
  allowOpen?: boolean;
  /**
   * --allow-partial: a chain's first record in the files may be neither its start nor the first
   * after a rotation (files a log shipper split at arbitrary points); that record is unchecked
   */
  allowPartial?: boolean;
  stdin?: Readable;
}

/** How a chain's records end. */
export type ChainEnd = 'shutdown' | 'rotate' | 'successor' | 'open' | 'truncated';

export interface ChainSummary {
  chain: string;
  bus: string | null;
  replica: string | null;
  firstSeq: number;
  lastSeq: number;
  records: number;
  transactions: number;
  checkpoints: number;
  signedVerified: number;
  end: ChainEnd;
}

export interface VerifyResult {
  ok: boolean;
  files: number;
  chains: ChainSummary[];
  records: number;
  transactions: number;
  checkpoints: number;
  signedVerified: number;
  /** ids of the keys signatures verified with */
  keyIds: string[];
  /** where the keys came from: --public-key, or the chain starts (integrity, not origin) */
  keySource: 'public-key' | 'chain-start' | null;
  externalCheckpoints: number;
  duplicates: number;
  notices: string[];
  failures: Failure[];
  failureCount: number;
  seconds: number;
  recordsPerSecond: number;
}

/** Records waiting for the hash of the record before them: beyond this many, unchecked and counted. */
const MAX_WAITING = 100_000;
const TYPED = '{"type":';
const CHAIN_START = '{"type":"chain-start"';

interface Loc {
  file: number;
  line: number;
}

interface CheckpointRecord {
  seq: number;
  hash: string;
  at: Loc;
  fields: CheckpointFields;
}

class Chain {
  readonly hashes = new SeqHashes();
  /** records read before the one before them, by that one's seq */
  readonly waiting = new Map<number, { hash: string; canonical: string; at: Loc }>();
  /** "prev" members read before the record they name, by its seq */
  readonly prevClaims = new Map<number, { prev: string; at: Loc }>();
  /** where each record read before the one before it is: a gap is named by the record after it */
  readonly starts = new Map<number, { at: Loc; prev: boolean }>();
  /**
   * SHA-256 of each line read before the record before it, by its seq: until that record is
   * read, a second line claiming the seq is a duplicate only when it is the same bytes
   */
  readonly unanchored = new Map<number, string>();
  /** the smallest seq read, where, and whether it carries "prev" */
  first: { seq: number; at: Loc; prev: boolean } | null = null;
  start: { at: Loc; record: ChainStart; key: PublicKey | null } | null = null;
  readonly checkpoints: CheckpointRecord[] = [];
  transactions = 0;
  /** the location of the largest seq */
  lastAt: Loc;
  /** the line of the largest seq: its time, for a successor's claim */
  lastLine = '';
  bus: string | null = null;

  readonly id: string;
  /** where the chain was first read, for findings about it as a whole */
  readonly firstAt: Loc;

  constructor(id: string, firstAt: Loc) {
    this.id = id;
    this.firstAt = firstAt;
    this.lastAt = firstAt;
  }
}

/** One chain within the file being read. */
interface FileChain {
  chain: Chain;
  lastSeq: number;
  lastHash: string;
  lastLine: number;
  maxSeq: number;
}

const short = (hash: string): string => `${hash.slice(0, 12)}…`;
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const seqRange = (a: number, b: number): string => (a === b ? `record ${a} is` : `records ${a}..${b} are`);

class Verifier {
  readonly findings = new Findings();
  readonly notices: string[] = [];
  readonly chains = new Map<string, Chain>();
  /** display names: the audit files, then the external checkpoint files */
  readonly names: string[] = [];
  records = 0;
  duplicates = 0;
  #firstDuplicate: Loc | null = null;
  #unchecked = 0;
  #unknownTypes = new Map<string, number>();
  #allowOpen: boolean;
  #file = 0;
  #lineNo = 0;
  #fileChains = new Map<string, FileChain>();
  /** the file's line ends were converted to CRLF: reported once per file */
  #crlf = 0;

  constructor(allowOpen: boolean) {
    this.#allowOpen = allowOpen;
  }

  fail(at: Loc, chain: string | null, seq: number | null, kind: FailureKind, message: string): void {
    this.findings.add(at.file, { file: this.names[at.file] ?? '?', line: at.line, chain, seq, kind, message });
  }

  beginFile(name: string): void {
    this.#file = this.names.length;
    this.names.push(name);
    this.#lineNo = 0;
    this.#fileChains.clear();
    this.#crlf = 0;
  }

  endFile(): void {
    // A line is a slice of the text it was read in: copied, so that text is not held.
    for (const { chain } of this.#fileChains.values()) {
      if (chain.lastAt.file === this.#file) chain.lastLine = Buffer.from(chain.lastLine).toString();
    }
    if (this.#crlf > 0) {
      this.fail({ file: this.#file, line: 1 }, null, null, 'edited', `${plural(this.#crlf, 'line ends', 'lines end')} in a carriage return: the file's line ends were converted (CRLF), so its bytes are not those written; records were checked without it, but audit files must be shipped byte for byte`);
    }
  }

  /** Whole lines, each ending in '\n' (the last one may lack it when `complete` is false). */
  text(text: string, complete: boolean): void {
    for (let start = 0; start < text.length; ) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      this.#lineNo++;
      if (end > start) this.#line(text.slice(start, end), complete || end < text.length);
      start = end + 1;
    }
  }

  #line(raw: string, wholeLine: boolean): void {
    const at = { file: this.#file, line: this.#lineNo };
    let line = raw;
    let seal = readSeal(line);
    if (typeof seal === 'string' && line.endsWith('\r')) {
      line = line.slice(0, -1);
      seal = readSeal(line);
      if (typeof seal !== 'string') this.#crlf++;
    }
    if (typeof seal === 'string' || !Number.isSafeInteger(seal.seq)) {
      const why = typeof seal === 'string' ? seal : '"seq" is too large';
      if (!wholeLine) {
        if (this.#allowOpen) this.notices.push(`${this.names[at.file]}:${at.line}: the last line is incomplete (being written; --allow-open)`);
        else this.fail(at, null, null, 'truncated', `the file's last line is cut short (no newline, and ${why}): the file was truncated, or is still being written (--allow-open)`);
        return;
      }
      this.fail(at, null, null, 'inserted', `not a sealed record (${why}): a line the dataplane did not write, or one damaged on its way`);
      return;
    }
    let fc = this.#fileChains.get(seal.chain);
    if (fc === undefined) {
      let chain = this.chains.get(seal.chain);
      if (chain === undefined) {
        chain = new Chain(seal.chain, at);
        this.chains.set(seal.chain, chain);
      }
      fc = { chain, lastSeq: 0, lastHash: '', lastLine: 0, maxSeq: 0 };
      this.#fileChains.set(seal.chain, fc);
    }
    this.#record(fc, seal, line, at);
  }

  #record(fc: FileChain, seal: Seal, line: string, at: Loc): void {
    const { chain } = fc;
    const { seq, hash, prev } = seal;
    const canonical = canonicalOf(line);
    if (chain.hashes.has(seq)) return this.#again(chain, seal, line, canonical, at);
    if (seq < fc.maxSeq) this.fail(at, chain.id, seq, 'reordered', `seq ${seq} comes after seq ${fc.maxSeq} of the same chain in this file: records were moved out of order`);

    /** the hash of the record before this one, when it has been read */
    const before = seq === 1 ? ZERO_HASH : fc.lastSeq === seq - 1 ? fc.lastHash : chain.hashes.get(seq - 1);
    const anchor = prev ?? before;
    if (prev !== null && before !== null && prev !== before) {
      const where = fc.lastSeq === seq - 1 ? `line ${fc.lastLine}` : 'another file';
      this.fail(at, chain.id, seq, 'edited', `its "prev" (${short(prev)}) is not the hash of seq ${seq - 1} (${short(before)}, ${where}): this record or the one before it was changed`);
    } else if (anchor !== null) {
      if (chainHash(anchor, canonical) !== hash) this.fail(at, chain.id, seq, 'edited', `its hash does not match its bytes and the record before it: this record${prev === null ? ' or the one before it' : ' (or its "prev")'} was changed`);
    } else if (chain.waiting.size < MAX_WAITING) chain.waiting.set(seq - 1, { hash, canonical, at });
    else this.#unchecked++;
    if (before === null) {
      if (prev !== null) chain.prevClaims.set(seq - 1, { prev, at });
      if (chain.starts.size < MAX_WAITING) chain.starts.set(seq, { at, prev: prev !== null });
      if (chain.unanchored.size < MAX_WAITING) chain.unanchored.set(seq, digest('sha256', line));
    }
    if (chain.first === null || seq < chain.first.seq) chain.first = { seq, at, prev: prev !== null };

    chain.hashes.set(seq, hash);
    if (seq === chain.hashes.max) {
      chain.lastAt = at;
      chain.lastLine = line;
    }
    // The record after this one is checked against it now: a copy of that one is told by its hash.
    if (chain.unanchored.size > 0) chain.unanchored.delete(seq + 1);
    const waiting = chain.waiting.get(seq);
    if (waiting !== undefined) {
      chain.waiting.delete(seq);
      if (chainHash(hash, waiting.canonical) !== waiting.hash) this.fail(waiting.at, chain.id, seq + 1, 'edited', `its hash does not match its bytes and the record before it (seq ${seq}, read at ${this.names[at.file]}:${at.line}): this record or the one before it was changed`);
    }
    const claim = chain.prevClaims.get(seq);
    if (claim !== undefined) {
      chain.prevClaims.delete(seq);
      if (claim.prev !== hash) this.fail(claim.at, chain.id, seq + 1, 'edited', `its "prev" (${short(claim.prev)}) is not the hash of seq ${seq} (${short(hash)}, ${this.names[at.file]}:${at.line}): this record or the one before it was changed`);
    }

    fc.lastSeq = seq;
    fc.lastHash = hash;
    fc.lastLine = at.line;
    if (seq > fc.maxSeq) fc.maxSeq = seq;
    this.records++;
    if (line.startsWith(TYPED)) this.#chainRecord(chain, seal, line, at);
    else chain.transactions++;
    if (seq === 1 && !line.startsWith(CHAIN_START)) this.fail(at, chain.id, seq, 'invalid', 'seq 1 is not a chain start: a chain begins with one, so its first record was replaced');
  }

  /**
   * A seq read before: the same line again (a shipper's retry) is a notice, another record a
   * failure. Same means the same bytes: checked against the record before it when that one has
   * been read, else against the digest of the first line that claimed the seq.
   */
  #again(chain: Chain, seal: Seal, line: string, canonical: string, at: Loc): void {
    const held = chain.hashes.get(seal.seq) as string;
    const firstCopy = chain.unanchored.get(seal.seq);
    const before = seal.prev ?? (seal.seq === 1 ? ZERO_HASH : chain.hashes.get(seal.seq - 1));
    let same: boolean;
    if (held !== seal.hash) same = false;
    else if (firstCopy !== undefined) same = digest('sha256', line) === firstCopy;
    else if (before !== null) same = chainHash(before, canonical) === seal.hash;
    else {
      this.fail(at, chain.id, seal.seq, 'inserted', `a second record claims seq ${seal.seq}, which a line read before already has, and neither the record before it nor (beyond ${MAX_WAITING} such records) the first line can show they are the same bytes: a record was inserted, or a copy of one changed`);
      return;
    }
    if (same) {
      this.duplicates++;
      this.#firstDuplicate ??= at;
      return;
    }
    this.fail(at, chain.id, seal.seq, 'inserted', `a second, different record claims seq ${seal.seq}, which a line read before already has: a record was inserted (or a copy of one changed)`);
  }

  #chainRecord(chain: Chain, seal: Seal, line: string, at: Loc): void {
    const o = parseObject(line);
    if (typeof o === 'string') return this.fail(at, chain.id, seal.seq, 'invalid', `a chain record that is ${o}`);
    const type = o['type'];
    if (type === 'chain-start') {
      if (seal.seq !== 1) return this.fail(at, chain.id, seal.seq, 'inserted', `a chain start at seq ${seal.seq}: a chain starts at seq 1 only`);
      const record = readChainStart(o);
      if (typeof record === 'string') return this.fail(at, chain.id, seal.seq, 'invalid', `a chain start whose members are wrong: ${record}`);
      let key: PublicKey | null = null;
      if (record.publicKey !== null) {
        key = publicKeyFromBase64(record.publicKey, `the chain start of ${chain.id}`);
        if (key === null) return this.fail(at, chain.id, seal.seq, 'invalid', 'its "publicKey" is not an Ed25519 public key (SPKI DER in base64)');
        if (key.keyId !== record.keyId) return this.fail(at, chain.id, seal.seq, 'invalid', `its "keyId" ${record.keyId} is not the id of its "publicKey" (${key.keyId})`);
      }
      chain.start = { at, record, key };
      chain.bus = record.bus;
    } else if (type === 'checkpoint') {
      const fields = readCheckpoint(o);
      if (typeof fields === 'string') return this.fail(at, chain.id, seal.seq, 'invalid', `a checkpoint whose members are wrong: ${fields}`);
      chain.checkpoints.push({ seq: seal.seq, hash: seal.hash, at, fields });
      chain.bus ??= fields.bus;
    } else {
      const name = JSON.stringify(type).slice(0, 40);
      this.#unknownTypes.set(name, (this.#unknownTypes.get(name) ?? 0) + 1);
    }
  }

  /** Notices about what was read, once every file has been. */
  readNotices(): void {
    if (this.duplicates > 0 && this.#firstDuplicate !== null) {
      this.notices.push(`${plural(this.duplicates, 'line')} repeated a record byte for byte (the first at ${this.names[this.#firstDuplicate.file]}:${this.#firstDuplicate.line}) and ${this.duplicates === 1 ? 'was' : 'were'} counted once: a log shipper may deliver twice`);
    }
    for (const [type, n] of this.#unknownTypes) this.notices.push(`${plural(n, 'record')} of an unknown type ${type} (a newer dataplane?): checked as part of the chain, not read`);
    if (this.#unchecked > 0) this.notices.push(`${plural(this.#unchecked, 'record')} read before the record before them could not be held for checking (more than ${MAX_WAITING} at once)`);
  }
}

// ---- the checks once every file is read ----

/** What verifies a chain's signatures. */
type Signer = { from: 'public-key'; keys: Map<string, PublicKey> } | { from: 'chain-start'; key: PublicKey | null } | { from: 'none' };

function signerOf(chain: Chain, given: Map<string, PublicKey>): Signer {
  if (given.size > 0) return { from: 'public-key', keys: given };
  if (chain.start !== null) return { from: 'chain-start', key: chain.start.key };
  return { from: 'none' };
}

interface Tally {
  signedVerified: number;
  keyIds: Set<string>;
  keySource: Set<'public-key' | 'chain-start'>;
}

function messageOf(chain: string, seq: number, f: CheckpointFields): string {
  return checkpointMessage({ bus: f.bus, chain, seq, coversHash: f.covers.hash, time: f.time, reason: f.reason, records: f.records, dropped: f.dropped });
}

/** A chain's checkpoints whose signatures verified: how many, and the seq of the last. */
interface Signed {
  verified: number;
  /** 0 when none verified */
  lastSeq: number;
}

/**
 * Each checkpoint's covers and signature; returns the signatures verified. A key problem (no
 * signature, a key not given) is the same for every checkpoint of a chain: said once, counted.
 * With --public-key, a chain no checkpoint of which is signed by a key given fails: its records
 * could have been written by anyone (a chain without checkpoints never reaches a signature).
 */
function checkCheckpoints(v: Verifier, chain: Chain, given: Map<string, PublicKey>, tally: Tally): Signed {
  const signer = signerOf(chain, given);
  const keyProblems = new Map<string, { first: CheckpointRecord; count: number }>();
  const keyProblem = (cp: CheckpointRecord, message: string): void => {
    const seen = keyProblems.get(message);
    if (seen === undefined) keyProblems.set(message, { first: cp, count: 1 });
    else seen.count++;
  };
  let verified = 0;
  let lastSeq = 0;
  let unsigned = 0;
  let badSignatures = 0;
  for (const cp of chain.checkpoints) {
    const f = cp.fields;
    const fail = (kind: FailureKind, message: string): void => v.fail(cp.at, chain.id, cp.seq, kind, message);
    if (f.covers.seq !== cp.seq - 1) fail('covers', `it covers seq ${f.covers.seq}, but the record before it is seq ${cp.seq - 1}: the checkpoint was moved or changed`);
    else {
      const before = chain.hashes.get(cp.seq - 1);
      if (before !== null && before !== f.covers.hash) fail('covers', `it covers hash ${short(f.covers.hash)}, but the record before it (seq ${cp.seq - 1}) has hash ${short(before)}: the records it covers were changed`);
    }
    if (f.sig === null) {
      if (signer.from === 'public-key') keyProblem(cp, 'it is not signed, but --public-key was given: the signature was removed, or the dataplane ran without --audit-signing-key');
      else if (signer.from === 'chain-start' && signer.key !== null) keyProblem(cp, `it is not signed, but the chain start publishes key ${signer.key.keyId}: the signature was removed`);
      else unsigned++;
      continue;
    }
    let key: PublicKey | undefined;
    if (signer.from === 'none') {
      keyProblem(cp, 'its checkpoints are signed, but its chain start (seq 1) is not among the files and no --public-key was given: pass --public-key FILE (gozargah audit public-key --signing-key KEY prints it)');
      continue;
    } else if (signer.from === 'public-key') {
      key = signer.keys.get(f.keyId as string);
      if (key === undefined) {
        keyProblem(cp, `it is signed with key ${f.keyId}, which is not among the --public-key given (${[...signer.keys.keys()].join(', ')})`);
        continue;
      }
    } else {
      if (signer.key === null) {
        keyProblem(cp, `it is signed with key ${f.keyId}, but the chain start publishes no key: pass the key with --public-key`);
        continue;
      }
      if (f.keyId !== signer.key.keyId) {
        keyProblem(cp, `it is signed with key ${f.keyId}, not with the key its chain start publishes (${signer.key.keyId})`);
        continue;
      }
      key = signer.key;
    }
    if (!verifyCheckpoint(key.key, messageOf(chain.id, cp.seq, f), f.sig)) {
      fail('signature', `its signature does not verify with key ${key.keyId}: the checkpoint (its time, reason, counts or the hash it covers) was changed`);
      badSignatures++;
      continue;
    }
    verified++;
    if (cp.seq > lastSeq) lastSeq = cp.seq;
    tally.keyIds.add(key.keyId);
    tally.keySource.add(signer.from);
  }
  for (const [message, { first, count }] of keyProblems) {
    const more = count > 1 ? ` (so ${count === 2 ? 'is' : 'are'} ${plural(count - 1, 'later checkpoint')} of this chain)` : '';
    v.fail(first.at, chain.id, first.seq, signer.from === 'none' ? 'unverifiable' : 'signature', `${message}${more}`);
  }
  if (unsigned > 0 && unsigned === chain.checkpoints.length) v.notices.push(`chain ${chain.id}: its checkpoints are not signed (the dataplane ran without --audit-signing-key): the chain shows order and completeness, not origin`);
  if (given.size > 0 && chain.start?.key != null && !given.has(chain.start.key.keyId)) v.notices.push(`chain ${chain.id}: its chain start publishes key ${chain.start.key.keyId}, which is not among the --public-key given`);
  // Problems with the checkpoints there are were named above; this is a chain with none to name.
  if (signer.from === 'public-key' && verified === 0 && keyProblems.size === 0 && badSignatures === 0) {
    const at = chain.first?.at ?? chain.firstAt;
    v.fail(at, chain.id, null, 'signature', `no checkpoint of chain ${chain.id} is signed by a key given: nothing shows who wrote its ${plural(chain.hashes.count, 'record')}`);
  }
  return { verified, lastSeq };
}

/**
 * The seqs no file has, and where the chain begins: at seq 1, or at the first record after a
 * rotation (its "prev" checks it). A chain beginning anywhere else lost its head, and that first
 * record's bytes cannot be checked (its hash is taken on trust by the record after it): a
 * failure, unless --allow-partial says the files were split at arbitrary points.
 */
function checkGaps(v: Verifier, chain: Chain, allowPartial: boolean): void {
  for (const [a, b] of chain.hashes.missing()) {
    const after = chain.starts.get(b + 1);
    v.fail(after?.at ?? chain.firstAt, chain.id, b + 1, 'deleted', `${seqRange(a, b)} missing (${plural(b - a + 1, 'record')} between seq ${a - 1} and this one): deleted, or in a file not given`);
  }
  const first = chain.first;
  if (first === null || first.seq === 1) return;
  const where = `${v.names[first.at.file]}:${first.at.line}`;
  if (first.prev) v.notices.push(`chain ${chain.id} begins at seq ${first.seq} (${where}), the first record after a rotation: its earlier records are in files not given`);
  else if (allowPartial) {
    v.notices.push(`chain ${chain.id} begins at seq ${first.seq} (${where}), neither at its start nor after a rotation (--allow-partial): its earlier records are not among the files given, nothing here shows whether they were deleted (--checkpoints would), and that first record is unchecked: its bytes could have been changed`);
  } else {
    v.fail(first.at, chain.id, first.seq, 'deleted', `records before seq ${first.seq} of chain ${chain.id} are not among the files given: they were deleted, or pass the file that holds them (this record is neither the chain's start nor the first after a rotation, so its own bytes cannot be checked; --allow-partial accepts files a log shipper split at arbitrary points)`);
  }
}

/** The latest time a chain's records show (its chain start, checkpoints, and last record), or null. */
function lastTime(chain: Chain): { ms: number; text: string } | null {
  const times: string[] = chain.checkpoints.map((c) => c.fields.time);
  if (chain.start !== null) times.push(chain.start.record.time);
  const last = chain.lastLine === '' ? 'not a JSON object' : parseObject(chain.lastLine);
  if (typeof last !== 'string') {
    const time = last['type'] === undefined ? last['start'] : last['time'];
    if (typeof time === 'string') times.push(time);
  }
  let latest: { ms: number; text: string } | null = null;
  for (const text of times) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms) && (latest === null || ms > latest.ms)) latest = { ms, text };
  }
  return latest;
}

/**
 * Why `next`, whose chain start names a record of `chain`, does not account for `chain` ending
 * without a shutdown checkpoint; null when it does. The next run of the same replica of the same
 * bus, started after the last record `chain` shows, and, with --public-key, signed: its chain
 * start (so its "previousChain") is covered by a checkpoint a key given signed. The key id may
 * differ: keys rotate across restarts.
 */
function notSuccessor(chain: Chain, next: Chain, given: Map<string, PublicKey>, signed: Map<string, Signed>): string | null {
  const start = (next.start as NonNullable<Chain['start']>).record;
  if (chain.bus === null) return `the bus of ${chain.id} is not known (neither its chain start nor a checkpoint of it is among the files)`;
  if (start.bus !== chain.bus) return `it is a chain of bus ${start.bus}, not of ${chain.bus}`;
  if (chain.start === null) return `the chain start of ${chain.id}, which names its replica, is not among the files given`;
  if (start.replica !== chain.start.record.replica) return `it is a run of replica ${start.replica}, not of ${chain.start.record.replica}`;
  const seen = lastTime(chain);
  const began = Date.parse(start.time);
  if (seen === null || Number.isNaN(began) || began <= seen.ms) return `it starts at ${start.time}, not after the last record of ${chain.id} (${seen?.text ?? 'no time'})`;
  if (given.size > 0 && (signed.get(next.id)?.verified ?? 0) === 0) return 'no checkpoint of it is signed by a key given, so nothing shows the bus wrote its claim';
  return null;
}

/** How each chain ends: shutdown, rotate, named by a successor, open, or truncated. */
function checkEnds(v: Verifier, allowOpen: boolean, given: Map<string, PublicKey>, signed: Map<string, Signed>): Map<string, ChainEnd> {
  const successors = new Map<string, Chain[]>();
  for (const c of v.chains.values()) {
    const previous = c.start?.record.previousChain;
    if (previous != null) successors.set(previous.chain, [...(successors.get(previous.chain) ?? []), c]);
  }
  const ends = new Map<string, ChainEnd>();
  for (const chain of v.chains.values()) {
    const last = chain.hashes.max;
    const bySeq = new Map(chain.checkpoints.map((c) => [c.seq, c]));
    // A chain ends at its shutdown checkpoint: records after it were not written by that run.
    const shutdown = chain.checkpoints.find((c) => c.fields.reason === 'shutdown' && c.seq < last);
    if (shutdown !== undefined) v.fail(shutdown.at, chain.id, shutdown.seq, 'inserted', `${seqRange(shutdown.seq + 1, last)} after this chain's shutdown checkpoint: a chain ends there, so they were added`);

    let accounted: Chain | null = null;
    let overshot = false;
    /** chains that name this one but cannot account for its end, and why */
    const rejected: string[] = [];
    for (const next of successors.get(chain.id) ?? []) {
      const named = next.start?.record.previousChain as { seq: number; hash: string };
      const at = next.start?.at as Loc;
      if (named.seq > last) {
        overshot = true;
        v.fail(chain.lastAt, chain.id, last, 'truncated', `chain ${chain.id} ends at seq ${last} but its successor ${next.id} (${v.names[at.file]}:${at.line}) says it reached seq ${named.seq}: its last ${plural(named.seq - last, 'record')} were cut (or are in a file not given)`);
      } else if (chain.hashes.has(named.seq)) {
        if (chain.hashes.get(named.seq) !== named.hash) v.fail(at, next.id, 1, 'edited', `it names seq ${named.seq} of chain ${chain.id} with hash ${short(named.hash)}, but that record has hash ${short(chain.hashes.get(named.seq) as string)}: that record or this chain start was changed`);
        else {
          const why = notSuccessor(chain, next, given, signed);
          if (why === null) accounted ??= next;
          else rejected.push(`chain ${next.id} (${v.names[at.file]}:${at.line}) names it but is not its successor: ${why}`);
        }
      }
    }
    const notNamed = rejected.length === 0 ? 'no later chain names it' : rejected.join('; ');
    const lastCheckpoint = bySeq.get(last);
    const reason = lastCheckpoint?.fields.reason;
    let end: ChainEnd;
    if (overshot) end = 'truncated';
    else if (reason === 'shutdown') end = 'shutdown';
    else if (reason === 'rotate') {
      end = 'rotate';
      v.notices.push(`chain ${chain.id}: its last record given is a rotate checkpoint (seq ${last}): the files after it were not given`);
    } else if (accounted !== null) {
      end = 'successor';
      const named = accounted.start?.record.previousChain as { seq: number };
      v.notices.push(`chain ${chain.id} ends at seq ${last} without a shutdown checkpoint (the replica was killed); its successor ${accounted.id} names seq ${named.seq}${last > named.seq ? `, and ${plural(last - named.seq, 'record')} after it are not covered by any checkpoint` : ''}`);
    } else if (allowOpen) {
      end = 'open';
      const lastSigned = signed.get(chain.id)?.lastSeq ?? 0;
      const unsigned =
        lastSigned > 0 && last > lastSigned
          ? `; ${plural(last - lastSigned, 'record')} after the last signed checkpoint (seq ${lastSigned}) ${last - lastSigned === 1 ? 'is' : 'are'} not signed yet`
          : lastSigned === 0 && (given.size > 0 || chain.start?.key != null)
            ? `; none of its ${plural(chain.hashes.count, 'record')} is covered by a signed checkpoint yet`
            : '';
      v.notices.push(`chain ${chain.id} is open at seq ${last} (--allow-open)${unsigned}${rejected.length === 0 ? '' : `; ${notNamed}`}`);
    } else {
      end = 'truncated';
      const what = lastCheckpoint !== undefined ? `an ${lastCheckpoint.fields.reason} checkpoint` : last === 1 && chain.start !== null ? 'its chain start' : 'a transaction';
      v.fail(chain.lastAt, chain.id, last, 'truncated', `chain ${chain.id} ends at seq ${last} with ${what}, not a shutdown or rotate checkpoint, and ${notNamed}: records after it were cut, or the log is still being written (--allow-open)`);
    }
    ends.set(chain.id, end);
  }
  return ends;
}

/** Whether an external checkpoint's signature verifies, in words for a message. */
function externalSignature(e: ExternalCheckpoint, chain: Chain | undefined, given: Map<string, PublicKey>): string {
  if (e.fields === null || e.fields.sig === null) return '';
  const key = given.get(e.fields.keyId as string) ?? (chain?.start?.key?.keyId === e.fields.keyId ? chain?.start?.key : undefined);
  if (key == null) return '';
  return verifyCheckpoint(key.key, messageOf(e.head.chain, e.head.seq, e.fields), e.fields.sig)
    ? ` (its signature verifies with key ${key.keyId})`
    : ` (but its signature does not verify with key ${key.keyId}: that external entry may not be genuine)`;
}

/** Each externally kept checkpoint must be in the files; returns those found. */
function checkExternal(v: Verifier, record: ExternalRecord, fileIndex: number, given: Map<string, PublicKey>): number {
  for (const [line, why] of record.problems) v.fail({ file: fileIndex, line }, null, null, 'invalid', `not a checkpoint as the dataplane logs it: ${why}`);
  const onlyExternal = new Map<string, ExternalCheckpoint[]>();
  const missing = new Map<string, ExternalCheckpoint[]>();
  let found = 0;
  for (const e of record.entries) {
    const at = { file: fileIndex, line: e.line };
    const chain = v.chains.get(e.head.chain);
    if (chain === undefined) {
      onlyExternal.set(e.head.chain, [...(onlyExternal.get(e.head.chain) ?? []), e]);
      continue;
    }
    const held = chain.hashes.get(e.head.seq);
    if (held === null) {
      missing.set(chain.id, [...(missing.get(chain.id) ?? []), e]);
      continue;
    }
    if (held !== e.head.hash) {
      const inFiles = chain.checkpoints.find((c) => c.seq === e.head.seq);
      v.fail(inFiles?.at ?? at, chain.id, e.head.seq, 'edited', `the external record (${record.file}:${e.line}) has checkpoint seq ${e.head.seq} with hash ${short(e.head.hash)}, the files ${inFiles === undefined ? 'have a record that is not a checkpoint' : 'have it'} with hash ${short(held)}: the record in the files (or its external copy) was changed`);
      continue;
    }
    const before = e.head.seq === 1 ? ZERO_HASH : chain.hashes.get(e.head.seq - 1);
    if (e.text !== null && before !== null && chainHash(before, canonicalOf(e.text)) !== e.head.hash) {
      v.fail(at, chain.id, e.head.seq, 'edited', `the external copy of checkpoint seq ${e.head.seq} is not byte for byte the line its hash names: the external record was changed`);
      continue;
    }
    found++;
  }
  for (const [id, entries] of missing) {
    const chain = v.chains.get(id) as Chain;
    entries.sort((a, b) => a.head.seq - b.head.seq);
    const last = entries[entries.length - 1] as ExternalCheckpoint;
    const earlier = entries.length > 1 ? ` and ${plural(entries.length - 1, 'earlier one')} (from seq ${(entries[0] as ExternalCheckpoint).head.seq})` : '';
    const when = last.fields === null ? '' : ` (${last.fields.time})`;
    v.fail({ file: fileIndex, line: last.line }, id, last.head.seq, 'deleted', `the external record has checkpoint seq ${last.head.seq}${when}${earlier} of chain ${id}, which the files do not: records up to seq ${last.head.seq} were deleted${externalSignature(last, chain, given)}`);
  }
  for (const [id, entries] of onlyExternal) {
    entries.sort((a, b) => a.head.seq - b.head.seq);
    const first = entries[0] as ExternalCheckpoint;
    const last = entries[entries.length - 1] as ExternalCheckpoint;
    const from = (first.fields ?? last.fields)?.time;
    const bus = last.fields === null ? '' : ` (bus ${last.fields.bus}, ${from === last.fields.time ? `at ${from}` : `${from} to ${last.fields.time}`})`;
    v.fail({ file: fileIndex, line: first.line }, id, last.head.seq, 'deleted', `chain ${id}${bus} is in the external record (${plural(entries.length, 'checkpoint')}, up to seq ${last.head.seq}) but in none of the files: a whole file was deleted, or not given${externalSignature(last, undefined, given)}`);
  }
  return found;
}

function readKeys(files: readonly string[]): Map<string, PublicKey> {
  const keys = new Map<string, PublicKey>();
  for (const file of files) {
    try {
      const key = readPublicKey(file);
      keys.set(key.keyId, key);
    } catch (err) {
      if (err instanceof AuditKeyError) throw new AuditFailure(err.message);
      throw err;
    }
  }
  return keys;
}

/** Verifies the files; throws AuditFailure when a file or key cannot be read. */
export async function verifyAudit(options: VerifyOptions): Promise<VerifyResult> {
  const started = process.hrtime.bigint();
  const given = readKeys(options.publicKeys ?? []);
  const allowOpen = options.allowOpen === true;
  const v = new Verifier(allowOpen);
  for (const file of options.files) {
    v.beginFile(displayName(file));
    await readText(file, (text, complete) => v.text(text, complete), options.stdin);
    v.endFile();
  }
  const external: ExternalRecord[] = [];
  for (const file of options.checkpoints ?? []) external.push(await readExternalCheckpoints(file, options.stdin));
  v.readNotices();

  const tally: Tally = { signedVerified: 0, keyIds: new Set(), keySource: new Set() };
  const signed = new Map<string, Signed>();
  for (const chain of v.chains.values()) {
    checkGaps(v, chain, options.allowPartial === true);
    const s = checkCheckpoints(v, chain, given, tally);
    signed.set(chain.id, s);
    tally.signedVerified += s.verified;
  }
  const ends = checkEnds(v, allowOpen, given, signed);
  let externalFound = 0;
  for (const record of external) {
    const index = v.names.length;
    v.names.push(record.file);
    externalFound += checkExternal(v, record, index, given);
  }
  if (v.records === 0) {
    v.findings.add(0, { file: options.files.map(displayName).join(', '), line: null, chain: null, seq: null, kind: 'deleted', message: 'no sealed audit records: nothing was verified (empty files, or every record deleted)' });
  }

  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const chains = [...v.chains.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    ok: v.findings.total === 0,
    files: options.files.length,
    chains: chains.map((c) => ({
      chain: c.id,
      bus: c.bus,
      replica: c.start?.record.replica ?? null,
      firstSeq: c.hashes.min,
      lastSeq: c.hashes.max,
      records: c.hashes.count,
      transactions: c.transactions,
      checkpoints: c.checkpoints.length,
      signedVerified: signed.get(c.id)?.verified ?? 0,
      end: ends.get(c.id) as ChainEnd,
    })),
    records: v.records,
    transactions: chains.reduce((n, c) => n + c.transactions, 0),
    checkpoints: chains.reduce((n, c) => n + c.checkpoints.length, 0),
    signedVerified: tally.signedVerified,
    keyIds: [...tally.keyIds].sort(),
    keySource: tally.keySource.has('chain-start') ? 'chain-start' : tally.keySource.has('public-key') ? 'public-key' : null,
    externalCheckpoints: externalFound,
    duplicates: v.duplicates,
    notices: v.notices,
    failures: v.findings.first(),
    failureCount: v.findings.total,
    seconds,
    recordsPerSecond: seconds > 0 ? Math.round(v.records / seconds) : 0,
  };
}

// The audit record's evidence format, shared by the dataplane that writes it and the CLI that
// verifies it (docs/decisions/0002-audit-evidence.md). Every line is one JSON object whose last
// members are always, in this order:
//
//   [,"prev":"<hex>"],"chain":"<id>","seq":<n>,"hash":"<hex>"}
//
// `hash` = SHA-256 over the previous record's hash (64 lowercase hex characters; 64 zeros for a
// chain's first record) followed by the record's canonical bytes: the line exactly as written,
// without its `,"hash":"..."` member. Hashing the bytes as written, not a re-serialization,
// means any change to any byte shows, and a verifier needs no JSON canonicalization: it slices.
// `prev` is carried by the first record written after the audit file was reopened (a rotation),
// so a rotated file can be verified without the one before it.
import { hash } from 'node:crypto';

/** The hash a chain's first record is chained to. */
export const ZERO_HASH = '0'.repeat(64);
/** SHA-256 of no bytes: the request hash of a request without a body. */
export const EMPTY_BODY_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** `,"hash":"` + 64 hex + `"}` */
const HASH_TAIL = 75;
const HASH_MEMBER = ',"hash":"';

/** Record types besides transactions (which carry no `type`). */
export type RecordType = 'chain-start' | 'checkpoint';
/** Why a checkpoint was written: the 10 s timer, the file being rotated (SIGHUP), or the replica stopping. */
export type CheckpointReason = 'interval' | 'rotate' | 'shutdown';

/** The evidence members at the end of a line. */
export interface Seal {
  chain: string;
  seq: number;
  hash: string;
  /** present on the first record after a reopen: the hash of the record before it */
  prev: string | null;
}

/** The hash of a record, from the previous hash and the record's canonical bytes. */
export function chainHash(prev: string, canonical: string): string {
  return hash('sha256', prev + canonical);
}

/**
 * Seals a record: `body` is the JSON object without its closing brace and without the
 * evidence members. Returns the whole line (no newline) and its hash.
 */
export function seal(body: string, chain: string, seq: number, prevHash: string, carryPrev: boolean): { line: string; hash: string } {
  const members = `${body}${carryPrev ? `,"prev":"${prevHash}"` : ''},"chain":"${chain}","seq":${seq}`;
  const h = chainHash(prevHash, `${members}}`);
  return { line: `${members}${HASH_MEMBER}${h}"}`, hash: h };
}

/** The canonical bytes of a sealed line: the line without its hash member. */
export function canonicalOf(line: string): string {
  return `${line.slice(0, -HASH_TAIL)}}`;
}

const HEX64 = /^[0-9a-f]{64}$/;
const CHAIN_ID = /^[0-9a-z-]{1,64}$/;

/** Reads the evidence members from the end of a line, or says why they are not there. */
export function readSeal(line: string): Seal | string {
  if (line.length < HASH_TAIL + 20 || !line.endsWith('"}') || line.slice(-HASH_TAIL, -HASH_TAIL + HASH_MEMBER.length) !== HASH_MEMBER) return 'no "hash" member at its end';
  const h = line.slice(-66, -2);
  if (!HEX64.test(h)) return '"hash" is not 64 hex characters';
  const end = line.length - HASH_TAIL;
  const seqAt = line.lastIndexOf(',"seq":', end);
  if (seqAt < 0) return 'no "seq" before "hash"';
  const seqText = line.slice(seqAt + 7, end);
  // at most 15 digits: every such number is exact in a double
  if (!/^[1-9]\d{0,14}$/.test(seqText)) return '"seq" is not a positive integer';
  const chainAt = line.lastIndexOf(',"chain":"', seqAt);
  if (chainAt < 0 || line[seqAt - 1] !== '"') return 'no "chain" before "seq"';
  const chain = line.slice(chainAt + 10, seqAt - 1);
  if (!CHAIN_ID.test(chain)) return '"chain" is not a chain id';
  let prev: string | null = null;
  // `,"prev":"` + 64 hex + `"` is 74 characters
  if (line.startsWith(',"prev":"', chainAt - 74) && line[chainAt - 1] === '"') {
    prev = line.slice(chainAt - 65, chainAt - 1);
    if (!HEX64.test(prev)) prev = null;
  }
  return { chain, seq: Number(seqText), hash: h, prev };
}

/** A chain id: unique per replica start, short enough to repeat on every line. */
export function newChainId(randomHex: string, startMs: number): string {
  return `${startMs.toString(36)}-${randomHex.slice(0, 8)}`;
}

/**
 * What a checkpoint's Ed25519 signature covers. Everything a verifier needs to trust the chain
 * up to the checkpoint: the record before it (`coversHash`, which chains every earlier record),
 * where and when, why (so an interval checkpoint cannot pass for the last one of a file), and
 * the counts of records written and lost so far. `seq` is the checkpoint's own; the record it
 * covers is seq - 1 (a verifier checks that `covers.seq` says so).
 */
export function checkpointMessage(c: { bus: string; chain: string; seq: number; coversHash: string; time: string; reason: CheckpointReason; records: number; dropped: number }): string {
  return `gozargah-audit-checkpoint/v1\n${c.bus}\n${c.chain}\n${c.seq}\n${c.coversHash}\n${c.time}\n${c.reason}\n${c.records}\n${c.dropped}\n`;
}

// The chain's own records (docs/decisions/0002-audit-evidence.md): the chain start (seq 1) and
// the checkpoints, read from their JSON, with every member checked for its type. The only lines
// the verifier parses: a transaction is checked by its hash alone.
import type { CheckpointReason } from '../../api/audit/index.ts';

export interface ChainHead {
  chain: string;
  seq: number;
  hash: string;
}

export interface ChainStart {
  time: string;
  bus: string;
  replica: string;
  keyId: string | null;
  /** SPKI DER in base64 */
  publicKey: string | null;
  pseudonymKeyId: string | null;
  previousChain: ChainHead | null;
}

export interface CheckpointFields {
  time: string;
  bus: string;
  reason: CheckpointReason;
  covers: { seq: number; hash: string };
  records: number;
  dropped: number;
  keyId: string | null;
  sig: string | null;
}

const HEX64 = /^[0-9a-f]{64}$/;
const REASONS: readonly string[] = ['interval', 'rotate', 'shutdown'] satisfies CheckpointReason[];

type Json = { [key: string]: unknown };

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isString = (v: unknown): v is string => typeof v === 'string';
const isNullableString = (v: unknown): v is string | null => v === null || typeof v === 'string';

/** The JSON object of a line, or why it is not one. */
export function parseObject(line: string): Json | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  return isObject(value) ? value : 'not a JSON object';
}

/** A `{chain, seq, hash}` naming a record, or null when `v` is not one. */
export function chainHead(v: unknown): ChainHead | null {
  if (!isObject(v) || !isString(v['chain']) || !Number.isSafeInteger(v['seq']) || (v['seq'] as number) < 1 || !isString(v['hash']) || !HEX64.test(v['hash'])) return null;
  return { chain: v['chain'], seq: v['seq'] as number, hash: v['hash'] };
}

/** A chain start's members, or what is wrong with them. */
export function readChainStart(o: Json): ChainStart | string {
  if (!isString(o['time']) || !isString(o['bus']) || !isString(o['replica'])) return 'its "time", "bus" or "replica" is not a string';
  if (!isNullableString(o['keyId']) || !isNullableString(o['publicKey']) || !isNullableString(o['pseudonymKeyId'])) return 'its "keyId", "publicKey" or "pseudonymKeyId" is neither a string nor null';
  if ((o['keyId'] === null) !== (o['publicKey'] === null)) return 'it has a "keyId" without a "publicKey", or the other way round';
  const previous = o['previousChain'];
  const previousChain = previous === null ? null : chainHead(previous);
  if (previous !== null && previousChain === null) return 'its "previousChain" is neither null nor {"chain","seq","hash"}';
  return { time: o['time'], bus: o['bus'], replica: o['replica'], keyId: o['keyId'], publicKey: o['publicKey'], pseudonymKeyId: o['pseudonymKeyId'], previousChain };
}

/** A checkpoint's members, or what is wrong with them. */
export function readCheckpoint(o: Json): CheckpointFields | string {
  if (!isString(o['time']) || !isString(o['bus'])) return 'its "time" or "bus" is not a string';
  if (!isString(o['reason']) || !REASONS.includes(o['reason'])) return `its "reason" is not one of ${REASONS.join(', ')}`;
  const covers = o['covers'];
  if (!isObject(covers) || !Number.isSafeInteger(covers['seq']) || (covers['seq'] as number) < 0 || !isString(covers['hash']) || !HEX64.test(covers['hash'])) return 'its "covers" is not {"seq","hash"}';
  if (!isCount(o['records']) || !isCount(o['dropped'])) return 'its "records" or "dropped" is not a count';
  if (!isNullableString(o['keyId']) || !isNullableString(o['sig'])) return 'its "keyId" or "sig" is neither a string nor null';
  if (o['sig'] !== null && o['keyId'] === null) return 'it has a "sig" without a "keyId"';
  return {
    time: o['time'],
    bus: o['bus'],
    reason: o['reason'] as CheckpointReason,
    covers: { seq: covers['seq'] as number, hash: covers['hash'] },
    records: o['records'],
    dropped: o['dropped'],
    keyId: o['keyId'],
    sig: o['sig'],
  };
}

// Audit files read as text in large chunks of whole lines: plain files, gzip (.gz) or standard
// input (-). The verifier and the search split the lines themselves: a busy replica writes
// millions a day, and readline's per-line events cost more than hashing the line.
import { isAscii } from 'node:buffer';
import { open } from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AuditFailure } from './errors.ts';

export const STDIN = '-';

/** How a file is named in messages. */
export const displayName = (file: string): string => (file === STDIN ? '<stdin>' : file);

const READ_CHUNK = 1 << 20;

async function inputOf(file: string, stdin: Readable): Promise<Readable> {
  if (file === STDIN) return stdin;
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    throw new AuditFailure(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const stream = handle.createReadStream({ highWaterMark: READ_CHUNK });
  // pipeline carries a read error on to the gunzip stream, where the loop below sees it.
  return file.endsWith('.gz') ? pipeline(stream, createGunzip({ chunkSize: READ_CHUNK / 4 }), () => {}) : stream;
}

/**
 * The text of bytes that end at a line boundary ('\n' is never part of a multi-byte character).
 * Most audit lines are ASCII, and latin1 decodes ASCII as UTF-8 does, at twice the speed.
 */
function decode(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

/**
 * Calls `onLines` with text made of whole lines, each ending in '\n', in file order. A last line
 * without its newline (a file cut short, or still being written) comes last, alone, with
 * `complete` false. Throws AuditFailure when the file cannot be opened or read (a bad gzip).
 */
export async function readText(file: string, onLines: (text: string, complete: boolean) => void, stdin: Readable = process.stdin): Promise<void> {
  const input = await inputOf(file, stdin);
  /** the bytes of a line begun in an earlier chunk */
  let carry: Buffer[] = [];
  const chunks = input[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Buffer | string>;
    try {
      next = (await chunks.next()) as IteratorResult<Buffer | string>;
    } catch (err) {
      throw new AuditFailure(`cannot read ${displayName(file)}: ${(err as Error).message}`);
    }
    if (next.done === true) break;
    // A stream with an encoding set (or one made from strings) gives strings.
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    const last = chunk.lastIndexOf(0x0a);
    if (last < 0) {
      carry.push(chunk);
      continue;
    }
    let from = 0;
    if (carry.length > 0) {
      from = chunk.indexOf(0x0a) + 1;
      onLines(decode(Buffer.concat([...carry, chunk.subarray(0, from)])), true);
      carry = [];
    }
    if (last + 1 > from) onLines(decode(chunk.subarray(from, last + 1)), true);
    if (last + 1 < chunk.length) carry.push(chunk.subarray(last + 1));
  }
  if (carry.length > 0) onLines(decode(Buffer.concat(carry)), false);
}

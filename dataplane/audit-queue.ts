// The audit log's bounded queue and its accounting, without any I/O: lines wait here until the
// sink takes them, and every record ends up counted exactly once, as written or as dropped
// (by reason). recorded = written + dropped + queued, at every moment.

/** Why a record never reached the sink. */
export type DropReason = 'queue_full' | 'write_error' | 'shutdown';
export const DROP_REASONS: readonly DropReason[] = ['queue_full', 'write_error', 'shutdown'];

/** Lines joined into one buffer for one write; `offset` bytes of it are in the sink already. */
export interface Batch {
  buffer: Buffer;
  records: number;
  offset: number;
}

const NEWLINE = 0x0a;

export class AuditQueue {
  readonly maxBytes: number;
  #lines: string[] = [];
  /** an estimate (UTF-16 length + newline): exact for ASCII, and measuring each line would cost a pass per record */
  #pendingBytes = 0;
  #batch: Batch | null = null;
  #batchBytes = 0;
  written = 0;
  dropped: Record<DropReason, number> = { queue_full: 0, write_error: 0, shutdown: 0 };
  /** lines ever queued: the n-th line queued is written once `written` reaches n */
  pushed = 0;
  /** lines queued from this count on wait for release() (they belong in the next file) */
  #holdFrom = Infinity;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Whether a line of `length` characters would be queued now. */
  fits(length: number): boolean {
    return this.#pendingBytes + this.#batchBytes + length + 1 <= this.maxBytes;
  }

  /** Queues a line, or counts it dropped when the queue is at its bound. */
  push(line: string): boolean {
    const size = line.length + 1;
    if (this.#pendingBytes + this.#batchBytes + size > this.maxBytes) {
      this.dropped.queue_full++;
      return false;
    }
    this.#lines.push(line);
    this.#pendingBytes += size;
    this.pushed++;
    return true;
  }

  /** Lines queued from now on stay out of batches until release(): the file is about to be rotated. */
  hold(): void {
    this.#holdFrom = this.pushed;
  }

  release(): void {
    this.#holdFrom = Infinity;
  }

  /** A record that never entered the queue (the sink is gone, or the log is closed). */
  drop(reason: DropReason): void {
    this.dropped[reason]++;
  }

  /** Lines waiting for the next batch. */
  get pendingRecords(): number {
    return this.#lines.length;
  }

  /** Every record not yet written nor dropped, the batch in progress included. */
  get queuedRecords(): number {
    return this.#lines.length + (this.#batch?.records ?? 0);
  }

  get queuedBytes(): number {
    return this.#pendingBytes + this.#batchBytes;
  }

  get droppedTotal(): number {
    return this.dropped.queue_full + this.dropped.write_error + this.dropped.shutdown;
  }

  /** The batch begun and not yet whole in the sink, if any. */
  get batch(): Batch | null {
    return this.#batch;
  }

  /** The batch to write: the one begun (its remainder goes before anything else), else every pending line. */
  next(): Batch | null {
    if (this.#batch !== null) return this.#batch;
    const allowed = Math.min(this.#lines.length, this.#holdFrom - (this.pushed - this.#lines.length));
    if (allowed <= 0) return null;
    if (allowed === this.#lines.length) {
      this.#batch = { buffer: Buffer.from(`${this.#lines.join('\n')}\n`), records: this.#lines.length, offset: 0 };
      this.#batchBytes = this.#pendingBytes;
      this.#lines = [];
      this.#pendingBytes = 0;
      return this.#batch;
    }
    const taken = this.#lines.splice(0, allowed);
    let size = 0;
    for (const line of taken) size += line.length + 1;
    this.#batch = { buffer: Buffer.from(`${taken.join('\n')}\n`), records: taken.length, offset: 0 };
    this.#batchBytes = size;
    this.#pendingBytes -= size;
    return this.#batch;
  }

  /** `bytes` more of the batch reached the sink; true once all of it has. */
  advance(bytes: number): boolean {
    const batch = this.#batch;
    if (batch === null) return true;
    batch.offset += bytes;
    if (batch.offset < batch.buffer.length) return false;
    this.written += batch.records;
    this.#batch = null;
    this.#batchBytes = 0;
    return true;
  }

  /** true when nothing of a line is half written: the sink may be swapped (reopened) here. */
  get atLineStart(): boolean {
    const batch = this.#batch;
    return batch === null || batch.offset === 0 || batch.buffer[batch.offset - 1] === NEWLINE;
  }

  /** The reader of a cut line is gone (a pipe closed): the whole line goes again, to the next reader. */
  rewindToLine(): void {
    const batch = this.#batch;
    if (batch !== null && batch.offset > 0) batch.offset = batch.buffer.lastIndexOf(NEWLINE, batch.offset - 1) + 1;
  }

  /**
   * Before the sink is swapped (reopened) at a line start: the lines already in the old file
   * count as written, and the batch keeps only the rest, so a later take-back on the new file
   * never reaches into lines that are not this batch's.
   */
  trimWritten(): void {
    const batch = this.#batch;
    if (batch === null || batch.offset === 0) return;
    const whole = wholeLines(batch);
    this.written += whole;
    batch.records -= whole;
    batch.buffer = batch.buffer.subarray(batch.offset);
    this.#batchBytes = Math.max(0, this.#batchBytes - batch.offset);
    batch.offset = 0;
  }

  /** The part of the batch already in the sink was taken back (truncated): write it all again. */
  rewind(): void {
    if (this.#batch !== null) this.#batch.offset = 0;
  }

  /**
   * Gives up on the batch: the lines already whole in the sink count as written, the rest as
   * dropped. Returns how many were dropped.
   */
  dropBatch(reason: DropReason): number {
    const batch = this.#batch;
    if (batch === null) return 0;
    const whole = wholeLines(batch);
    const lost = batch.records - whole;
    this.written += whole;
    this.dropped[reason] += lost;
    this.#batch = null;
    this.#batchBytes = 0;
    return lost;
  }

  /** Gives up on everything queued (the batch in progress included). Returns how many were dropped. */
  dropAll(reason: DropReason): number {
    const lost = this.dropBatch(reason) + this.#lines.length;
    this.dropped[reason] += this.#lines.length;
    this.#lines = [];
    this.#pendingBytes = 0;
    return lost;
  }
}

/** Lines of the batch whose newline is in the sink already. */
function wholeLines(batch: Batch): number {
  let whole = 0;
  for (let i = batch.buffer.indexOf(NEWLINE); i >= 0 && i < batch.offset; i = batch.buffer.indexOf(NEWLINE, i + 1)) whole++;
  return whole;
}

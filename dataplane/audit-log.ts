// The audit log: one JSON line per transaction, batched (one write every FLUSH_MS or
// FLUSH_RECORDS records), written asynchronously through a bounded queue. A failing sink never
// stops the bus and never loses a record without counting it: while the sink is down the queue
// holds what it can and retries; what does not fit, or cannot be written, is counted as dropped
// by reason. The sink going down and coming back is logged once per transition.
//
// Every line is sealed into this run's hash chain as it enters the queue (audit-chain.ts), with
// a checkpoint every few seconds (--audit-checkpoint-seconds), as the last line of a file rotated on SIGHUP, and at
// shutdown. A checkpoint, once in the file, is repeated in the process log: that copy is the
// external record `gozargah audit verify --checkpoints` compares the file with.
import type { CheckpointReason } from '../api/audit/index.ts';
import type { Log } from './loader.ts';
import type { Transaction } from './metering.ts';
import type { AuditChain, Checkpoint } from './audit-chain.ts';
import { AuditQueue, type DropReason } from './audit-queue.ts';
import { auditSink, type AuditSink } from './audit-sink.ts';

/** Batched JSON lines: one write every FLUSH_MS (or FLUSH_RECORDS records), not one per request. */
const FLUSH_MS = 50;
const FLUSH_RECORDS = 4096;
/** While the sink is down, how often to try again (an open or one write: cheap). */
const RETRY_MS = 1000;
/** ... and while shutting down, within the bounded wait. */
const CLOSING_RETRY_MS = 100;
/** Above this share of the queue, strict mode refuses calls: room is left for those in flight. */
const HIGH_WATER = 0.75;
/** The most the seal adds to a line: prev (74), chain (~32), seq (~24), hash (75). */
const SEAL_MAX = 220;
/** Room a transaction leaves in the queue, so a rotation or shutdown checkpoint always fits. */
const CHECKPOINT_ROOM = 4096;

/** up: writes succeed; down: the last write or open failed, retrying; gone: the reader left for good. */
export type SinkState = 'up' | 'down' | 'gone';

export interface AuditStatus {
  sink: string;
  state: SinkState;
  /** false while the sink is down or the queue is above its high-water mark */
  available: boolean;
  queuedRecords: number;
  queuedBytes: number;
  maxQueueBytes: number;
  writtenRecords: number;
  droppedRecords: Record<DropReason, number>;
  /** how long the write in progress has been waiting (a slow reader), or null */
  writingForMs: number | null;
  downSince: string | null;
  lastError: { code: string; message: string; at: string } | null;
}

/**
 * A transaction's JSON object without its closing brace (the seal, or a brace, ends it); built
 * by hand in a fixed order (JSON.stringify of an object per request was a hot spot).
 */
export function auditBody(t: Transaction, start: string, busField: string): string {
  const q = JSON.stringify;
  return (
    `{"requestId":${q(t.requestId)},${busField}"start":"${start}","durationMs":${Math.round(t.durationMs * 1000) / 1000},` +
    `"client":${q(t.client)},"binding":${q(t.binding)},"provider":${q(t.provider)},"route":${q(t.route)},"method":${q(t.method)},` +
    `"status":${t.status},"code":${q(t.code)},"requestBytes":${t.requestBytes},"responseBytes":${t.responseBytes},"params":${t.params === null ? 'null' : q(t.params)},` +
    `"fields":${t.fields === null ? 'null' : q(t.fields)},"requestHash":${t.requestHash === null ? 'null' : `"${t.requestHash}"`},"responseHash":${t.responseHash === null ? 'null' : `"${t.responseHash}"`}`
  );
}

/** A whole unsealed line (--audit-evidence=off, and tools that write records of their own). */
export function auditLine(t: Transaction, start: string, busField: string): string {
  return `${auditBody(t, start, busField)}}`;
}

export interface AuditLogOptions {
  /** file path, or null for standard output */
  path: string | null;
  /** the bus every record names: a report over several buses' logs tells them apart */
  bus: string;
  maxQueueBytes: number;
  log: Log;
  /** this run's hash chain; null with --audit-evidence=off (plain lines) */
  chain: AuditChain | null;
  /** a checkpoint at least this often while records are added */
  checkpointMs: number;
  /** a checkpoint has reached the file: its external copy, and the head kept for the next run */
  checkpointed: (checkpoint: Checkpoint) => void;
}

export class AuditLog {
  #queue: AuditQueue;
  #sink: AuditSink;
  #log: Log;
  /** `"bus":"name",`, built once */
  #busField: string;
  #state: SinkState = 'up';
  /** an open, write, take-back or reopen in progress: one at a time, so lines keep their order */
  #busy = false;
  #writeStarted = -1;
  #timer: NodeJS.Timeout | null = null;
  /** the batch timer fired while busy: write again as soon as the sink is free */
  #due = false;
  #retry: NodeJS.Timeout | null = null;
  #reopenWanted = false;
  #highWater: number;
  #full = false;
  #downSince: number | null = null;
  #lastError: AuditStatus['lastError'] = null;
  #closing = false;
  #closed = false;
  #settled: (() => void) | null = null;
  #isoMs = -1;
  #isoText = '';
  #chain: AuditChain | null;
  #checkpointed: (checkpoint: Checkpoint) => void;
  /** checkpoints queued, with the line count at which each is in the file */
  #awaiting: { at: number; checkpoint: Checkpoint }[] = [];
  /**
   * Where the chain's own lines (start, checkpoints) are in the queue, by line count: they are
   * not transactions, and the written and dropped counts are of transactions, one per request.
   */
  #chainLines: number[] = [];
  #chainLinesWritten = 0;
  #checkpointTimer: NodeJS.Timeout | null = null;
  /** a rotation (SIGHUP) is waiting for the lines before it to reach the old file */
  #rotating = false;
  /** the shutdown checkpoint is queued: it is the chain's last line, nothing is sealed after it */
  #sealed = false;

  constructor(options: AuditLogOptions) {
    this.#queue = new AuditQueue(options.maxQueueBytes);
    this.#highWater = options.maxQueueBytes * HIGH_WATER;
    this.#log = options.log;
    this.#busField = `"bus":${JSON.stringify(options.bus)},`;
    this.#sink = auditSink(options.path);
    this.#chain = options.chain;
    this.#checkpointed = options.checkpointed;
    if (this.#chain !== null) {
      this.#queue.push(this.#chain.start(new Date().toISOString()));
      this.#chainLines.push(this.#queue.pushed);
      this.#checkpointTimer = setInterval(() => this.#checkpoint('interval'), options.checkpointMs);
      this.#checkpointTimer.unref();
    }
    // Open now, so a missing directory is reported at start rather than at the first request.
    this.#busy = true;
    this.#sink.open(this.#opened);
  }

  /** Cheap enough to ask per request (strict mode): the sink is up and the queue has room. */
  get available(): boolean {
    return this.#state === 'up' && this.#queue.queuedBytes <= this.#highWater;
  }

  write(t: Transaction): void {
    if (this.#state === 'gone' || this.#closed || this.#sealed) return this.#queue.drop(this.#state === 'gone' ? 'write_error' : 'shutdown');
    const body = auditBody(t, this.#iso(t.start), this.#busField);
    // Sealed only once it is sure to be queued: a record that does not fit never takes a seq.
    if (!this.#queue.fits(body.length + SEAL_MAX + CHECKPOINT_ROOM)) {
      this.#queue.drop('queue_full');
      return this.#noteFull();
    }
    this.#queue.push(this.#chain === null ? `${body}}` : this.#chain.transaction(body));
    if (this.#queue.pendingRecords >= FLUSH_RECORDS) this.#pump();
    else this.#timer ??= setTimeout(this.#tick, FLUSH_MS);
  }

  /** Writes what is queued now rather than at the next tick. */
  flush(): void {
    this.#pump();
  }

  /** SIGHUP: close the file and open the path again (logrotate's rename or a deletion); retry at once when down. */
  reopen(): void {
    if (this.#closed) return;
    if (this.#closing) {
      // The file is about to end with the shutdown checkpoint; the next start opens the path afresh.
      this.#log({ level: 'info', msg: 'audit log not reopened: shutting down', sink: this.#sink.name });
      return;
    }
    if (!this.#sink.reopens) {
      this.#log({ level: 'info', msg: 'audit log is standard output: nothing to reopen', sink: this.#sink.name });
      return;
    }
    // The old file ends with a checkpoint, and the lines after it wait for the new file, whose
    // first line carries the hash before it: each file verifies on its own.
    if (this.#chain !== null && this.#state !== 'gone') {
      this.#checkpoint('rotate');
      this.#queue.hold();
      this.#chain.fileStart();
      this.#rotating = true;
    }
    this.#reopenWanted = true;
    if (this.#retry !== null) {
      clearTimeout(this.#retry);
      this.#retry = null;
    }
    this.#pump();
  }

  /** Queues a checkpoint when there is room (an interval one only when records were added since the last). */
  #checkpoint(reason: CheckpointReason): void {
    const chain = this.#chain;
    if (chain === null || this.#closed || this.#state === 'gone') return;
    // A signature costs tens of microseconds: skip the checkpoint before signing when it cannot be queued.
    if (!this.#queue.fits(1024)) {
      this.#log({ level: 'warn', msg: 'audit checkpoint skipped: the audit queue is full', reason, chain: chain.id, seq: chain.seq });
      return;
    }
    const checkpoint = chain.checkpoint(reason, this.#queue.droppedTotal, new Date().toISOString());
    if (checkpoint === null) return;
    this.#queue.push(checkpoint.line);
    this.#chainLines.push(this.#queue.pushed);
    this.#awaiting.push({ at: this.#queue.pushed, checkpoint });
    this.#pump();
  }

  /** Checkpoints now in the file are handed on (logged, kept for the next run). */
  #noteCheckpoints(): void {
    while (this.#awaiting.length > 0 && (this.#awaiting[0] as { at: number }).at <= this.#queue.written) {
      this.#checkpointed((this.#awaiting.shift() as { checkpoint: Checkpoint }).checkpoint);
    }
  }

  /** Transactions written: lines written, less the chain's own. */
  #transactionsWritten(): number {
    while (this.#chainLines.length > 0 && (this.#chainLines[0] as number) <= this.#queue.written) {
      this.#chainLines.shift();
      this.#chainLinesWritten++;
    }
    return this.#queue.written - this.#chainLinesWritten;
  }

  /** Gives up on every queued line; returns the transactions lost (the chain's own lines are not counted as dropped records). */
  #dropAll(reason: DropReason): number {
    this.#transactionsWritten();
    const lost = this.#queue.dropAll(reason);
    const chainLost = this.#chainLines.length;
    this.#queue.dropped[reason] -= chainLost;
    this.#chainLines = [];
    this.#awaiting = [];
    return lost - chainLost;
  }

  status(): AuditStatus {
    const written = this.#transactionsWritten();
    return {
      sink: this.#sink.name,
      state: this.#state,
      available: this.available,
      // transactions: the chain's own lines still queued are not
      queuedRecords: this.#queue.queuedRecords - this.#chainLines.length,
      queuedBytes: this.#queue.queuedBytes,
      maxQueueBytes: this.#queue.maxBytes,
      writtenRecords: written,
      droppedRecords: { ...this.#queue.dropped },
      writingForMs: this.#writeStarted < 0 ? null : Math.round(performance.now() - this.#writeStarted),
      downSince: this.#downSince === null ? null : new Date(this.#downSince).toISOString(),
      lastError: this.#lastError,
    };
  }

  /**
   * Writes what is queued, waiting at most `ms`; what is still queued then is counted as
   * dropped (reason shutdown). Never rejects: the process exits right after.
   */
  close(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#checkpointTimer !== null) clearInterval(this.#checkpointTimer);
    this.#closing = true;
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(deadline);
        this.#settled = null;
        this.#closed = true;
        if (this.#timer !== null) clearTimeout(this.#timer);
        if (this.#retry !== null) clearTimeout(this.#retry);
        this.#timer = this.#retry = null;
        const lost = this.#dropAll('shutdown');
        if (!this.#busy) this.#sink.close();
        const dropped = this.#queue.droppedTotal;
        if (dropped > 0) this.#log({ level: 'warn', msg: 'audit records were dropped', sink: this.#sink.name, lostAtShutdown: lost, written: this.#transactionsWritten(), dropped: this.#queue.dropped });
        resolve();
      };
      const deadline = setTimeout(finish, ms);
      this.#settled = finish;
      if (this.#retry !== null) {
        clearTimeout(this.#retry);
        this.#retry = null;
      }
      this.#pump();
      this.#settle();
    });
  }

  /** The start time as ISO 8601, formatted once per millisecond. */
  #iso(start: number): string {
    const ms = Math.floor(start);
    if (ms !== this.#isoMs) {
      this.#isoMs = ms;
      this.#isoText = new Date(ms).toISOString();
    }
    return this.#isoText;
  }

  #tick = (): void => {
    this.#timer = null;
    this.#pump();
  };

  #retryTick = (): void => {
    this.#retry = null;
    this.#pump();
  };

  /** The one place that starts I/O: the remainder of a cut line first, then a reopen, then the next batch. */
  #pump = (): void => {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#busy) {
      this.#due = true;
      return;
    }
    if (this.#closed || this.#state === 'gone') return this.#settle();
    if (this.#state === 'down' && this.#retry !== null) return; // the retry timer comes back here
    this.#due = false;
    const batch = this.#queue.next();
    // A rotation waits until the old file has every line before it (unless the sink is down:
    // then the reopen is how it may come back).
    if (this.#reopenWanted && this.#queue.atLineStart && (!this.#rotating || batch === null || this.#state !== 'up')) {
      this.#reopenWanted = false;
      this.#rotating = false;
      this.#queue.release();
      this.#queue.trimWritten();
      this.#busy = true;
      this.#sink.reopen(this.#reopened);
      return;
    }
    if (batch === null) {
      if (this.#state === 'up' || this.#closing) return this.#settle();
      // Nothing to write while down: see whether the sink opens again (a directory created).
      this.#busy = true;
      return this.#sink.open(this.#opened);
    }
    this.#busy = true;
    this.#writeStarted = performance.now();
    this.#sink.write(batch.buffer, batch.offset, this.#wrote);
  };

  #opened = (err: NodeJS.ErrnoException | null): void => {
    this.#busy = false;
    if (this.#closed) return;
    if (err !== null) return this.#failed(err);
    if (this.#state === 'down') this.#up();
    this.#pump();
  };

  /** Opens the path again at once, so a missing directory shows (down, refused in strict mode) before the next record. */
  #reopened = (): void => {
    this.#sink.open((err) => {
      if (err === null && !this.#closed) this.#log({ level: 'info', msg: 'audit log reopened', sink: this.#sink.name });
      this.#opened(err);
    });
  };

  #wrote = (err: NodeJS.ErrnoException | null, bytes: number): void => {
    this.#busy = false;
    this.#writeStarted = -1;
    if (this.#closed) return;
    if (err === null && bytes <= 0) err = Object.assign(new Error('the sink took no bytes'), { code: 'EIO' });
    if (err !== null) return this.#failed(err);
    const done = this.#queue.advance(bytes);
    if (this.#awaiting.length > 0) this.#noteCheckpoints();
    if (this.#state === 'down') this.#up();
    if (this.#full && this.#queue.queuedBytes < this.#queue.maxBytes / 2) {
      this.#full = false;
      this.#log({ level: 'info', msg: 'audit queue has room again', sink: this.#sink.name, dropped: this.#queue.dropped });
    }
    if (!done || this.#due || this.#closing || this.#queue.pendingRecords >= FLUSH_RECORDS) return this.#pump();
    if (this.#queue.pendingRecords > 0) this.#timer ??= setTimeout(this.#tick, FLUSH_MS);
  };

  #failed(err: NodeJS.ErrnoException): void {
    const code = err.code ?? 'EIO';
    this.#lastError = { code, message: err.message, at: new Date().toISOString() };
    // A non-blocking terminal or device that is full for now: try the same bytes again shortly.
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
      this.#timer ??= setTimeout(this.#tick, FLUSH_MS);
      return;
    }
    if (this.#sink.gone(err)) return this.#gone(err);
    // A named pipe whose reader left: the cut line goes again, whole, to the next reader.
    if (code === 'EPIPE' && this.#sink.reopens) {
      this.#queue.rewindToLine();
      this.#reopenWanted = true;
      return this.#down(err);
    }
    const batch = this.#queue.batch;
    if (batch === null || batch.offset === 0) return this.#down(err);
    // Part of the batch is in the file and the rest failed: take the part back, so the file
    // never ends in half a line; when that fails too, the remainder goes first once the sink is back.
    this.#busy = true;
    this.#sink.takeBack(batch.offset, (ok) => {
      this.#busy = false;
      if (ok) this.#queue.rewind();
      this.#down(err);
    });
  }

  #down(err: NodeJS.ErrnoException): void {
    if (this.#state === 'up') {
      this.#state = 'down';
      this.#downSince = Date.now();
      this.#log({ level: 'error', msg: 'audit sink down: records are queued and retried, and counted when dropped', sink: this.#sink.name, code: err.code, error: err.message, queuedRecords: this.#queue.queuedRecords, maxQueueBytes: this.#queue.maxBytes });
    }
    if (this.#closed) return;
    this.#retry = setTimeout(this.#retryTick, this.#closing ? CLOSING_RETRY_MS : RETRY_MS);
  }

  #up(): void {
    this.#log({ level: 'info', msg: 'audit sink back', sink: this.#sink.name, downForMs: Date.now() - (this.#downSince ?? Date.now()), queuedRecords: this.#queue.queuedRecords, dropped: this.#queue.dropped });
    this.#state = 'up';
    this.#downSince = null;
  }

  #gone(err: NodeJS.ErrnoException): void {
    if (this.#state !== 'gone') {
      this.#state = 'gone';
      this.#downSince ??= Date.now();
      const lost = this.#dropAll('write_error');
      this.#log({ level: 'error', msg: 'audit sink gone for good (its reader has closed): every record from now on is dropped and counted', sink: this.#sink.name, code: err.code, lost });
    }
    this.#settle();
  }

  #noteFull(): void {
    if (this.#full) return;
    this.#full = true;
    this.#log({ level: 'warn', msg: 'audit queue full: records are dropped and counted until the sink catches up', sink: this.#sink.name, state: this.#state, maxQueueBytes: this.#queue.maxBytes });
  }

  /**
   * close() is done once nothing is queued and no I/O is in progress (or the sink is gone). The
   * shutdown checkpoint is queued only then, after every record: a transaction recorded late in
   * the shutdown still goes before it, and none can follow it.
   */
  #settle(): void {
    if (this.#settled === null || this.#busy) return;
    if (this.#state === 'gone') return this.#settled();
    if (this.#queue.queuedRecords > 0) return;
    if (this.#chain !== null && !this.#sealed && this.#state === 'up') {
      this.#sealed = true;
      this.#checkpoint('shutdown');
      if (this.#queue.queuedRecords > 0) return; // written by the pump, which settles again
    }
    this.#settled();
  }
}

// Where audit lines go: a file (--audit-log), or standard output. Every operation is
// asynchronous and reports failure through its callback, never by throwing or by an 'error'
// event nobody listens to: a full disk, a missing directory or a reader that went away are the
// audit log's to count (audit-log.ts), not the process's to die of.
import { close, constants, fstat, fstatSync, ftruncate, open, read, write } from 'node:fs';
import type { Writable } from 'node:stream';

export type Done = (err: NodeJS.ErrnoException | null) => void;
export type Wrote = (err: NodeJS.ErrnoException | null, bytes: number) => void;

export interface AuditSink {
  /** `file:PATH` or `stdout`, for logs and /healthz */
  readonly name: string;
  /** true when reopen() does something (a file the operator may rotate) */
  readonly reopens: boolean;
  /** Makes sure the sink is open; a failure (a missing directory) is reported like a failed write. */
  open(done: Done): void;
  /** Writes buffer[offset..]; `bytes` may be fewer than asked (a partial write: write the rest next). */
  write(buffer: Buffer, offset: number, done: Wrote): void;
  /** After a write failed part-way: removes the last `bytes` bytes, so no half line stays behind. */
  takeBack(bytes: number, done: (ok: boolean) => void): void;
  /** Closes the file; the next write opens the path afresh (after a rotation or deletion). */
  reopen(done: () => void): void;
  /** true when no write can ever succeed again (the pipe's reader has gone) */
  gone(err: NodeJS.ErrnoException): boolean;
  close(): void;
}

/** The sink for --audit-log PATH, or standard output when PATH is null. */
export function auditSink(path: string | null): AuditSink {
  if (path !== null) return new FdSink(path, null);
  let pipe = false;
  try {
    const stat = fstatSync(1);
    pipe = stat.isFIFO() || stat.isSocket();
  } catch {
    // fd 1 is closed: the first write reports EBADF, and the sink is gone
  }
  // A pipe or socket goes through process.stdout: on Linux it is non-blocking, libuv finishes
  // partial writes and waits out EAGAIN, and a slow reader never blocks the event loop.
  return pipe ? new StreamSink('stdout', process.stdout) : new FdSink(null, 1);
}

/**
 * Append, create, and non-blocking: no effect on a regular file, but a named pipe as --audit-log
 * then fails with ENXIO while it has no reader (the sink is down, retried) and with EAGAIN while
 * its reader is slow (retried shortly), instead of holding a libuv pool thread in open() or write().
 */
const FILE_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK;

/** A file we open in append mode, or fd 1 when it is a file, a terminal or a device. */
class FdSink implements AuditSink {
  readonly name: string;
  readonly reopens: boolean;
  #path: string | null;
  #fd: number | null;

  constructor(path: string | null, fd: number | null) {
    this.#path = path;
    this.#fd = fd;
    this.name = path === null ? 'stdout' : `file:${path}`;
    this.reopens = path !== null;
  }

  open(done: Done): void {
    if (this.#fd !== null || this.#path === null) return done(null);
    const path = this.#path;
    open(path, FILE_FLAGS, 0o666, (err, fd) => {
      if (err !== null) return done(err);
      this.#fd = fd;
      endLine(path, fd, done);
    });
  }

  write(buffer: Buffer, offset: number, done: Wrote): void {
    if (this.#fd === null) {
      this.open((err) => (err === null ? this.write(buffer, offset, done) : done(err, 0)));
      return;
    }
    write(this.#fd, buffer, offset, buffer.length - offset, null, (err, bytes) => done(err, bytes));
  }

  takeBack(bytes: number, done: (ok: boolean) => void): void {
    const fd = this.#fd;
    // fd 1 may be opened without O_APPEND by whoever started us: its position is not ours to move.
    if (fd === null || this.#path === null) return done(false);
    fstat(fd, (err, stat) => {
      if (err !== null || stat.size < bytes) return done(false);
      ftruncate(fd, stat.size - bytes, (truncateErr) => done(truncateErr === null));
    });
  }

  reopen(done: () => void): void {
    const fd = this.#fd;
    if (this.#path === null || fd === null) return done();
    this.#fd = null;
    close(fd, () => done());
  }

  gone(err: NodeJS.ErrnoException): boolean {
    return this.#path === null && err.code === 'EBADF';
  }

  close(): void {
    if (this.#path !== null && this.#fd !== null) close(this.#fd, () => {});
    this.#fd = null;
  }
}

/**
 * A file left ending in half a line (a crash mid-write) gets a newline first: the next line then
 * starts a line of its own, so only the half line is damaged, not the record written after it
 * (the next run's chain start). Only a regular file is read; the write fd is write-only (a named
 * pipe opened for reading and writing would never report a missing reader).
 */
function endLine(path: string, fd: number, done: Done): void {
  fstat(fd, (err, stat) => {
    if (err !== null || !stat.isFile() || stat.size === 0) return done(null);
    open(path, constants.O_RDONLY, (openErr, rfd) => {
      if (openErr !== null) return done(null);
      const last = Buffer.alloc(1);
      read(rfd, last, 0, 1, stat.size - 1, (readErr, n) => {
        close(rfd, () => {});
        if (readErr !== null || n !== 1 || last[0] === 0x0a) return done(null);
        write(fd, '\n', (writeErr) => done(writeErr));
      });
    });
  });
}

/** process.stdout on a pipe or socket: an error means the reader has gone, for good. */
class StreamSink implements AuditSink {
  readonly name: string;
  readonly reopens = false;
  #stream: Writable;

  constructor(name: string, stream: Writable) {
    this.name = name;
    this.#stream = stream;
    // The write callbacks report the failure; without a listener the 'error' event would crash.
    stream.on('error', () => {});
  }

  open(done: Done): void {
    done(this.#stream.destroyed ? destroyedError() : null);
  }

  write(buffer: Buffer, offset: number, done: Wrote): void {
    if (this.#stream.destroyed || !this.#stream.writable) {
      process.nextTick(done, destroyedError(), 0);
      return;
    }
    const chunk = offset === 0 ? buffer : buffer.subarray(offset);
    this.#stream.write(chunk, (err) => (err == null ? done(null, chunk.length) : done(err as NodeJS.ErrnoException, 0)));
  }

  takeBack(_bytes: number, done: (ok: boolean) => void): void {
    done(false);
  }

  reopen(done: () => void): void {
    done();
  }

  gone(): boolean {
    return true;
  }

  close(): void {
    // process.stdout is never closed by us: Node flushes what it can at exit.
  }
}

function destroyedError(): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error('standard output is closed (its reader has gone)');
  err.code = 'EPIPE';
  return err;
}

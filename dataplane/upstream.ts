// One call to the agency on undici's dispatcher API. Leaner than `pool.request()`, which wraps
// every answer in a Readable stream and every call in an AbortSignal: the answer's body goes
// from undici's parser to one consumer (the client's response, a buffer, or nowhere), with
// backpressure, and the client going away aborts the call through a plain object.
import type { Dispatcher, Pool } from 'undici';

/** Receives the agency's body. `data` answers false to pause undici until `UpstreamBody.resume()`. */
export interface BodySink {
  data(chunk: Buffer): boolean;
  end(): void;
  error(err: Error): void;
}

/** The client's side of a call: `cancel()` when the client goes away aborts whatever attempt is running. */
export class Cancellation {
  cancelled = false;
  /** the attempt in progress */
  controller: Dispatcher.DispatchController | null = null;

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.controller?.abort(new ClientGoneError());
  }
}

export class ClientGoneError extends Error {
  constructor() {
    super('the client went away');
  }
}

/** The route's deadline passed while the agency was still sending its answer. */
export class DeadlineError extends Error {
  code = 'UND_ERR_BODY_TIMEOUT';
  constructor(ms: number) {
    super(`the answer was not complete within the route timeout of ${ms} ms`);
  }
}

/** The answer is larger than the bus may buffer to apply privacy rules. */
export class TooLargeError extends Error {
  constructor(limit: number) {
    super(`the answer exceeds ${limit} bytes`);
  }
}

/** The agency's answer body: chunks that arrive before a consumer is attached wait in a list. */
export class UpstreamBody {
  #controller: Dispatcher.DispatchController;
  #sink: BodySink | null = null;
  #early: Buffer[] | null = null;
  #ended = false;
  #failed: Error | null = null;

  constructor(controller: Dispatcher.DispatchController) {
    this.#controller = controller;
  }

  /** Sends the body to `sink`: what already arrived at once, the rest as it comes. */
  pipeTo(sink: BodySink): void {
    this.#sink = sink;
    const early = this.#early;
    this.#early = null;
    if (early !== null) for (const chunk of early) if (!sink.data(chunk)) this.#controller.pause();
    if (this.#failed !== null) sink.error(this.#failed);
    else if (this.#ended) sink.end();
  }

  resume(): void {
    this.#controller.resume();
  }

  /** Ends the call: the connection is dropped, and the sink is told `err`. */
  abort(err: Error): void {
    this.#controller.abort(err);
  }

  /** The whole body, at most `limit` bytes; past that the call is aborted and it rejects with TooLargeError. */
  collect(limit: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      this.pipeTo({
        data: (chunk) => {
          if (over) return true;
          size += chunk.length;
          if (size > limit) {
            over = true;
            chunks.length = 0;
            this.abort(new TooLargeError(limit));
            return true;
          }
          chunks.push(chunk);
          return true;
        },
        end: () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)),
        error: (err) => reject(over ? new TooLargeError(limit) : err),
      });
    });
  }

  /** Reads the rest and drops it, so the connection goes back to the pool. */
  dump(): void {
    this.pipeTo(DISCARD);
  }

  push(chunk: Buffer): void {
    if (this.#sink !== null) {
      if (!this.#sink.data(chunk)) this.#controller.pause();
    } else (this.#early ??= []).push(chunk);
  }

  end(): void {
    this.#ended = true;
    this.#sink?.end();
  }

  fail(err: Error): void {
    this.#failed = err;
    this.#sink?.error(err);
  }
}

const DISCARD: BodySink = { data: () => true, end: () => undefined, error: () => undefined };

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: UpstreamBody;
}

/** The dispatch handler of one attempt: settles `then` at the response's head, then feeds the body. */
class Attempt implements Dispatcher.DispatchHandler {
  #cancel: Cancellation;
  #resolve: (r: UpstreamResponse) => void;
  #reject: (err: Error) => void;
  #body: UpstreamBody | null = null;

  constructor(cancel: Cancellation, resolve: (r: UpstreamResponse) => void, reject: (err: Error) => void) {
    this.#cancel = cancel;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#cancel.controller = controller;
    if (this.#cancel.cancelled) controller.abort(new ClientGoneError());
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    if (status < 200) return; // 1xx: the answer is still to come
    this.#body = new UpstreamBody(controller);
    this.#resolve({ status, headers, body: this.#body });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#body?.push(chunk);
  }

  onResponseEnd(): void {
    this.#body?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.#body === null) this.#reject(err);
    else this.#body.fail(err);
  }
}

/** Sends one request; resolves at the response's head (the body follows), rejects when there is none. */
export function send(pool: Pool, options: Dispatcher.DispatchOptions, cancel: Cancellation): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    pool.dispatch(options, new Attempt(cancel, resolve, reject));
  });
}

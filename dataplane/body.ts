// Reading a request body within the route's limit and the body deadline. Nothing is read or
// allocated for requests that carry no body. A client trickling its body is cut off at the
// deadline, long before it could hold anything toward the agency: the body is read before any
// slot is taken.
import type { IncomingMessage } from 'node:http';
import type { Deadlines, Expiring } from './deadlines.ts';

/**
 * How long a client may take to send its body once the head has arrived. Node's own
 * requestTimeout (300 s) is far too generous for inquiries of a few kilobytes.
 */
export const BODY_TIMEOUT_MS = 10_000;

export type BodyResult =
  | { kind: 'ok'; body: Buffer | null }
  | { kind: 'too_large'; message: string }
  | { kind: 'timeout'; message: string }
  | { kind: 'gone' }
  | { kind: 'failed'; message: string };

const EMPTY: BodyResult = { kind: 'ok', body: null };

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

export function readBody(req: IncomingMessage, limit: number, deadlines: Deadlines, timeoutMs = BODY_TIMEOUT_MS): Promise<BodyResult> | BodyResult {
  if (!hasBody(req)) return EMPTY;
  const declared = Number(req.headers['content-length'] ?? -1);
  if (declared > limit) return { kind: 'too_large', message: `The body is ${declared} bytes; this inquiry accepts at most ${limit}.` };
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const deadline: Expiring = {
      deadline: performance.now() + timeoutMs,
      expire: () => settle({ kind: 'timeout', message: `The body did not arrive within ${timeoutMs / 1000} s.` }),
    };
    const settle = (result: BodyResult): void => {
      deadlines.delete(deadline);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
      chunks.length = 0;
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return settle({ kind: 'too_large', message: `The body exceeds ${limit} bytes, the most this inquiry accepts.` });
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      deadlines.delete(deadline);
      req.off('data', onData);
      req.off('error', onError);
      req.off('close', onClose);
      resolve({ kind: 'ok', body });
    };
    // A client that goes away mid-body is not a bad request: nobody is there to answer.
    const onError = (): void => settle(req.destroyed && !req.complete ? { kind: 'gone' } : { kind: 'failed', message: 'The body could not be read.' });
    const onClose = (): void => {
      if (!req.complete) settle({ kind: 'gone' });
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    deadlines.add(deadline);
  });
}

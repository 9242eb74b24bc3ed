// Reading a request body within the route's limit. Nothing is read or allocated for requests
// that carry no body.
import type { IncomingMessage } from 'node:http';

export type BodyResult = { ok: true; body: Buffer | null } | { ok: false; tooLarge: boolean; message: string };

const EMPTY: BodyResult = { ok: true, body: null };

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> | BodyResult {
  if (!hasBody(req)) return EMPTY;
  const declared = Number(req.headers['content-length'] ?? -1);
  if (declared > limit) return { ok: false, tooLarge: true, message: `The body is ${declared} bytes; this inquiry accepts at most ${limit}.` };
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve({ ok: false, tooLarge: true, message: `The body exceeds ${limit} bytes, the most this inquiry accepts.` });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve({ ok: true, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      resolve({ ok: false, tooLarge: false, message: `The body could not be read: ${err.message}` });
    });
  });
}

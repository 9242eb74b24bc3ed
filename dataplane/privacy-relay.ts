// The answer of a route with privacy rules, made safe to relay: decoded whatever its
// Content-Encoding, parsed whatever its Content-Type claims, filtered, serialized again. Every
// step is bounded (MAX_FILTERED_BYTES in and out of the decoder) so one answer can neither
// exhaust memory nor hold the event loop for long; what cannot be filtered is withheld.
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { dropFields } from './privacy.ts';

/**
 * The largest answer the bus buffers to apply privacy rules, before and after decoding.
 * Inquiry answers are a few kilobytes; parsing 2 MiB of JSON holds the event loop for a few
 * milliseconds, which is the bound this keeps.
 */
export const MAX_FILTERED_BYTES = 2 * 1024 * 1024;

type Decoder = (body: Buffer, options: { maxOutputLength: number }) => Buffer;

const DECODERS: Record<string, Decoder> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/** The answer's bytes without its content codings, or why they cannot be had (a phrase for the problem detail). */
export function decodeForFilter(raw: Buffer, contentEncoding: string | string[] | undefined): Buffer | string {
  if (contentEncoding === undefined) return raw;
  if (typeof contentEncoding !== 'string') return 'carries more than one Content-Encoding header';
  const codings = contentEncoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c.length > 0 && c !== 'identity');
  let body = raw;
  // Codings are listed in the order they were applied: undo them from the last.
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i] as string;
    const decode = DECODERS[coding];
    if (decode === undefined) return `is encoded with ${coding}, which the bus cannot decode`;
    try {
      body = decode(body, { maxOutputLength: MAX_FILTERED_BYTES });
    } catch {
      return `cannot be decoded as ${coding} within ${MAX_FILTERED_BYTES} bytes`;
    }
  }
  return body;
}

/** The JSON answer without the dropped fields, or null when it is not JSON (an empty body passes as it is). */
export function filterAnswer(body: Buffer, paths: readonly (readonly string[])[]): Buffer | null {
  if (body.length === 0) return body;
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return null;
  }
  dropFields(document, paths);
  try {
    return Buffer.from(JSON.stringify(document));
  } catch {
    return null; // nested too deep to serialize again
  }
}

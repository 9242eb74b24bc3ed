// Canonical JSON (keys sorted, no whitespace) and the snapshot's content hash. Pure.
// The serializer writes pieces to a sink instead of building nested strings: hashing a
// 10,000-route snapshot then never holds more than one small buffer of it at a time.
import { createHash } from 'node:crypto';
import type { Snapshot } from './v1.ts';

type Sink = (piece: string) => void;

const byKey = ([a]: [string, unknown], [b]: [string, unknown]): number => (a < b ? -1 : a > b ? 1 : 0);

function writeCanonical(value: unknown, out: Sink): void {
  if (value === null || typeof value !== 'object') {
    out(JSON.stringify(value));
    return;
  }
  if (Array.isArray(value)) {
    out('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out(',');
      writeCanonical(value[i], out);
    }
    out(']');
    return;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(byKey);
  out('{');
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i] as [string, unknown];
    out(i > 0 ? `,${JSON.stringify(k)}:` : `${JSON.stringify(k)}:`);
    writeCanonical(v, out);
  }
  out('}');
}

export function canonicalJSON(value: unknown): string {
  const pieces: string[] = [];
  writeCanonical(value, (p) => pieces.push(p));
  return pieces.join('');
}

/** The hash a snapshot must carry: over every field but `hash` itself. */
export function snapshotHash(snapshot: Omit<Snapshot, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...content } = snapshot;
  const hash = createHash('sha256');
  let buffer = '';
  writeCanonical(content, (piece) => {
    buffer += piece;
    if (buffer.length >= 65_536) {
      hash.update(buffer, 'utf8');
      buffer = '';
    }
  });
  hash.update(buffer, 'utf8');
  return `sha256:${hash.digest('hex')}`;
}

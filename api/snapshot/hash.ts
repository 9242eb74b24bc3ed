// Canonical JSON (keys sorted, no whitespace) and the snapshot's content hash. Pure.
import { createHash } from 'node:crypto';
import type { Snapshot } from './v1.ts';

export function canonicalJSON(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJSON(v)}`).join(',')}}`;
}

/** The hash a snapshot must carry: over every field but `hash` itself. */
export function snapshotHash(snapshot: Omit<Snapshot, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...content } = snapshot;
  return `sha256:${createHash('sha256').update(canonicalJSON(content)).digest('hex')}`;
}

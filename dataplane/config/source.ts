// Where snapshots come from. A source only delivers candidates; the loader validates them
// and decides whether they replace the one in force.
import type { Snapshot } from '../../api/snapshot/index.ts';

export interface Candidate {
  /** parsed JSON, not yet validated */
  snapshot: unknown;
  /** the generation the source assigns (the operator's, or a local counter) */
  generation: number;
  /** where it came from, for logs */
  origin: string;
  /** every bus the source has objects for, when it knows (manifests do; the cluster's Secrets are per bus) */
  buses?: string[];
}

export interface ConfigSource {
  /** Starts delivering; `deliver` is called for each candidate, `fail` when a candidate could not even be built. */
  start(deliver: (candidate: Candidate) => void, fail: (origin: string, message: string) => void): void;
  stop(): void;
}

export type { Snapshot };

// Validates a candidate snapshot completely, builds its runtime, and only then swaps it in.
// A bad or partial snapshot never replaces a good one.
import { checkSnapshot, type Snapshot } from '../api/snapshot/index.ts';
import type { Accounting } from './accounting.ts';
import type { Metering } from './metering.ts';
import type { Pipeline } from './pipeline.ts';
import { buildRuntime, retireUnused, RuntimeState } from './runtime.ts';
import type { JwksRegistry } from './jwks.ts';
import type { Candidate } from './config/source.ts';

export type Log = (record: Record<string, unknown>) => void;

export class Loader {
  #pipeline: Pipeline;
  #metering: Metering;
  #log: Log;
  #state: RuntimeState;
  #onLoaded: (generation: number, hash: string) => void;
  /** true once a snapshot is in force */
  ready = false;
  lastError: string | null = null;
  /** what is in force but likely a mistake, for /readyz and /healthz (a bus that serves no route) */
  warnings: string[] = [];
  #bus: string;

  /** onLoaded: told of every snapshot swapped in (cluster mode reports it to the operator) */
  constructor(bus: string, pipeline: Pipeline, metering: Metering, accounting: Accounting, log: Log, onLoaded: (generation: number, hash: string) => void = () => {}, jwks?: JwksRegistry) {
    this.#bus = bus;
    this.#pipeline = pipeline;
    this.#state = new RuntimeState(accounting, jwks);
    this.#metering = metering;
    this.#log = log;
    this.#onLoaded = onLoaded;
  }

  get state(): RuntimeState {
    return this.#state;
  }

  offer = (candidate: Candidate): void => {
    const problems = checkSnapshot(candidate.snapshot);
    if (problems.length > 0) return this.refuse(candidate.origin, `invalid snapshot: ${problems.slice(0, 5).join('; ')}`);
    const snapshot = candidate.snapshot as Snapshot;
    this.#noteEmpty(snapshot, candidate);
    const current = this.#pipeline.runtime;
    if (current !== null && current.snapshot.hash === snapshot.hash) {
      // Nothing to swap; but the source is valid again (a broken file put back as it was), so
      // the error of the candidate before no longer describes it.
      this.lastError = null;
      // The same snapshot republished under a new generation (a manifest repaired, or this
      // replica started from its cache): serve it under that generation, and say so.
      if (candidate.generation !== current.generation) {
        current.generation = candidate.generation;
        this.#onLoaded(candidate.generation, snapshot.hash);
      }
      return;
    }
    let runtime;
    try {
      runtime = buildRuntime(snapshot, candidate.generation, this.#state, performance.now());
    } catch (err) {
      return this.refuse(candidate.origin, (err as Error).message);
    }
    this.#pipeline.swap(runtime);
    retireUnused(snapshot, this.#state);
    this.ready = true;
    this.lastError = null;
    this.#metering.reload('loaded');
    this.#log({ level: 'info', msg: 'snapshot loaded', origin: candidate.origin, generation: candidate.generation, hash: snapshot.hash, routes: snapshot.routes.length, bindings: snapshot.bindings.length });
    this.#onLoaded(candidate.generation, snapshot.hash);
  };

  /** A bus with no route serves nothing: said once per change, at start and in /readyz, with the buses the source does have. */
  #noteEmpty(snapshot: Snapshot, candidate: Candidate): void {
    if (snapshot.routes.length > 0) {
      this.warnings = [];
      return;
    }
    const others = (candidate.buses ?? []).filter((b) => b !== this.#bus);
    const warning =
      others.length > 0
        ? `bus ${this.#bus} serves no route: no object is for it (the source has ${others.join(', ')}; is --bus misspelt?)`
        : `bus ${this.#bus} serves no route: no InquiryRoute lists it in spec.buses yet (or --bus is misspelt)`;
    if (this.warnings[0] !== warning) this.#log({ level: 'warn', msg: warning, bus: this.#bus, ...(candidate.buses === undefined ? {} : { busesInSource: candidate.buses }) });
    this.warnings = [warning];
  }

  refuse = (origin: string, message: string): void => {
    this.lastError = message;
    this.#metering.reload('rejected');
    this.#log({ level: 'error', msg: 'snapshot refused; the last good one stays in force', origin, error: message });
  };
}

// Validates a candidate snapshot completely, builds its runtime, and only then swaps it in.
// A bad or partial snapshot never replaces a good one.
import { checkSnapshot, type Snapshot } from '../api/snapshot/index.ts';
import type { Accounting } from './accounting.ts';
import type { Metering } from './metering.ts';
import type { Pipeline } from './pipeline.ts';
import { buildRuntime, retireUnused, RuntimeState } from './runtime.ts';
import type { JwksRegistry } from './jwks.ts';
import type { Candidate } from './config/source.ts';
import { missingWarnings, sidecarSnapshot, sidecarView, type SidecarOptions } from './sidecar.ts';

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
  #sidecar: SidecarOptions | null;
  #sidecarMissing: string[] = [];
  /** the bus's snapshot in force, whole (a sidecar's runtime holds only its part of it) */
  inForce: Snapshot | null = null;

  /** onLoaded: told of every snapshot swapped in (cluster mode reports it to the operator) */
  constructor(bus: string, pipeline: Pipeline, metering: Metering, accounting: Accounting, log: Log, onLoaded: (generation: number, hash: string) => void = () => {}, jwks?: JwksRegistry, sidecar: SidecarOptions | null = null) {
    this.#bus = bus;
    this.#sidecar = sidecar;
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
    const whole = candidate.snapshot as Snapshot;
    this.#noteEmpty(whole, candidate);
    // A sidecar builds its runtime from its part of the bus (sidecar.ts); the hash stays the bus snapshot's.
    const snapshot = this.#sidecar === null ? whole : this.#cut(whole);
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
    this.inForce = whole;
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

  /** /config's account of sidecar mode, null when this dataplane serves its whole bus */
  get sidecar(): Record<string, unknown> | null {
    return this.#sidecar === null ? null : sidecarView(this.#sidecar, this.#sidecarMissing);
  }

  /** The sidecar's part of the snapshot; a --provider the snapshot lacks is a warning, said once per change. */
  #cut(whole: Snapshot): Snapshot {
    const { snapshot, missing } = sidecarSnapshot(whole, this.#sidecar as SidecarOptions);
    const fresh = missing.filter((id) => !this.#sidecarMissing.includes(id));
    for (const w of missingWarnings(this.#bus, fresh)) this.#log({ level: 'warn', msg: w, bus: this.#bus });
    this.#sidecarMissing = missing;
    this.warnings = [...this.warnings, ...missingWarnings(this.#bus, missing)];
    return snapshot;
  }

  refuse = (origin: string, message: string): void => {
    this.lastError = message;
    this.#metering.reload('rejected');
    this.#log({ level: 'error', msg: 'snapshot refused; the last good one stays in force', origin, error: message });
  };
}

// --snapshot FILE: a compiled snapshot (the output of `gozargah compile`, or a bare snapshot),
// reloaded when the file changes.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import type { Candidate, ConfigSource } from './source.ts';

export class SnapshotFileSource implements ConfigSource {
  #path: string;
  #bus: string;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #generation = 0;

  constructor(path: string, bus: string) {
    this.#path = path;
    this.#bus = bus;
  }

  start(deliver: (c: Candidate) => void, fail: (origin: string, message: string) => void): void {
    const load = (): void => {
      this.#timer = null;
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(this.#path, 'utf8'));
      } catch (err) {
        fail(this.#path, (err as Error).message);
        return;
      }
      // `gozargah compile -o json` output holds every bus; pick ours.
      const snapshots = (parsed as { snapshots?: Record<string, unknown> }).snapshots;
      const snapshot = snapshots === undefined ? parsed : snapshots[this.#bus];
      if (snapshot === undefined) {
        fail(this.#path, `the file has no snapshot for bus ${this.#bus}`);
        return;
      }
      deliver({ snapshot, generation: ++this.#generation, origin: this.#path });
    };
    load();
    // Editors replace files (rename), so watch and re-arm; debounce bursts of events.
    this.#watcher = watch(this.#path, () => {
      if (this.#timer === null) this.#timer = setTimeout(load, 100);
    });
  }

  stop(): void {
    this.#watcher?.close();
    if (this.#timer !== null) clearTimeout(this.#timer);
  }
}

// --snapshot FILE: a compiled snapshot (the output of `gozargah compile`, or a bare snapshot),
// reloaded when the file changes.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Candidate, ConfigSource } from './source.ts';

export class SnapshotFileSource implements ConfigSource {
  #path: string;
  #bus: string;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #generation = 0;
  /** the text last read, so events about other files in the directory cost no parse */
  #last: string | null = null;

  constructor(path: string, bus: string) {
    this.#path = path;
    this.#bus = bus;
  }

  start(deliver: (c: Candidate) => void, fail: (origin: string, message: string) => void): void {
    const load = (): void => {
      this.#timer = null;
      let text: string;
      try {
        text = readFileSync(this.#path, 'utf8');
      } catch (err) {
        this.#last = null;
        fail(this.#path, (err as Error).message);
        return;
      }
      if (text === this.#last) return;
      this.#last = text;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
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
    // Watch the directory, not the file: a file replaced by rename (an editor's save, a
    // ConfigMap update swapping its ..data link) leaves a watch on the file with the old inode,
    // and no event ever again. Debounce bursts of events.
    this.#watcher = watch(dirname(this.#path), () => {
      if (this.#timer === null) this.#timer = setTimeout(load, 100);
    });
    load();
  }

  stop(): void {
    this.#watcher?.close();
    if (this.#timer !== null) clearTimeout(this.#timer);
  }
}

// --cache-dir DIR (cluster mode): the last snapshot served, kept on disk, so a replica that
// (re)starts while the API server is unreachable serves what it served before instead of
// nothing. It is written after a snapshot from the cluster has been swapped in, replaced
// atomically (write, then rename), and offered to the loader once at start; the cluster's own
// snapshot replaces it as soon as the API server answers. The loader validates it like any other.
import { mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot } from '../../api/snapshot/index.ts';
import type { Candidate } from './source.ts';

export class SnapshotCache {
  #path: string;
  #log: (record: Record<string, unknown>) => void;
  #writing: Promise<void> = Promise.resolve();

  constructor(dir: string, bus: string, log: (record: Record<string, unknown>) => void) {
    mkdirSync(dir, { recursive: true });
    this.#path = join(dir, `snapshot-${bus}.json`);
    this.#log = log;
  }

  /** The cached snapshot, or null when there is none (or it cannot be read: the cluster will deliver). */
  load(): Candidate | null {
    let text: string;
    try {
      text = readFileSync(this.#path, 'utf8');
    } catch {
      return null;
    }
    try {
      const { generation, snapshot } = JSON.parse(text) as { generation: number; snapshot: unknown };
      return { snapshot, generation, origin: `cache ${this.#path}` };
    } catch (err) {
      this.#log({ level: 'warn', msg: 'the snapshot cache does not parse; ignored', path: this.#path, error: (err as Error).message });
      return null;
    }
  }

  /** Writes in the background, one write at a time, in order. */
  save(generation: number, snapshot: Snapshot): void {
    this.#writing = this.#writing.then(async () => {
      const tmp = `${this.#path}.tmp`;
      try {
        await writeFile(tmp, JSON.stringify({ generation, snapshot }));
        await rename(tmp, this.#path);
      } catch (err) {
        this.#log({ level: 'warn', msg: 'could not write the snapshot cache', path: this.#path, error: (err as Error).message });
      }
    });
  }

  /** Resolves when the writes started so far are done (shutdown). */
  flush(): Promise<void> {
    return this.#writing;
  }
}

// --manifests DIR: the same YAML a platform engineer applies, compiled with the project's
// compiler, recompiled when a file changes. For local development, demos and tests.
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { compile, parseManifests, type ManifestFile } from '../../compiler/index.ts';
import { SNAPSHOT_API_VERSION, snapshotHash, type Snapshot } from '../../api/snapshot/index.ts';
import type { Candidate, ConfigSource } from './source.ts';

function readDir(dir: string): ManifestFile[] {
  const files: ManifestFile[] = [];
  const visit = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) if (!entry.startsWith('.')) visit(join(path, entry));
    } else if (/\.(ya?ml|json)$/i.test(path)) {
      files.push({ name: path, text: readFileSync(path, 'utf8') });
    }
  };
  visit(dir);
  return files;
}

export class ManifestsSource implements ConfigSource {
  #dir: string;
  #bus: string;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #generation = 0;
  #log: (record: Record<string, unknown>) => void;

  constructor(dir: string, bus: string, log: (record: Record<string, unknown>) => void) {
    this.#dir = dir;
    this.#bus = bus;
    this.#log = log;
  }

  start(deliver: (c: Candidate) => void, fail: (origin: string, message: string) => void): void {
    const load = (): void => {
      this.#timer = null;
      let files: ManifestFile[];
      try {
        files = readDir(this.#dir);
      } catch (err) {
        fail(this.#dir, (err as Error).message);
        return;
      }
      const parsed = parseManifests(files);
      if (parsed.errors.length > 0) {
        // A half-written file must not replace a good configuration.
        fail(this.#dir, parsed.errors.map((e) => `${e.file} (document ${e.document}): ${e.message}`).join('; '));
        return;
      }
      const { snapshots, statuses } = compile({ objects: parsed.objects.map((o) => o.object), now: new Date().toISOString() });
      for (const s of statuses) {
        const refused = s.status.conditions.find((c) => (c.type === 'Accepted' || c.type === 'ResolvedRefs') && c.status !== 'True');
        if (refused !== undefined) {
          this.#log({ level: 'warn', msg: 'object not accepted', kind: s.kind, object: `${s.metadata.namespace}/${s.metadata.name}`, reason: refused.reason, message: refused.message });
        }
      }
      const snapshot = snapshots[this.#bus] ?? emptySnapshot(this.#bus);
      deliver({ snapshot, generation: ++this.#generation, origin: this.#dir });
    };
    load();
    this.#watcher = watch(this.#dir, { recursive: true }, () => {
      if (this.#timer === null) this.#timer = setTimeout(load, 150);
    });
  }

  stop(): void {
    this.#watcher?.close();
    if (this.#timer !== null) clearTimeout(this.#timer);
  }
}

/** A bus nobody configured yet still serves (404 for everything), as a fresh cluster would. */
function emptySnapshot(bus: string): unknown {
  const content: Omit<Snapshot, 'hash'> = { apiVersion: SNAPSHOT_API_VERSION, bus, providers: [], routes: [], bindings: [] };
  return { ...content, hash: snapshotHash(content) };
}

// --manifests DIR: the same YAML a platform engineer applies, compiled with the project's
// compiler, recompiled when a file changes. For local development, demos and tests.
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { compile, parseManifests, type ManifestFile } from '../../compiler/index.ts';
import { SNAPSHOT_API_VERSION, snapshotHash, type Snapshot } from '../../api/snapshot/index.ts';
import type { Candidate, ConfigSource } from './source.ts';

/** The manifest files under dir, and the directories read (to watch). */
function readDir(dir: string): { files: ManifestFile[]; dirs: string[] } {
  const files: ManifestFile[] = [];
  const dirs: string[] = [];
  const visit = (path: string): void => {
    if (statSync(path).isDirectory()) {
      dirs.push(path);
      for (const entry of readdirSync(path).sort()) if (!entry.startsWith('.')) visit(join(path, entry));
    } else if (/\.(ya?ml|json)$/i.test(path)) {
      files.push({ name: path, text: readFileSync(path, 'utf8') });
    }
  };
  visit(dir);
  return { files, dirs };
}

export class ManifestsSource implements ConfigSource {
  #dir: string;
  #bus: string;
  #watchers = new Map<string, FSWatcher>();
  #timer: NodeJS.Timeout | null = null;
  #generation = 0;
  #log: (record: Record<string, unknown>) => void;

  constructor(dir: string, bus: string, log: (record: Record<string, unknown>) => void) {
    this.#dir = dir;
    this.#bus = bus;
    this.#log = log;
  }

  start(deliver: (c: Candidate) => void, fail: (origin: string, message: string) => void): void {
    const changed = (): void => {
      if (this.#timer === null) this.#timer = setTimeout(load, 150);
    };
    const load = (): void => {
      this.#timer = null;
      let files: ManifestFile[];
      try {
        const read = readDir(this.#dir);
        files = read.files;
        this.#watch(read.dirs, changed);
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
    this.#watch([this.#dir], changed);
    load();
  }

  /**
   * One non-recursive watch per directory read. Not `watch(dir, { recursive: true })`: on Linux
   * Node emulates it with a watch per file, which misses a file replaced by rename (an atomic
   * write, a ConfigMap update) from the second replacement on. A directory's own watch reports
   * every entry created, renamed or written in it.
   */
  #watch(dirs: readonly string[], changed: () => void): void {
    const live = new Set(dirs);
    for (const [dir, watcher] of this.#watchers) {
      if (live.has(dir)) continue;
      watcher.close();
      this.#watchers.delete(dir);
    }
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      const watcher = watch(dir, changed);
      // A directory removed under us: forget it; the reload its removal triggers re-reads the tree.
      watcher.on('error', () => {
        watcher.close();
        this.#watchers.delete(dir);
        changed();
      });
      this.#watchers.set(dir, watcher);
    }
  }

  stop(): void {
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    if (this.#timer !== null) clearTimeout(this.#timer);
  }
}

/** A bus nobody configured yet still serves (404 for everything), as a fresh cluster would. */
function emptySnapshot(bus: string): unknown {
  const content: Omit<Snapshot, 'hash'> = { apiVersion: SNAPSHOT_API_VERSION, bus, providers: [], routes: [], bindings: [] };
  return { ...content, hash: snapshotHash(content) };
}

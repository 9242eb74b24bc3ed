// --manifests DIR: the same YAML a platform engineer applies, compiled with the project's
// compiler, recompiled when a file changes. For local development, demos and tests.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { compile, kindMistake, parseManifests, type ManifestFile } from '../../compiler/index.ts';
import { SNAPSHOT_API_VERSION, snapshotHash, type Snapshot } from '../../api/snapshot/index.ts';
import type { Candidate, ConfigSource } from './source.ts';

/** Larger than any manifest needs (the apiserver takes 3 MiB per request); a bigger file is refused unread. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** All files together, and how many: a directory filled by mistake (or malice) is refused, not read. */
export const MAX_TOTAL_BYTES = 64 * 1024 * 1024;
export const MAX_FILES = 10_000;
/** After a change settles (DEBOUNCE_MS), the files are read again SETTLE_MS later; they are used once two reads agree. */
export const DEBOUNCE_MS = 150;
export const SETTLE_MS = 60;

interface DirRead {
  files: ManifestFile[];
  dirs: string[];
  /** problems, each naming its file */
  errors: string[];
  /** sha256 over every name, text and problem: two reads agree when it is the same */
  fingerprint: string;
}

/**
 * The manifest files under dir, the directories read (to watch), and what could not be read.
 * Never throws: a symlink loop, an unreadable or oversized file, a FIFO, a vanished entry are
 * each an error naming the path. Directories are visited once (by real path), so a link to a
 * parent cannot loop.
 */
function readDir(dir: string): DirRead {
  const files: ManifestFile[] = [];
  const dirs: string[] = [];
  const errors: string[] = [];
  const visited = new Set<string>();
  let total = 0;
  const hash = createHash('sha256');
  const visit = (path: string, depth: number): void => {
    try {
      const st = statSync(path);
      if (st.isDirectory()) {
        const real = realpathSync(path);
        if (visited.has(real)) return; // a link back to a directory already read
        visited.add(real);
        if (depth > 32) {
          errors.push(`${path}: directories nested more than 32 deep`);
          return;
        }
        dirs.push(path);
        for (const entry of readdirSync(path).sort()) if (!entry.startsWith('.')) visit(join(path, entry), depth + 1);
        return;
      }
      if (!/\.(ya?ml|json)$/i.test(path)) return;
      if (!st.isFile()) {
        errors.push(`${path}: not a regular file`);
        return;
      }
      if (st.size > MAX_FILE_BYTES) {
        errors.push(`${path}: ${st.size} bytes, more than the ${MAX_FILE_BYTES} a manifest file may hold`);
        return;
      }
      if (files.length >= MAX_FILES || total + st.size > MAX_TOTAL_BYTES) {
        errors.push(`${path}: more than ${MAX_FILES} files or ${MAX_TOTAL_BYTES} bytes under ${dir}`);
        return;
      }
      const bytes = readFileSync(path);
      if (bytes.length > MAX_FILE_BYTES) {
        errors.push(`${path}: grew past ${MAX_FILE_BYTES} bytes while being read`);
        return;
      }
      total += bytes.length;
      hash.update(`${path}\0${bytes.length}\0`).update(bytes);
      files.push({ name: path, text: bytes.toString('utf8') });
    } catch (err) {
      // ELOOP (a symlink loop), EACCES, ENOENT (removed while listed): the message names the path.
      const e = err as NodeJS.ErrnoException;
      errors.push(e.message.includes(path) ? e.message : `${path}: ${e.message}`);
    }
  };
  visit(dir, 0);
  for (const e of errors) hash.update(`error\0${e}`);
  return { files, dirs, errors, fingerprint: hash.digest('hex') };
}

export class ManifestsSource implements ConfigSource {
  #dir: string;
  #bus: string;
  #watchers = new Map<string, FSWatcher>();
  #timer: NodeJS.Timeout | null = null;
  #generation = 0;
  /** fingerprint of the last read: a candidate is built only when a read agrees with the one before */
  #lastRead: string | null = null;
  #log: (record: Record<string, unknown>) => void;
  #timing: { debounceMs: number; settleMs: number };

  /** timing: the defaults, unless a test needs a wider settle window to be deterministic */
  constructor(dir: string, bus: string, log: (record: Record<string, unknown>) => void, timing = { debounceMs: DEBOUNCE_MS, settleMs: SETTLE_MS }) {
    this.#dir = dir;
    this.#bus = bus;
    this.#log = log;
    this.#timing = timing;
  }

  start(deliver: (c: Candidate) => void, fail: (origin: string, message: string) => void): void {
    const changed = (): void => {
      if (this.#timer === null) this.#timer = setTimeout(load, this.#timing.debounceMs);
    };
    const load = (): void => {
      this.#timer = null;
      const read = readDir(this.#dir);
      this.#watch(read.dirs, changed);
      if (read.fingerprint !== this.#lastRead) {
        // Changed since the last read (or never read): a file may be half written, and a file
        // cut at a `---` is valid YAML with fewer objects. Read again shortly; use it once two
        // reads agree.
        this.#lastRead = read.fingerprint;
        if (this.#timer === null) this.#timer = setTimeout(load, this.#timing.settleMs);
        return;
      }
      if (read.errors.length > 0) {
        fail(this.#dir, read.errors.slice(0, 5).join('; '));
        return;
      }
      const parsed = parseManifests(read.files);
      if (parsed.errors.length > 0) {
        // A half-written file must not replace a good configuration.
        fail(this.#dir, parsed.errors.slice(0, 5).map((e) => `${e.file} (document ${e.document}): ${e.message}`).join('; '));
        return;
      }
      // A misspelt kind is skipped by the compiler; say so, as a refused object is.
      for (const o of parsed.objects) {
        const mistake = kindMistake(o.object);
        if (mistake !== null) this.#log({ level: 'warn', msg: 'object not read', file: o.file, document: o.document, message: mistake });
      }
      let compiled: ReturnType<typeof compile>;
      try {
        compiled = compile({ objects: parsed.objects.map((o) => o.object), now: new Date().toISOString() });
      } catch (err) {
        fail(this.#dir, `compile failed: ${(err as Error).message}`);
        return;
      }
      const { snapshots, statuses } = compiled;
      for (const s of statuses) {
        const refused = s.status.conditions.find((c) => (c.type === 'Accepted' || c.type === 'ResolvedRefs') && c.status !== 'True');
        if (refused !== undefined) {
          this.#log({ level: 'warn', msg: 'object not accepted', kind: s.kind, object: `${s.metadata.namespace}/${s.metadata.name}`, reason: refused.reason, message: refused.message });
        }
      }
      const snapshot = snapshots[this.#bus] ?? emptySnapshot(this.#bus);
      // A bus with no route is said by the loader, naming these (a misspelt --bus serves nothing).
      deliver({ snapshot, generation: ++this.#generation, origin: this.#dir, buses: Object.keys(snapshots).sort() });
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
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, changed);
      } catch (err) {
        // Out of inotify watches, or the directory is gone: the next change elsewhere re-reads it.
        this.#log({ level: 'warn', msg: 'cannot watch a manifests directory', dir, error: (err as Error).message });
        continue;
      }
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

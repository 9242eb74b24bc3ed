// The operator's loop: watch -> store -> compile -> publish -> status.
//
// Every watched collection feeds one "something changed" signal. Changes are coalesced (a
// debounce, and never two reconciles at once: a change during one runs one more afterwards),
// then the whole store goes through the pure compiler. Each bus's snapshot is published when
// its hash differs from what that bus last got; each status is written when it differs from
// what the object carries. The dataplane replicas' report Leases say which snapshot each one
// serves: that, and nothing else, makes an object Programmed.
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Lease, type V1Namespace, type V1Secret } from '@kubernetes/client-node';
import { CREDENTIALS_LABEL, GROUP, KINDS, VERSION } from '../api/v1alpha1/index.ts';
import { MANIFEST_DATA_KEY, manifestSecretName, readReport, REPORT_LABEL, servedKeys, type Snapshot, type SnapshotManifest } from '../api/snapshot/index.ts';
import { compile } from '../compiler/index.ts';
import type { StatusEntry } from '../compiler/types.ts';
import { isCode } from './api-errors.ts';
import { eventRecorder, type EventRecorder } from './events.ts';
import type { OperatorMetrics } from './metrics.ts';
import { publishSnapshot } from './publish.ts';
import { sameJson, writeStatus } from './status.ts';
import { Watched } from './watch.ts';

export type Log = (record: Record<string, unknown>) => void;

export interface ControllerOptions {
  kc: KubeConfig;
  namespace: string;
  debounceMs: number;
  resyncMs: number;
  log: Log;
  metrics: OperatorMetrics;
}

/** Status writes in flight at once: enough to finish 10,000 quickly, few enough not to flood the API server. */
const STATUS_CONCURRENCY = 8;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 60_000;
/** Snapshots remembered per bus, so a replica still on an older one is recognised. */
const KNOWN_PER_BUS = 4;

interface Stored extends KubernetesObject {
  status?: unknown;
}

export class Controller {
  #o: ControllerOptions;
  #custom: CustomObjectsApi;
  #core: CoreV1Api;
  #recorder: EventRecorder;
  #watches: Watched<KubernetesObject>[] = [];
  #byKind = new Map<string, Watched<Stored>>();
  #secrets: Watched<V1Secret>;
  #namespaces: Watched<V1Namespace>;
  #reports: Watched<V1Lease>;
  #leading = false;
  #stopped = false;
  /** per bus, what it was last published as (read back from the manifest on taking the lead) */
  #published = new Map<string, { generation: number; hash: string }>();
  /** per bus, the served keys of its recent snapshots by hash, newest last */
  #known = new Map<string, Map<string, Set<string>>>();
  #timer: NodeJS.Timeout | null = null;
  #running = false;
  #again = false;
  #retryMs = RETRY_MIN_MS;
  /** the fresh reports (bus/replica/hash) the last reconcile counted */
  #countedReports: string | null = null;
  /** when the first fresh report expires, if it is not renewed */
  #recheckTimer: NodeJS.Timeout | null = null;
  #recheckAtMs = Infinity;
  lastReconcile: { at: string; ok: boolean; error?: string } | null = null;

  constructor(options: ControllerOptions) {
    this.#o = options;
    const { kc, namespace, resyncMs, log } = options;
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
    const coordination = kc.makeApiClient(CoordinationV1Api);
    this.#recorder = eventRecorder(this.#core, { component: 'gozargah-operator', onError: (err) => log({ level: 'warn', msg: 'event not recorded', error: (err as Error).message }) });
    const watch = <T extends KubernetesObject>(name: string, path: string, list: () => Promise<KubernetesListObject<T>>, labelSelector?: string, onChange = () => this.request()): Watched<T> => {
      const w = new Watched<T>({ kc, name, path, list, labelSelector, resyncMs, log, onChange });
      this.#watches.push(w as Watched<KubernetesObject>);
      return w;
    };
    for (const kind of KINDS) {
      const { plural } = kind;
      const list = () => this.#custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural }) as Promise<KubernetesListObject<Stored>>;
      this.#byKind.set(kind.kind, watch<Stored>(plural, `/apis/${GROUP}/${VERSION}/${plural}`, list));
    }
    const credentials = `${CREDENTIALS_LABEL}=true`;
    this.#secrets = watch('secrets', '/api/v1/secrets', () => this.#core.listSecretForAllNamespaces({ labelSelector: credentials }), credentials);
    this.#namespaces = watch('namespaces', '/api/v1/namespaces', () => this.#core.listNamespace());
    this.#reports = watch('dataplane reports', `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, () => coordination.listNamespacedLease({ namespace, labelSelector: REPORT_LABEL }), REPORT_LABEL, () => this.#reportsChanged());
  }

  /** Starts every watch; resolves once each has listed (the standby keeps them warm too). */
  async start(): Promise<void> {
    await Promise.all(this.#watches.map((w) => w.start()));
  }

  get synced(): boolean {
    return this.#watches.every((w) => w.synced);
  }

  /** This replica holds the leader Lease: from now on it writes. */
  lead(): void {
    this.#leading = true;
    this.#published.clear(); // whatever was published while another replica led: read it back
    this.request();
  }

  /** Stops watching and writing; resolves once a reconcile in flight has finished its current write. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#leading = false;
    for (const timer of [this.#timer, this.#recheckTimer]) if (timer !== null) clearTimeout(timer);
    for (const w of this.#watches) w.stop();
    while (this.#running) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /** Something changed: reconcile soon, once, however many changes arrive meanwhile. */
  request(delayMs = this.#o.debounceMs): void {
    if (!this.#leading || this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#run();
    }, delayMs);
  }

  async #run(): Promise<void> {
    if (!this.synced) return this.request(100);
    this.#running = true;
    this.#again = false;
    const started = performance.now();
    let retry = false;
    try {
      retry = !(await this.#reconcile());
    } catch (err) {
      retry = true;
      this.#o.log({ level: 'error', msg: 'reconcile failed', error: (err as Error).message });
      this.lastReconcile = { at: new Date().toISOString(), ok: false, error: (err as Error).message };
    }
    this.#running = false;
    if (retry) {
      this.request(this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    } else {
      this.#retryMs = RETRY_MIN_MS;
      if (this.#again) this.request();
    }
    this.#o.log({ level: 'debug', msg: 'reconciled', ms: Math.round(performance.now() - started) });
  }

  /** One pass over everything; false when some write failed and a retry is due. */
  async #reconcile(): Promise<boolean> {
    const started = performance.now();
    const now = new Date();
    const objects: unknown[] = [];
    for (const w of this.#byKind.values()) objects.push(...w.list());
    for (const s of this.#secrets.list()) objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: s.metadata?.name, namespace: s.metadata?.namespace }, type: s.type, data: s.data });
    for (const n of this.#namespaces.list()) objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.metadata?.name, labels: n.metadata?.labels } });
    this.#countedReports = this.#freshReports(now.getTime()).fingerprint;
    let { serving, unknown } = this.#serving(now.getTime());
    let output = compile({ objects, now: now.toISOString(), serving, trustSchema: true });
    for (const [bus, snapshot] of Object.entries(output.snapshots)) this.#remember(bus, snapshot);
    // A replica serves a snapshot this replica had not compiled yet (it just started, or just took
    // the lead) and now has: compile again with that report counted, or every object would flap
    // to Programmed=False and back.
    if (unknown.some(([bus, hash]) => this.#known.get(bus)?.has(hash) === true)) {
      ({ serving, unknown } = this.#serving(now.getTime()));
      output = compile({ objects, now: now.toISOString(), serving, trustSchema: true });
    }

    let ok = true;
    for (const [bus, snapshot] of Object.entries(output.snapshots)) {
      try {
        await this.#publish(bus, snapshot);
      } catch (err) {
        ok = false;
        this.#o.metrics.publishFailed(bus);
        this.#o.log({ level: 'error', msg: 'publishing the snapshot failed; retrying', bus, error: (err as Error).message });
      }
    }
    if (!(await this.#writeStatuses(output.statuses))) ok = false;
    this.#o.metrics.reconciled((performance.now() - started) / 1000, output.statuses);
    this.lastReconcile = { at: now.toISOString(), ok };
    this.#reportsChanged();
    return ok;
  }

  /**
   * The reports changed, or one may have expired: reconcile only if the set of fresh reports
   * (bus and snapshot of each) differs from the one the last reconcile counted. Every replica
   * renews its report every few seconds; a renewal alone must not cost a compile.
   */
  #reportsChanged(): void {
    const { fingerprint, nextExpiry } = this.#freshReports(Date.now());
    if (fingerprint !== this.#countedReports) return this.request();
    // A report that expires un-renewed changes Programmed with no event to say so: look again then.
    if (nextExpiry !== null) this.#recheckAt(nextExpiry);
  }

  #freshReports(nowMs: number): { fingerprint: string; nextExpiry: number | null } {
    const fresh: string[] = [];
    let nextExpiry: number | null = null;
    for (const lease of this.#reports.list()) {
      const report = readReport(lease);
      if (report === null || report.expiresAt <= nowMs) continue;
      fresh.push(`${report.bus}/${report.replica}/${report.hash}`);
      nextExpiry = Math.min(nextExpiry ?? Infinity, report.expiresAt);
    }
    return { fingerprint: fresh.sort().join(','), nextExpiry };
  }

  /** Per bus, the keys served by a replica whose report is fresh; and the reports of snapshots not known here. */
  #serving(nowMs: number): { serving: Record<string, Set<string>>; unknown: [string, string][] } {
    const serving: Record<string, Set<string>> = {};
    const unknown: [string, string][] = [];
    for (const lease of this.#reports.list()) {
      const report = readReport(lease);
      if (report === null || report.expiresAt <= nowMs) continue;
      const keys = this.#known.get(report.bus)?.get(report.hash);
      // A snapshot this replica has not compiled: not counted (yet; see #reconcile).
      if (keys === undefined) {
        unknown.push([report.bus, report.hash]);
        continue;
      }
      const set = (serving[report.bus] ??= new Set());
      for (const k of keys) set.add(k);
    }
    return { serving, unknown };
  }

  #remember(bus: string, snapshot: Snapshot): void {
    let known = this.#known.get(bus);
    if (known === undefined) this.#known.set(bus, (known = new Map()));
    if (known.has(snapshot.hash)) return;
    known.set(snapshot.hash, servedKeys(snapshot));
    while (known.size > KNOWN_PER_BUS) known.delete(known.keys().next().value as string);
  }

  #recheckAt(ms: number): void {
    if (ms >= this.#recheckAtMs && this.#recheckTimer !== null) return;
    if (this.#recheckTimer !== null) clearTimeout(this.#recheckTimer);
    this.#recheckAtMs = ms;
    this.#recheckTimer = setTimeout(() => {
      this.#recheckTimer = null;
      this.#recheckAtMs = Infinity;
      this.#reportsChanged();
    }, Math.max(0, ms - Date.now()) + 50);
    this.#recheckTimer.unref();
  }

  async #publish(bus: string, snapshot: Snapshot): Promise<void> {
    let last = this.#published.get(bus);
    if (last === undefined) {
      last = await this.#readManifest(bus);
      this.#published.set(bus, last);
      this.#o.metrics.published(bus, last.generation);
    }
    if (last.hash === snapshot.hash) return;
    const generation = last.generation + 1;
    const result = await publishSnapshot(this.#core, this.#o.namespace, snapshot, generation);
    this.#published.set(bus, { generation, hash: snapshot.hash });
    this.#o.metrics.published(bus, generation);
    this.#o.log({ level: 'info', msg: 'snapshot published', bus, generation, hash: snapshot.hash, shards: result.manifest.shards.length, written: result.written.length, deleted: result.deleted.length });
  }

  /** What a bus was last published as, by whichever replica led then; generation 0 when never. */
  async #readManifest(bus: string): Promise<{ generation: number; hash: string }> {
    try {
      const secret = await this.#core.readNamespacedSecret({ name: manifestSecretName(bus), namespace: this.#o.namespace });
      const manifest = JSON.parse(Buffer.from(secret.data?.[MANIFEST_DATA_KEY] ?? '', 'base64').toString('utf8')) as SnapshotManifest;
      return { generation: Number.isInteger(manifest.generation) ? manifest.generation : 0, hash: String(manifest.hash) };
    } catch (err) {
      if (isCode(err, 404)) return { generation: 0, hash: '' };
      if (err instanceof SyntaxError) return { generation: 0, hash: '' }; // damaged: publish over it
      throw err;
    }
  }

  /** Writes the statuses that differ from what the objects carry; false when a write failed. */
  async #writeStatuses(entries: readonly StatusEntry[]): Promise<boolean> {
    const due = entries.filter((e) => !sameJson(this.#byKind.get(e.kind)?.get(e.metadata.name, e.metadata.namespace)?.status, e.status));
    let ok = true;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < due.length && this.#leading && !this.#stopped) {
        const entry = due[next++] as StatusEntry;
        try {
          if ((await writeStatus(this.#custom, entry, this.#recorder)) === 'written') this.#o.metrics.statusWritten(entry.kind);
        } catch (err) {
          ok = false;
          this.#o.metrics.statusFailed(entry.kind);
          this.#o.log({ level: 'error', msg: 'status write failed', object: `${entry.kind} ${entry.metadata.namespace}/${entry.metadata.name}`, error: (err as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STATUS_CONCURRENCY, due.length) }, worker));
    return ok;
  }
}

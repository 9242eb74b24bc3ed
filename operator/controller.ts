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
import {
  BUS_LABEL,
  joinSnapshot,
  MANIFEST_DATA_KEY,
  MANIFEST_SECRET_TYPE,
  REPORT_LABEL,
  SHARD_DATA_KEY,
  SHARD_SECRET_TYPE,
  type Snapshot,
  type SnapshotManifest,
} from '../api/snapshot/index.ts';
import type { StatusEntry } from '../compiler/types.ts';
import { describeError } from '../kube/api-errors.ts';
import { OffLoopCompiler } from './compile-off-loop.ts';
import { PassQueue, type PassResult } from './pass-queue.ts';
import { reportedGenerations, ServedReports, summarize, type FreshReport } from './served-reports.ts';
import { eventRecorder, type EventRecorder } from './events.ts';
import { timeLeft, validityPlan, type BindingValidity } from './validity.ts';
import type { OperatorMetrics } from './metrics.ts';
import { publishSnapshot } from './publish.ts';
import { sameJson, writeStatus, type Stored as StoredObject } from './status.ts';
import { keepCountedUsage, UsageLoop, type QuotaBinding, type UsageState } from './usage.ts';
import { Watched, type WatchHandle, type WatchOptions } from '../kube/watch.ts';
import type { RedisTarget } from '../api/accounting/index.ts';

export type Log = (record: Record<string, unknown>) => void;

export interface ControllerOptions {
  kc: KubeConfig;
  namespace: string;
  debounceMs: number;
  resyncMs: number;
  log: Log;
  metrics: OperatorMetrics;
  /** with --redis: the leader writes status.usage from the fleet's counts this often */
  usage?: { target: RedisTarget; intervalMs: number } | null;
  /** buses with dataplanes deployed (--bus): published even with nothing on them */
  buses?: readonly string[];
  /** test hook: the compile worker spins this long before each pass (GOZARGAH_TEST_COMPILE_DELAY_MS) */
  compileDelayMs?: number;
}

/** Status writes in flight at once: enough to finish 10,000 quickly, few enough not to flood the API server. */
const STATUS_CONCURRENCY = 8;
/** A bus gets at most one new snapshot per this interval, however fast its objects change. */
const MIN_PUBLISH_INTERVAL_MS = 1000;
/** What a wave of status writes gets before a change may end it (see #writeStatuses). */
const WAVE_MIN_WRITES = 200;
const WAVE_MIN_MS = 1000;

interface Stored extends KubernetesObject {
  status?: unknown;
}

export class Controller {
  #o: ControllerOptions;
  #custom: CustomObjectsApi;
  #core: CoreV1Api;
  #recorder: EventRecorder;
  #coordination: CoordinationV1Api;
  #pruning = new Set<string>();
  #watches: WatchHandle[] = [];
  #byKind = new Map<string, Watched<Stored>>();
  #secrets: Watched<V1Secret>;
  #namespaces: Watched<V1Namespace>;
  #reports: Watched<V1Lease>;
  #leading = false;
  #stopped = false;
  /** per bus, what it was last published as (read back from the manifest on taking the lead) */
  #published: Map<string, { generation: number; hash: string }> | null = null;
  #verifyPublished = false;
  /** the last pass was held back by a broken watch (logged once) */
  #blocked = false;
  /** per object of the three kinds, what a change must touch to matter (see #objectChanged) */
  #specs = new Map<string, string>();
  #verifyTimer: NodeJS.Timeout | null = null;
  /** which snapshot each dataplane replica serves (operator/served-reports.ts) */
  #served = new ServedReports<V1Lease>();
  #queue: PassQueue;
  /** per bus, when this process last published it (monotonic ms) */
  #publishedAt = new Map<string, number>();
  /** the snapshots (bus/hash) fresh reports said were served when the last reconcile counted them */
  #countedReports: string | null = null;
  /** when the first fresh report expires, if it is not renewed */
  #recheckTimer: NodeJS.Timeout | null = null;
  #recheckAtMs = Infinity;
  #usage: UsageLoop | null = null;
  #compiler: OffLoopCompiler;
  /** when a binding's validity window next opens, closes or enters its notice: compile again then */
  #validityTimer: NodeJS.Timeout | null = null;
  /** BindingExpiresSoon already recorded, by uid and notAfter (once per operator run) */
  #expiryNoted = new Set<string>();
  lastReconcile: { at: string; ok: boolean; error?: string } | null = null;

  constructor(options: ControllerOptions) {
    this.#o = options;
    this.#compiler = new OffLoopCompiler(options.compileDelayMs ?? 0);
    this.#queue = new PassQueue({ debounceMs: options.debounceMs, pass: () => this.#run(), enabled: () => this.#leading && !this.#stopped });
    const { kc, namespace, resyncMs, log } = options;
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
    const coordination = (this.#coordination = kc.makeApiClient(CoordinationV1Api));
    this.#recorder = eventRecorder(this.#core, { component: 'gozargah-operator', onError: (err) => log({ level: 'warn', msg: 'event not recorded', error: describeError(err) }) });
    const watch = <T extends KubernetesObject>(
      name: string,
      path: string,
      list: () => Promise<KubernetesListObject<T>>,
      labelSelector?: string,
      onChange: WatchOptions<T>['onChange'] = () => this.request(),
    ): Watched<T> => {
      const w = new Watched<T>({ kc, name, path, list, labelSelector, resyncMs, log, onChange });
      this.#watches.push(w);
      return w;
    };
    for (const kind of KINDS) {
      const { plural } = kind;
      const list = () => this.#custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural }) as Promise<KubernetesListObject<Stored>>;
      this.#byKind.set(kind.kind, watch<Stored>(plural, `/apis/${GROUP}/${VERSION}/${plural}`, list, undefined, (event, object) => this.#objectChanged(kind.kind, event, object)));
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
    this.#published = null; // whatever was published while another replica led: read it back
    // Nothing watches the published Secrets: look at them as often as the watches relist, so a
    // manifest or shard deleted or damaged by hand is published again.
    if (this.#verifyTimer !== null) clearInterval(this.#verifyTimer);
    this.#verifyTimer = setInterval(() => {
      this.#verifyPublished = true;
      this.request();
    }, this.#o.resyncMs);
    this.#verifyTimer.unref();
    this.request();
    const usage = this.#o.usage;
    if (usage !== undefined && usage !== null && this.#usage === null) {
      // Reads the ClientBindings this replica's watch already holds: no second watch.
      const bindings = this.#byKind.get('ClientBinding') as Watched<Stored>;
      this.#usage = new UsageLoop({
        target: usage.target,
        intervalMs: usage.intervalMs,
        bindings: () => bindings.list() as QuotaBinding[],
        api: this.#custom,
        recorder: this.#recorder,
        metrics: this.#o.metrics,
        log: this.#o.log,
        writing: () => this.#leading && !this.#stopped,
      });
      this.#usage.start();
    }
  }

  /** The usage loop's Redis and last pass, for /readyz; null without --redis or before leading. */
  usageState(): UsageState | null {
    return this.#usage?.state() ?? null;
  }

  /** Stops watching and writing; resolves once a reconcile in flight has finished its current write. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#leading = false;
    this.#queue.stop();
    for (const timer of [this.#recheckTimer, this.#verifyTimer, this.#validityTimer]) if (timer !== null) clearTimeout(timer);
    for (const w of this.#watches) w.stop();
    await this.#usage?.stop();
    await this.#compiler.stop();
    while (this.#queue.running) await new Promise((resolve) => setTimeout(resolve, 20));
    // Events still queued get a moment, not a say in how long shutdown takes.
    await Promise.race([this.#recorder.flush(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }

  /**
   * One of the three kinds changed. An update that leaves generation, labels and deletion alone
   * is a status write (most often this operator's own): nothing the compiler reads from another
   * object's point of view changed, so it costs no reconcile. Without this, every status write of
   * a pass would ask for another pass, and a pass could never give way to a real change.
   */
  #objectChanged(kind: string, event: 'add' | 'update' | 'delete' | 'list', object?: Stored): void {
    if (event === 'list') {
      // A fresh list (the first, or a resync): it is what there is now, deletions included.
      for (const key of this.#specs.keys()) if (key.startsWith(`${kind}/`)) this.#specs.delete(key);
      for (const o of this.#byKind.get(kind)?.list() ?? []) this.#specs.set(specKey(kind, o), specOf(o));
    } else if (object !== undefined) {
      const key = specKey(kind, object);
      if (event === 'delete') this.#specs.delete(key);
      else {
        const before = this.#specs.get(key);
        this.#specs.set(key, specOf(object));
        if (event === 'update' && before === specOf(object)) return;
      }
    }
    this.request();
  }

  /** Something changed: reconcile soon, once, however many changes arrive meanwhile (operator/pass-queue.ts). */
  request(delayMs?: number): void {
    this.#queue.request(delayMs);
  }

  async #run(): Promise<PassResult> {
    // A cache whose watch failed is stale: compiling it could unpublish what still exists. (The
    // reports only decide Programmed: a broken reports watch does not hold publishing back.)
    const broken = this.#watches.filter((w) => w !== this.#reports && !w.healthy);
    if (broken.length > 0) {
      if (!this.#blocked) this.#o.log({ level: 'warn', msg: 'not reconciling until every watch works again', watches: broken.map((w) => w.name) });
      this.#blocked = true;
      return 'later';
    }
    this.#blocked = false;
    const started = performance.now();
    let result: PassResult = 'ok';
    try {
      if (!(await this.#reconcile())) result = 'retry';
    } catch (err) {
      result = 'retry';
      // Stopping ends a compile in flight: not a failure worth an error line.
      if (!this.#stopped) this.#o.log({ level: 'error', msg: 'reconcile failed', error: describeError(err) });
      this.lastReconcile = { at: new Date().toISOString(), ok: false, error: describeError(err) };
    }
    this.#o.log({ level: 'debug', msg: 'reconciled', ms: Math.round(performance.now() - started) });
    return result;
  }

  /** One pass over everything; false when some write failed and a retry is due. */
  async #reconcile(): Promise<boolean> {
    const started = performance.now();
    const now = new Date();
    const objects: unknown[] = [];
    for (const w of this.#byKind.values()) objects.push(...w.list());
    for (const s of this.#secrets.list()) objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: s.metadata?.name, namespace: s.metadata?.namespace }, type: s.type, data: s.data });
    for (const n of this.#namespaces.list()) objects.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n.metadata?.name, labels: n.metadata?.labels } });
    if (this.#published === null || this.#verifyPublished) {
      this.#published = withGenerationsOf(this.#published, await this.#readPublished(), reportedGenerations(this.#reports.list()));
      this.#verifyPublished = false;
    }
    const published = this.#published;
    // Every bus published before keeps getting a snapshot, empty once nothing is left on it, and
    // so does every bus deployed, so its replicas become ready before its first route.
    const buses = [...new Set([...published.keys(), ...(this.#o.buses ?? [])])];
    const fresh = this.#fresh(now.getTime());
    this.#countedReports = summarize(fresh).fingerprint;
    let { serving, unknown } = this.#served.serving(fresh);
    let output = await this.#compiler.compile({ objects, now: now.toISOString(), serving, buses, trustSchema: true });
    for (const [bus, snapshot] of Object.entries(output.snapshots)) this.#remember(bus, snapshot);
    // A replica serves a snapshot this replica had not compiled yet (it just started, or just took
    // the lead) and now has: compile again with that report counted, or every object would flap
    // to Programmed=False and back.
    if (unknown.some(([bus, hash]) => this.#served.knows(bus, hash))) {
      ({ serving, unknown } = this.#served.serving(fresh));
      output = await this.#compiler.compile({ objects, now: now.toISOString(), serving, buses, trustSchema: true });
    }

    let ok = true;
    let deferMs = 0;
    for (const [bus, snapshot] of Object.entries(output.snapshots)) {
      if (this.#stopped) break;
      try {
        deferMs = Math.max(deferMs, await this.#publish(published, bus, snapshot));
      } catch (err) {
        ok = false;
        this.#o.metrics.publishFailed(bus);
        this.#o.log({ level: 'error', msg: 'publishing the snapshot failed; retrying', bus, error: describeError(err) });
      }
    }
    // A bus published less than MIN_PUBLISH_INTERVAL_MS ago gets this change with the next pass.
    if (deferMs > 0) this.request(deferMs);
    if (!(await this.#writeStatuses(output.statuses))) ok = false;
    this.#o.metrics.reconciled((performance.now() - started) / 1000, output.statuses);
    this.lastReconcile = { at: now.toISOString(), ok };
    this.#reportsChanged();
    this.#watchValidity(now.getTime());
    return ok;
  }

  /**
   * No object changes when a binding's validity window opens or closes or a route's sunset
   * passes: compile again then, so Ready says Expired, Sunset (or Ready again) on time; and warn
   * a week ahead.
   */
  #watchValidity(nowMs: number): void {
    const watched: BindingValidity[] = [];
    type Meta = { name?: string; namespace?: string; uid?: string };
    const add = (kind: BindingValidity['kind'], m: Meta | undefined, window: { notBefore?: string; notAfter?: string }): void => {
      if (m?.name !== undefined) watched.push({ kind, name: m.name, namespace: m.namespace ?? 'default', uid: m.uid ?? '', ...window });
    };
    for (const o of this.#byKind.get('ClientBinding')?.list() ?? []) {
      const b = o as { metadata?: Meta; spec?: { validity?: { notBefore?: string; notAfter?: string } } };
      if (b.spec?.validity !== undefined) add('ClientBinding', b.metadata, b.spec.validity);
    }
    for (const o of this.#byKind.get('InquiryRoute')?.list() ?? []) {
      const r = o as { metadata?: Meta; spec?: { deprecated?: boolean; sunset?: string } };
      if (r.spec?.deprecated === true && r.spec.sunset !== undefined) add('InquiryRoute', r.metadata, { notAfter: r.spec.sunset });
    }
    const plan = validityPlan(watched, nowMs);
    for (const w of plan.expiringSoon) {
      const key = `${w.uid}/${w.notAfter}`;
      if (this.#expiryNoted.has(key)) continue;
      this.#expiryNoted.add(key);
      const left = timeLeft(Date.parse(w.notAfter) - nowMs);
      this.#recorder.record(
        { apiVersion: `${GROUP}/${VERSION}`, kind: w.kind, namespace: w.namespace, name: w.name, uid: w.uid },
        w.kind === 'ClientBinding'
          ? { type: 'Warning', reason: 'BindingExpiresSoon', message: `The binding's validity ends at ${w.notAfter} (${left}): after that the dataplane refuses its calls (401 binding_expired). Move spec.validity.notAfter to renew it.` }
          : { type: 'Warning', reason: 'RouteSunsetSoon', message: `The route's sunset is ${w.notAfter} (${left}): after that the dataplane answers its calls 410 route_sunset. Its clients see the date in the Sunset header of every answer.` },
      );
    }
    if (this.#validityTimer !== null) clearTimeout(this.#validityTimer);
    this.#validityTimer = null;
    if (plan.nextAt === null || this.#stopped) return;
    this.#validityTimer = setTimeout(() => {
      this.#validityTimer = null;
      this.request(0);
    }, plan.nextAt - nowMs + 50);
    this.#validityTimer.unref();
  }

  /**
   * The reports changed, or one may have expired: reconcile only if the set of fresh reports
   * (bus and snapshot of each) differs from the one the last reconcile counted. Every replica
   * renews its report every few seconds; a renewal alone must not cost a compile.
   */
  #reportsChanged(): void {
    const { fingerprint, nextExpiry } = summarize(this.#fresh(Date.now()));
    if (fingerprint !== this.#countedReports) return this.request();
    // A report that expires un-renewed changes Programmed with no event to say so: look again then.
    if (nextExpiry !== null) this.#recheckAt(nextExpiry);
  }

  /** The reports that count now (see ServedReports.fresh); the Leases of replicas gone for good are pruned. */
  #fresh(nowMs: number): FreshReport[] {
    const { fresh, gone } = this.#served.fresh(this.#reports.list(), this.#reports.syncedAt, nowMs);
    for (const lease of gone) this.#prune(lease);
    return fresh;
  }

  #remember(bus: string, snapshot: Snapshot): void {
    this.#served.remember(bus, snapshot, () => new Set(this.#fresh(Date.now()).map(({ report }) => report.hash)));
  }

  /**
   * Deletes the report of a replica gone for good (killed, its node lost: a clean shutdown deletes
   * its own), so they do not pile up. Only the leader writes; the resourceVersion precondition
   * makes sure a report renewed meanwhile is left alone.
   */
  #prune(lease: V1Lease): void {
    const name = lease.metadata?.name;
    if (!this.#leading || name === undefined || this.#pruning.has(name)) return;
    this.#pruning.add(name);
    this.#coordination
      .deleteNamespacedLease({ name, namespace: this.#o.namespace, body: { preconditions: { resourceVersion: lease.metadata?.resourceVersion } } })
      .then(
        () => this.#o.log({ level: 'info', msg: 'deleted the report of a dataplane replica gone for good', lease: name }),
        (err: unknown) => this.#o.log({ level: 'warn', msg: 'could not delete a stale dataplane report', lease: name, error: describeError(err) }),
      )
      .finally(() => this.#pruning.delete(name));
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

  /**
   * Publishes a bus's snapshot when its hash changed, at most once per MIN_PUBLISH_INTERVAL_MS:
   * a burst of applies (a GitOps sync, a script) costs each dataplane one new snapshot a second,
   * not one per object. Returns 0, or how long until the bus may be published again.
   */
  async #publish(published: Map<string, { generation: number; hash: string }>, bus: string, snapshot: Snapshot): Promise<number> {
    const last = published.get(bus) ?? { generation: 0, hash: '' };
    if (last.hash === snapshot.hash) return 0;
    const wait = (this.#publishedAt.get(bus) ?? -Infinity) + MIN_PUBLISH_INTERVAL_MS - performance.now();
    if (wait > 0) return wait;
    const generation = last.generation + 1;
    const result = await publishSnapshot(this.#core, this.#o.namespace, snapshot, generation);
    published.set(bus, { generation, hash: snapshot.hash });
    this.#publishedAt.set(bus, performance.now());
    this.#o.metrics.published(bus, generation);
    this.#o.log({ level: 'info', msg: 'snapshot published', bus, generation, hash: snapshot.hash, shards: result.manifest.shards.length, written: result.written.length, deleted: result.deleted.length });
    return 0;
  }


  /**
   * What every bus was last published as, by whichever replica led then: its generation goes on
   * from there, and its snapshot is remembered, so the reports of replicas still serving it count
   * (without it, everything would flap to Programmed=False when a leader takes over).
   */
  async #readPublished(): Promise<Map<string, { generation: number; hash: string }>> {
    const published = new Map<string, { generation: number; hash: string }>();
    const secrets = (await this.#core.listNamespacedSecret({ namespace: this.#o.namespace, labelSelector: BUS_LABEL })).items;
    const shards = new Map(secrets.filter((s) => s.type === SHARD_SECRET_TYPE).map((s) => [s.metadata?.name as string, Buffer.from(s.data?.[SHARD_DATA_KEY] ?? '', 'base64')]));
    for (const secret of secrets) {
      if (secret.type !== MANIFEST_SECRET_TYPE) continue;
      const bus = secret.metadata?.labels?.[BUS_LABEL] as string;
      let manifest: SnapshotManifest | null = null;
      try {
        manifest = JSON.parse(Buffer.from(secret.data?.[MANIFEST_DATA_KEY] ?? '', 'base64').toString('utf8')) as SnapshotManifest;
      } catch {
        // damaged: published over at the next change
      }
      const generation = Number.isInteger(manifest?.generation) ? (manifest?.generation as number) : 0;
      if (manifest === null || !Array.isArray(manifest.shards)) {
        published.set(bus, { generation, hash: '' }); // damaged: publish again
        continue;
      }
      published.set(bus, { generation, hash: typeof manifest.hash === 'string' ? manifest.hash : '' });
      if (generation > 0) this.#o.metrics.published(bus, generation);
      const snapshot = joinSnapshot(manifest, shards);
      if (!Array.isArray(snapshot)) this.#remember(bus, snapshot);
      else published.set(bus, { generation, hash: '' }); // a shard is gone or damaged: publish again
    }
    return published;
  }

  /** Writes the statuses that differ from what the objects carry; false when a write failed. */
  async #writeStatuses(entries: readonly StatusEntry[]): Promise<boolean> {
    const cachedOf = (e: StatusEntry): StoredObject | undefined => this.#byKind.get(e.kind)?.get(e.metadata.name, e.metadata.namespace) as StoredObject | undefined;
    const due = entries.filter((e) => !sameJson(cachedOf(e)?.status, e.status));
    let ok = true;
    let next = 0;
    const waveStart = performance.now();
    const worker = async (): Promise<void> => {
      // A real change arriving meanwhile ends the wave: the next pass compiles it and writes what
      // is still due, so a first pass over 10,000 objects does not hold every change back. Each
      // wave first gets a second or 200 writes, so a steady stream of changes cannot starve it.
      while (next < due.length && this.#leading && !this.#stopped && !(this.#queue.again && (next >= WAVE_MIN_WRITES || performance.now() - waveStart > WAVE_MIN_MS))) {
        const entry = due[next++] as StatusEntry;
        try {
          // A binding's counts are the usage loop's: a status compiled from an older copy keeps the newer ones.
          const next = entry.kind === 'ClientBinding' ? (current: StoredObject) => keepCountedUsage(current, entry.status) : undefined;
          if ((await writeStatus(this.#custom, entry, this.#recorder, cachedOf(entry), next)) === 'written') this.#o.metrics.statusWritten(entry.kind);
        } catch (err) {
          ok = false;
          this.#o.metrics.statusFailed(entry.kind);
          this.#o.log({ level: 'error', msg: 'status write failed', object: `${entry.kind} ${entry.metadata.namespace}/${entry.metadata.name}`, error: describeError(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STATUS_CONCURRENCY, due.length) }, worker));
    return ok;
  }
}

/**
 * What was read back, keeping the generations known before (by this process, or reported served
 * by a dataplane): a bus whose manifest went missing or went back is published again, at a
 * generation above any a dataplane has seen.
 */
function withGenerationsOf(
  before: ReadonlyMap<string, { generation: number; hash: string }> | null,
  read: Map<string, { generation: number; hash: string }>,
  reported: ReadonlyMap<string, number>,
): Map<string, { generation: number; hash: string }> {
  const known = new Map<string, number>(reported);
  for (const [bus, was] of before ?? []) known.set(bus, Math.max(known.get(bus) ?? 0, was.generation));
  for (const [bus, generation] of known) {
    const now = read.get(bus);
    if (now === undefined || now.generation < generation) read.set(bus, { generation, hash: '' });
  }
  return read;
}

const specKey = (kind: string, o: Stored): string => `${kind}/${o.metadata?.namespace}/${o.metadata?.name}`;

/** What an update must change to matter to the compiler: the uid (re-created), spec, labels, deletion. */
const specOf = (o: Stored): string =>
  `${o.metadata?.uid}|${o.metadata?.generation}|${JSON.stringify(o.metadata?.labels ?? {})}|${String(o.metadata?.deletionTimestamp ?? '')}`;

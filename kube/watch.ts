// One watched collection: list, then watch, with the cache kept in memory. The client's
// informer relists by itself on 410 Gone and rewatches when the server ends a watch; on any
// other error (API server unreachable, forbidden) it stops. Here a stopped informer is replaced
// after a backoff, and every `resyncMs` it is replaced anyway (a fresh list): a watch that went
// silent without an error cannot hide changes for longer than that. Until a replacement has
// listed, the cache of the one before keeps answering.
import { describeError } from './api-errors.ts';
import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** A replacement that has not listed by then (a request hanging on a dead connection) is given up. */
const LIST_TIMEOUT_MS = 60_000;

type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export interface WatchOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** what the logs call it, e.g. `inquiryroutes` */
  name: string;
  /** the watch path, e.g. /apis/gozargah.io/v1alpha1/inquiryroutes */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  resyncMs: number;
  /** an object was added, updated or deleted, or the collection was listed afresh */
  onChange: (event: 'add' | 'update' | 'delete' | 'list', object?: T) => void;
  log: (record: Record<string, unknown>) => void;
  /** drops what the operator never reads from an object before the cache keeps it (see trimBookkeeping) */
  trim?: (object: T) => void;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * What the API server and kubectl keep on every object and the operator never reads: the
 * managedFields of server-side apply, and kubectl's last-applied annotation, a second copy of the
 * whole object. At national scale they are most of what the caches would hold.
 */
export function trimBookkeeping(object: KubernetesObject): void {
  const metadata = object.metadata;
  if (metadata === undefined) return;
  delete metadata.managedFields;
  const annotations = metadata.annotations;
  if (annotations !== undefined && LAST_APPLIED in annotations) {
    delete annotations[LAST_APPLIED];
    if (Object.keys(annotations).length === 0) delete metadata.annotations;
  }
}

/** What the controller needs of every watch, whatever it holds. */
export interface WatchHandle {
  readonly name: string;
  start(): Promise<void>;
  stop(): void;
  readonly synced: boolean;
  readonly healthy: boolean;
}

export class Watched<T extends KubernetesObject> implements WatchHandle {
  #options: WatchOptions<T>;
  /** the informer whose cache answers; null until the first list */
  #current: Cache<T> | null = null;
  #starting: Cache<T> | null = null;
  #backoff = BACKOFF_MIN_MS;
  #timer: NodeJS.Timeout | null = null;
  #listTimer: NodeJS.Timeout | null = null;
  /** the current informer failed: its cache is all there is until a replacement lists */
  #currentFailed = false;
  #syncedAt = 0;
  #stopped = false;
  /** informers stopped on purpose or after failing: their further errors are not news */
  #retired = new WeakSet<Cache<T>>();
  #synced: Promise<void>;
  #resolveSynced!: () => void;

  constructor(options: WatchOptions<T>) {
    this.#options = options;
    this.#synced = new Promise((resolve) => (this.#resolveSynced = resolve));
  }

  /** Starts watching; the promise resolves once the first list has been read (and never rejects: it retries). */
  start(): Promise<void> {
    this.#replace();
    return this.#synced;
  }

  get name(): string {
    return this.#options.name;
  }

  get synced(): boolean {
    return this.#current !== null;
  }

  /** Listed, and the watch behind the cache has not failed since: the cache is current. */
  get healthy(): boolean {
    return this.#current !== null && !this.#currentFailed;
  }

  /** When the cache in use was listed (epoch ms; 0 before the first list). */
  get syncedAt(): number {
    return this.#syncedAt;
  }

  list(): readonly T[] {
    return this.#current?.list() ?? [];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#current?.get(name, namespace);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of [this.#timer, this.#listTimer]) if (timer !== null) clearTimeout(timer);
    for (const informer of [this.#current, this.#starting]) if (informer !== null) this.#retire(informer);
  }

  #retire(informer: Cache<T>): void {
    this.#retired.add(informer);
    void informer.stop();
  }

  #replace(): void {
    if (this.#stopped) return;
    const { kc, path, list, labelSelector, onChange } = this.#options;
    const trim = this.#options.trim ?? trimBookkeeping;
    // The client relists on 410 without looking whether it was stopped meanwhile: a retired
    // informer's list must fail, or it would open a watch nobody ever aborts.
    let self: Cache<T> | null = null;
    const guardedList = async (): Promise<KubernetesListObject<T>> => {
      const result = await list();
      if (self !== null && this.#retired.has(self)) throw new Error('retired');
      for (const item of result.items) trim(item);
      return result;
    };
    const informer = makeInformer<T>(kc, path, guardedList, labelSelector) as Cache<T>;
    self = informer;
    this.#starting = informer;
    // The cache keeps the very object the watch event carries: trimmed first, before it is read.
    informer.on('add', trim);
    informer.on('update', trim);
    for (const event of ['add', 'update', 'delete'] as const) {
      informer.on(event, (object: T) => {
        if (informer === this.#current) onChange(event, object);
      });
    }
    informer.on('error', (err: unknown) => this.#failed(informer, err));
    if (this.#listTimer !== null) clearTimeout(this.#listTimer);
    this.#listTimer = setTimeout(() => this.#failed(informer, new Error(`no answer to the list within ${LIST_TIMEOUT_MS / 1000} s`)), LIST_TIMEOUT_MS);
    this.#listTimer.unref();
    informer.start().then(
      () => {
        if (this.#stopped || informer !== this.#starting) return this.#retire(informer);
        if (this.#listTimer !== null) clearTimeout(this.#listTimer);
        const previous = this.#current;
        this.#current = informer;
        this.#currentFailed = false;
        this.#syncedAt = Date.now();
        this.#starting = null;
        if (previous !== null) this.#retire(previous);
        this.#backoff = BACKOFF_MIN_MS;
        this.#resolveSynced();
        onChange('list'); // the list may differ from what the old cache held
        this.#schedule(this.#options.resyncMs);
      },
      (err: unknown) => this.#failed(informer, err),
    );
  }

  #failed(informer: Cache<T>, err: unknown): void {
    // Stopping an informer aborts its watch, which reports an error: not news. A failed current
    // informer is retired but stays current: its cache answers until a replacement has listed.
    if (this.#stopped || this.#retired.has(informer)) return;
    this.#retire(informer);
    if (informer === this.#current) this.#currentFailed = true;
    else if (informer === this.#starting) this.#starting = null;
    else return; // neither in use nor on its way: nothing to replace
    // A replacement is already listing (the current one failed meanwhile): let it finish.
    if (this.#starting !== null) return;
    this.#options.log({ level: 'warn', msg: 'watch failed; retrying', watch: this.#options.name, error: describeError(err), retryInMs: this.#backoff });
    // Jittered, so replicas that lost the API server together do not all relist at once.
    this.#schedule(this.#backoff * (0.5 + Math.random() / 2));
    this.#backoff = Math.min(this.#backoff * 2, BACKOFF_MAX_MS);
  }

  #schedule(ms: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#replace();
    }, ms);
    this.#timer.unref();
  }
}

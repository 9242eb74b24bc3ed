// One watched collection: list, then watch, with the cache kept in memory. The client's
// informer relists by itself on 410 Gone and rewatches when the server ends a watch; on any
// other error (API server unreachable, forbidden) it stops. Here a stopped informer is replaced
// after a backoff, and every `resyncMs` it is replaced anyway (a fresh list): a watch that went
// silent without an error cannot hide changes for longer than that. Until a replacement has
// listed, the cache of the one before keeps answering.
import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

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
  onChange: () => void;
  log: (record: Record<string, unknown>) => void;
}

export class Watched<T extends KubernetesObject> {
  #options: WatchOptions<T>;
  /** the informer whose cache answers; null until the first list */
  #current: Cache<T> | null = null;
  #starting: Cache<T> | null = null;
  #backoff = BACKOFF_MIN_MS;
  #timer: NodeJS.Timeout | null = null;
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

  get synced(): boolean {
    return this.#current !== null;
  }

  list(): readonly T[] {
    return this.#current?.list() ?? [];
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#current?.get(name, namespace);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    for (const informer of [this.#current, this.#starting]) if (informer !== null) this.#retire(informer);
  }

  #retire(informer: Cache<T>): void {
    this.#retired.add(informer);
    void informer.stop();
  }

  #replace(): void {
    if (this.#stopped) return;
    const { kc, path, list, labelSelector, onChange } = this.#options;
    const informer = makeInformer<T>(kc, path, list, labelSelector) as Cache<T>;
    this.#starting = informer;
    informer.on('change', () => {
      if (informer === this.#current) onChange();
    });
    informer.on('error', (err: unknown) => this.#failed(informer, err));
    informer.start().then(
      () => {
        if (this.#stopped || informer !== this.#starting) return this.#retire(informer);
        const previous = this.#current;
        this.#current = informer;
        this.#starting = null;
        if (previous !== null) this.#retire(previous);
        this.#backoff = BACKOFF_MIN_MS;
        this.#resolveSynced();
        onChange(); // the list may differ from what the old cache held
        this.#schedule(this.#options.resyncMs);
      },
      (err: unknown) => this.#failed(informer, err),
    );
  }

  #failed(informer: Cache<T>, err: unknown): void {
    // Stopping an informer aborts its watch, which reports an error: not news. A failed current
    // informer is retired but stays current: its cache answers until a replacement has listed.
    if (this.#stopped || this.#retired.has(informer)) return;
    if (informer === this.#starting) this.#starting = null;
    this.#retire(informer);
    this.#options.log({ level: 'warn', msg: 'watch failed; retrying', watch: this.#options.name, error: (err as Error)?.message ?? String(err), retryInMs: this.#backoff });
    this.#schedule(this.#backoff);
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

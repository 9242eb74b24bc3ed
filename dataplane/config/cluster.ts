// --namespace NS [--kubeconfig FILE]: the snapshot the operator publishes as Secrets (see
// operator/publish.ts), watched through the Kubernetes API. One informer over the bus's Secrets
// (shards and manifest share a label) holds all of them; whenever the manifest or a shard it names
// changes, the shards are joined and verified and the result is offered to the loader.
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { BUS_LABEL, joinSnapshot, MANIFEST_DATA_KEY, manifestSecretName, SHARD_DATA_KEY, type SnapshotManifest } from '../../api/snapshot/index.ts';
import { Watched } from '../../kube/watch.ts';
import type { Candidate, ConfigSource } from './source.ts';

/** Shards are written before the manifest, so one missing is normally seconds from arriving; past this, say so. */
const MISSING_SHARD_REPORT_MS = 30_000;
/** The Secrets are listed afresh this often anyway, as the operator's watches are (--rewatch-seconds). */
const RESYNC_MS = 300_000;

export class ClusterSource implements ConfigSource {
  #kc: KubeConfig;
  #namespace: string;
  #bus: string;
  #log: (record: Record<string, unknown>) => void;
  #secrets: Watched<V1Secret> | null = null;
  #stopped = false;
  #timers = new Set<NodeJS.Timeout>();
  #assembleQueued = false;
  #missingTimer: NodeJS.Timeout | null = null;
  /** resourceVersions of the manifest and its shards at the last attempt: events that change neither cost nothing */
  #attempted = '';

  constructor(kc: KubeConfig, namespace: string, bus: string, log: (record: Record<string, unknown>) => void) {
    this.#kc = kc;
    this.#namespace = namespace;
    this.#bus = bus;
    this.#log = log;
  }

  get #origin(): string {
    return `secret ${this.#namespace}/${manifestSecretName(this.#bus)}`;
  }

  start(deliver: (c: Candidate) => void, fail: (origin: string, message: string) => void): void {
    const api = this.#kc.makeApiClient(CoreV1Api);
    const labelSelector = `${BUS_LABEL}=${this.#bus}`;
    // A watch that fails is restarted with a backoff (kube/watch.ts); meanwhile the loader keeps
    // serving the last good snapshot: not being able to look is not a bad snapshot.
    const secrets = new Watched<V1Secret>({
      kc: this.#kc,
      name: 'snapshot Secrets',
      path: `/api/v1/namespaces/${this.#namespace}/secrets`,
      list: () => api.listNamespacedSecret({ namespace: this.#namespace, labelSelector }),
      labelSelector,
      resyncMs: RESYNC_MS,
      log: this.#log,
      // A list delivers every Secret as its own event: assemble once per burst, not once per shard.
      onChange: () => {
        if (this.#assembleQueued) return;
        this.#assembleQueued = true;
        setImmediate(() => {
          this.#assembleQueued = false;
          if (!this.#stopped) this.#assemble(secrets, deliver, fail);
        });
      },
    });
    this.#secrets = secrets;
    void secrets.start();
  }

  #assemble(cache: Watched<V1Secret>, deliver: (c: Candidate) => void, fail: (origin: string, message: string) => void): void {
    const secret = cache.get(manifestSecretName(this.#bus), this.#namespace);
    // Nothing published yet, or the manifest deleted: keep what is in force.
    if (secret === undefined) return;
    let manifest: SnapshotManifest;
    try {
      manifest = JSON.parse(Buffer.from(secret.data?.[MANIFEST_DATA_KEY] ?? '', 'base64').toString('utf8')) as SnapshotManifest;
      if (!Array.isArray(manifest?.shards)) throw new Error('it lists no shards');
    } catch (err) {
      return this.#once(secret.metadata?.resourceVersion ?? '', () => fail(this.#origin, `the manifest does not parse: ${(err as Error).message}`));
    }
    const shards = new Map<string, Buffer>();
    const missing: string[] = [];
    const versions = [secret.metadata?.resourceVersion];
    for (const ref of manifest.shards) {
      const shard = cache.get(ref.name, this.#namespace);
      versions.push(shard?.metadata?.resourceVersion ?? '-');
      const data = shard?.data?.[SHARD_DATA_KEY];
      if (data === undefined) missing.push(ref.name);
      else shards.set(ref.name, Buffer.from(data, 'base64'));
    }
    this.#once(versions.join(','), () => {
      if (this.#missingTimer !== null) {
        clearTimeout(this.#missingTimer);
        this.#timers.delete(this.#missingTimer);
        this.#missingTimer = null;
      }
      if (missing.length > 0) {
        // Not a failure: the shards are on their way (or the informer has not seen them yet).
        this.#log({ level: 'info', msg: 'waiting for snapshot shards', origin: this.#origin, generation: manifest.generation, missing });
        this.#missingTimer = this.#after(MISSING_SHARD_REPORT_MS, () => fail(this.#origin, `generation ${manifest.generation}: shards ${missing.join(', ')} have not arrived`));
        return;
      }
      const joined = joinSnapshot(manifest, shards);
      if (Array.isArray(joined)) fail(this.#origin, `generation ${manifest.generation}: ${joined.slice(0, 5).join('; ')}`);
      else deliver({ snapshot: joined, generation: manifest.generation, origin: this.#origin });
    });
  }

  /** Runs `attempt` unless the manifest and shards are exactly as at the last attempt. */
  #once(key: string, attempt: () => void): void {
    if (key === this.#attempted) return;
    this.#attempted = key;
    attempt();
  }

  #after(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) run();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#secrets?.stop();
  }
}

// Everything --namespace adds, in one module that main imports only in cluster mode: the
// Kubernetes client alone is some 78 MB resident, which a dataplane serving a file should not pay.
// The snapshot Secrets as the source, the report Lease of what this replica serves, and the
// optional snapshot cache on disk.
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import type { Snapshot } from '../../api/snapshot/index.ts';
import type { DataplaneArgs } from '../args.ts';
import { ClusterSource } from './cluster.ts';
import { ServingReporter } from './cluster-report.ts';
import { SnapshotCache } from './snapshot-cache.ts';
import type { Candidate, ConfigSource } from './source.ts';

export interface ClusterMode {
  source: ConfigSource;
  /** the cached snapshot to serve until the API server answers, if any */
  cached: Candidate | null;
  /** a snapshot was swapped in: report it, and cache it */
  loaded(generation: number, snapshot: Snapshot): void;
  /** deletes the report: a replica shutting down serves nothing the operator may count on */
  stopReporting(): Promise<void>;
  /** finishes the cache writes started so far (after the source has stopped) */
  flush(): Promise<void>;
}

export function clusterMode(args: DataplaneArgs & { namespace: string }, log: (record: Record<string, unknown>) => void): ClusterMode {
  const kc = new KubeConfig();
  if (args.kubeconfig === null) kc.loadFromCluster();
  else kc.loadFromFile(args.kubeconfig);
  // A sidecar serves part of its bus: its report would make the operator count the bus's other
  // routes as served (Programmed). It writes none, and needs no Lease rights.
  const reporter = args.sidecar === null ? new ServingReporter(kc.makeApiClient(CoordinationV1Api), args.namespace, args.bus, args.replica, log) : null;
  const cache = args.cacheDir === null ? null : new SnapshotCache(args.cacheDir, args.bus, log);
  return {
    source: new ClusterSource(kc, args.namespace, args.bus, log),
    cached: cache?.load() ?? null,
    loaded(generation, snapshot) {
      reporter?.serving(generation, snapshot.hash);
      cache?.save(generation, snapshot);
    },
    stopReporting: async () => reporter?.stop(),
    flush: async () => cache?.flush(),
  };
}

// Runs the real gozargah-operator as a child process, the way a pod would, and gives tests
// credentials that are exactly what the chart grants (deploy/rbac), so least privilege is tested.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installCrds, startCluster, type Cluster } from './cluster.ts';
import { ROOT, startNodeProcess, waitFor } from './dataplane.ts';

export const SYSTEM_NS = 'gozargah-system';

export interface RunningOperator {
  adminUrl: string;
  process: ChildProcess;
  logs(): string;
  /** /readyz's body */
  state(): Promise<{ ready: boolean; leader: boolean; lastReconcile: { at: string; ok: boolean } | null }>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startOperator(kubeconfig: string, identity: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningOperator> {
  const started = await startNodeProcess('operator', 'operator/main.ts', ['--kubeconfig', kubeconfig, '--namespace', SYSTEM_NS, '--identity', identity, '--admin-listen', '127.0.0.1:0', ...extra], '"started"', env);
  const admin = started.line.admin as string;
  const adminUrl = `http://${admin}`;
  return {
    adminUrl,
    process: started.child,
    logs: started.logs,
    state: async () => (await (await fetch(`${adminUrl}/readyz`)).json()) as Awaited<ReturnType<RunningOperator['state']>>,
    stop: started.stop,
  };
}

/** Waits until the operator leads and a reconcile has completed since `since` (ISO time). */
export async function reconciledSince(op: RunningOperator, since: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const s = await op.state();
      return s.leader && s.lastReconcile !== null && s.lastReconcile.ok && s.lastReconcile.at >= since;
    },
    timeoutMs,
    () => `operator did not reconcile since ${since}:\n${op.logs().slice(-3000)}`,
  );
}

/**
 * A real control plane with crds/ and deploy/rbac installed, as every operator test starts from;
 * stopped when the test file ends. Returns the kubeconfig of each ServiceAccount (installRbac).
 */
export async function startControlPlane(t: { teardown(fn: () => unknown): void }): Promise<{ cluster: Cluster; credentials: Awaited<ReturnType<typeof installRbac>> }> {
  const cluster = await startCluster();
  t.teardown(() => cluster.stop());
  await installCrds(cluster);
  return { cluster, credentials: await installRbac(cluster) };
}

/**
 * Creates the namespace, the two ServiceAccounts and deploy/rbac's roles, and returns a
 * kubeconfig per ServiceAccount holding a token the API server issued for it.
 */
export async function installRbac(cluster: Cluster): Promise<{ operator: string; dataplane: string }> {
  const ok = cluster.run;
  await ok(['create', 'namespace', SYSTEM_NS]);
  await ok(['create', 'serviceaccount', '-n', SYSTEM_NS, 'gozargah-operator']);
  await ok(['create', 'serviceaccount', '-n', SYSTEM_NS, 'gozargah-dataplane']);
  await ok(['apply', '-f', join(ROOT, 'deploy/rbac')]);
  return { operator: await serviceAccountKubeconfig(cluster, SYSTEM_NS, 'gozargah-operator'), dataplane: await serviceAccountKubeconfig(cluster, SYSTEM_NS, 'gozargah-dataplane') };
}

/** A kubeconfig holding a token the API server issued for the ServiceAccount NAMESPACE/SA: exactly its rights. */
export async function serviceAccountKubeconfig(cluster: Cluster, namespace: string, sa: string): Promise<string> {
  const token = (await cluster.run(['create', 'token', '-n', namespace, sa, '--duration', '2h'])).trim();
  const path = join(cluster.dir, `${namespace}-${sa}.kubeconfig`);
  writeFileSync(path, readFileSync(cluster.kubeconfig, 'utf8').replace(/token: .*/, `token: ${token}`), { mode: 0o600 });
  return path;
}

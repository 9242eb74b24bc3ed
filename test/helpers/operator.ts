// Runs the real gozargah-operator as a child process, the way a pod would, and gives tests
// credentials that are exactly what the chart grants (deploy/rbac), so least privilege is tested.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cluster } from './cluster.ts';
import { NODE, ROOT, waitFor } from './dataplane.ts';

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
  const child = spawn(NODE, [join(ROOT, 'operator/main.ts'), '--kubeconfig', kubeconfig, '--namespace', SYSTEM_NS, '--identity', identity, '--admin-listen', '127.0.0.1:0', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const admin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`operator did not start:\n${stderr}`)), 20_000);
    const check = (): void => {
      const line = stderr.split('\n').find((l) => l.includes('"started"'));
      if (line === undefined) return;
      clearTimeout(timer);
      child.stderr?.off('data', check);
      resolve((JSON.parse(line) as { admin: string }).admin);
    };
    child.stderr?.on('data', check);
    void exited.then((code) => reject(new Error(`operator exited with ${code}:\n${stderr}`)));
  });
  const adminUrl = `http://${admin}`;
  return {
    adminUrl,
    process: child,
    logs: () => stderr,
    state: async () => (await (await fetch(`${adminUrl}/readyz`)).json()) as Awaited<ReturnType<RunningOperator['state']>>,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
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
 * Creates the namespace, the two ServiceAccounts and deploy/rbac's roles, and returns a
 * kubeconfig per ServiceAccount holding a token the API server issued for it.
 */
export async function installRbac(cluster: Cluster): Promise<{ operator: string; dataplane: string }> {
  const ok = cluster.run;
  await ok(['create', 'namespace', SYSTEM_NS]);
  await ok(['create', 'serviceaccount', '-n', SYSTEM_NS, 'gozargah-operator']);
  await ok(['create', 'serviceaccount', '-n', SYSTEM_NS, 'gozargah-dataplane']);
  await ok(['apply', '-f', join(ROOT, 'deploy/rbac')]);
  const admin = readFileSync(cluster.kubeconfig, 'utf8');
  const kubeconfigFor = async (sa: string): Promise<string> => {
    const token = (await ok(['create', 'token', '-n', SYSTEM_NS, sa, '--duration', '2h'])).trim();
    const path = join(cluster.dir, `${sa}.kubeconfig`);
    writeFileSync(path, admin.replace(/token: .*/, `token: ${token}`), { mode: 0o600 });
    return path;
  };
  return { operator: await kubeconfigFor('gozargah-operator'), dataplane: await kubeconfigFor('gozargah-dataplane') };
}

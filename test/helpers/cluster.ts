// A real control plane (etcd + kube-apiserver) for a test file, in its own directory, started
// by test/cluster/up.sh from binaries `make cluster-build` cached beforehand; or, with a node
// that runs pods, by test/cluster/node-up.sh.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ROOT } from './dataplane.ts';

const run = promisify(execFile);

export interface Cluster {
  dir: string;
  kubeconfig: string;
  /** runs kubectl against the cluster; resolves even when kubectl fails */
  kubectl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** runs kubectl and returns its output; throws with kubectl's message when it fails */
  run(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startCluster(): Promise<Cluster> {
  return start('up.sh', 'down.sh', []);
}

/**
 * A cluster that runs pods (test/cluster/node-up.sh): the control plane, the controllers and
 * scheduler, and one node (containerd, kubelet, kube-proxy, CoreDNS) with `images` loaded from
 * podman. Needs root; one per machine.
 */
export async function startNodeCluster(images: readonly string[]): Promise<Cluster> {
  // A node this process leaves behind (killed at a timeout) is removed by the next node-up.sh.
  return start('node-up.sh', 'node-down.sh', images, { GOZARGAH_NODE_HOLDER_PID: String(process.pid) });
}

async function start(up: string, down: string, args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Cluster> {
  const dir = join(mkdtempSync(join(tmpdir(), 'gozargah-it-')), 'cluster');
  const env = { ...process.env, GOZARGAH_CLUSTER_DIR: dir, GOZARGAH_NO_BUILD: '1', ...extraEnv };
  try {
    await run('bash', [join(ROOT, 'test/cluster', up), ...args], { env, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    throw new Error(`test/cluster/${up} failed:\n${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
  const kubeconfig = join(dir, 'kubeconfig');
  const kubectlPath = join(dir, 'bin', 'kubectl');
  const kubectl: Cluster['kubectl'] = (args, input) =>
    new Promise((resolve) => {
      const child = execFile(kubectlPath, ['--kubeconfig', kubeconfig, ...args], { env, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  return {
    dir,
    kubeconfig,
    kubectl,
    run: async (args, input) => {
      const out = await kubectl(args, input);
      if (out.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${out.stderr}`);
      return out.stdout;
    },
    stop: async () => {
      execFileSync('bash', [join(ROOT, 'test/cluster', down)], { env, stdio: 'ignore' });
    },
  };
}

/** kubectl apply of objects built in the test (test/helpers/manifests.ts), as one YAML stream. */
export function applyObjects(cluster: Cluster, objects: readonly Record<string, unknown>[]): Promise<string> {
  return cluster.run(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));
}

export const CRD_NAMES = ['serviceproviders', 'inquiryroutes', 'clientbindings'].map((plural) => `crd/${plural}.gozargah.io`);

/** Applies crds/ and waits until the API server serves the three kinds. */
export async function installCrds(cluster: Cluster): Promise<void> {
  await cluster.run(['apply', '-f', join(ROOT, 'crds')]);
  await established(cluster, CRD_NAMES);
}

/** The CRDs serve their kinds. */
export function established(cluster: Cluster, names: readonly string[]): Promise<void> {
  return kubectlWait(cluster, ['--for=condition=Established', ...names]);
}

/**
 * kubectl wait ARGS, asked again while an object has no conditions yet: kubectl fails at once
 * on an object whose status is still empty ("accessor error: <nil>") instead of waiting.
 */
export async function kubectlWait(cluster: Cluster, args: readonly string[], timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await cluster.kubectl(['wait', `--timeout=${Math.max(1, Math.round((deadline - Date.now()) / 1000))}s`, ...args]);
    if (out.code === 0) return;
    if (!out.stderr.includes('accessor error') || Date.now() > deadline) throw new Error(`kubectl wait ${args.join(' ')}: ${out.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

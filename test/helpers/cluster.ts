// A real control plane (etcd + kube-apiserver) for a test file, in its own directory, started
// by test/cluster/up.sh from binaries `make cluster-build` cached beforehand.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
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
  const dir = join(mkdtempSync(join(tmpdir(), 'gozargah-it-')), 'cluster');
  const env = { ...process.env, GOZARGAH_CLUSTER_DIR: dir, GOZARGAH_NO_BUILD: '1' };
  await run('bash', [join(ROOT, 'test/cluster/up.sh')], { env });
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
      execFileSync('bash', [join(ROOT, 'test/cluster/down.sh')], { env, stdio: 'ignore' });
    },
  };
}

export const CRD_NAMES = ['serviceproviders', 'inquiryroutes', 'clientbindings'].map((plural) => `crd/${plural}.gozargah.io`);

/** Applies crds/ and waits until the API server serves the three kinds. */
export async function installCrds(cluster: Cluster): Promise<void> {
  await cluster.run(['apply', '-f', join(ROOT, 'crds')]);
  await cluster.run(['wait', '--for=condition=Established', '--timeout=60s', ...CRD_NAMES]);
}

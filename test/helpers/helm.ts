// The helm binary test/cluster/build.sh caches (the version pinned in test/cluster/versions.env),
// run with its own throw-away config, cache and data directories so a test never reads or
// writes the user's Helm state.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './dataplane.ts';

export const CHART = join(ROOT, 'charts/gozargah');

/** Where build.sh puts helm: ${GOZARGAH_CACHE:-$HOME/.cache/gozargah}/bin/helm-<version>/helm (test/cluster/lib.sh). */
export function helmPath(): string {
  return cachedBinary('helm', 'HELM_VERSION', 'helm');
}

/** Helm 4, which build.sh caches next to Helm 3 (HELM4_VERSION). */
export function helm4Path(): string {
  return cachedBinary('helm', 'HELM4_VERSION', 'helm');
}

/** A binary test/cluster/build.sh cached: bin/<component>-<version>/<binary>, the version from versions.env's KEY. */
export function cachedBinary(component: string, key: string, binary: string): string {
  const versions = readFileSync(join(ROOT, 'test/cluster/versions.env'), 'utf8');
  const version = new RegExp(`^${key}=(\\S+)$`, 'm').exec(versions)?.[1];
  if (version === undefined) throw new Error(`${key} is missing from test/cluster/versions.env`);
  const cache = process.env.GOZARGAH_CACHE ?? join(homedir(), '.cache/gozargah');
  const path = join(cache, 'bin', `${component}-${version}`, binary);
  if (!existsSync(path)) throw new Error(`${path} is missing: run make cluster-build (test/cluster/build.sh ${component})`);
  return path;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Returns a helm runner (Helm 3 unless another binary is given); with a kubeconfig, commands talk to that cluster. Resolves even when helm fails. */
export function helm(kubeconfig?: string, bin = helmPath()): (args: string[]) => Promise<HelmResult> {
  const home = mkdtempSync(join(tmpdir(), 'gozargah-helm-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_DATA_HOME: join(home, 'data'),
    ...(kubeconfig === undefined ? {} : { KUBECONFIG: kubeconfig }),
  };
  return (args) =>
    new Promise((resolve) => {
      execFile(bin, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? 1), stdout, stderr });
      });
    });
}

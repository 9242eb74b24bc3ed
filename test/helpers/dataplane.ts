// Runs the real gozargah-dataplane as a child process, the way a pod would, on free loopback ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const NODE = join(ROOT, 'node_modules/.bin/node');

export interface RunningDataplane {
  /** https:// when started with --tls-cert */
  url: string;
  adminUrl: string;
  process: ChildProcess;
  auditPath: string;
  /** everything written to stderr so far */
  logs(): string;
  audit(): Record<string, unknown>[];
  /** sends a signal and resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startDataplane(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<RunningDataplane> {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-dp-'));
  const auditPath = join(dir, 'audit.jsonl');
  const child = spawn(NODE, [join(ROOT, 'dataplane/main.ts'), '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--audit-log', auditPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const listening = await new Promise<{ listen: string; admin: string; tls: boolean }>((resolveListen, reject) => {
    const timer = setTimeout(() => reject(new Error(`dataplane did not start:\n${stderr}`)), 20_000);
    const check = (): void => {
      for (const line of stderr.split('\n')) {
        if (!line.includes('"listening"')) continue;
        clearTimeout(timer);
        child.stderr?.off('data', check);
        resolveListen(JSON.parse(line) as { listen: string; admin: string; tls: boolean });
        return;
      }
    };
    child.stderr?.on('data', check);
    void exited.then((code) => reject(new Error(`dataplane exited with ${code}:\n${stderr}`)));
  });
  const running: RunningDataplane = {
    url: `${listening.tls ? 'https' : 'http'}://${listening.listen}`,
    adminUrl: `http://${listening.admin}`,
    process: child,
    auditPath,
    logs: () => stderr,
    audit: () =>
      existsSync(auditPath)
        ? readFileSync(auditPath, 'utf8')
            .split('\n')
            .filter((l) => l.length > 0)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        : [],
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
  await waitFor(async () => (await fetch(`${running.adminUrl}/readyz`)).status === 200, 20_000, () => `dataplane never became ready:\n${stderr}`);
  return running;
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the audit file holds at least n records (it is written in batches). */
export async function auditCount(dp: RunningDataplane, n: number): Promise<Record<string, unknown>[]> {
  await waitFor(() => dp.audit().length >= n, 10_000, () => `audit log has ${dp.audit().length} records, expected ${n}`);
  return dp.audit();
}

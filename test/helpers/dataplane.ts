// Runs the real gozargah-dataplane as a child process, the way a pod would, on free loopback ports;
// startNodeProcess runs any of the project's entry points the same way (the operator too).
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
  const started = await startNodeProcess('dataplane', 'dataplane/main.ts', ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--audit-log', auditPath, ...args], '"listening"', options.env);
  const listening = started.line as { listen: string; admin: string; tls: boolean };
  const { child, logs } = started;
  const running: RunningDataplane = {
    url: `${listening.tls ? 'https' : 'http'}://${listening.listen}`,
    adminUrl: `http://${listening.admin}`,
    process: child,
    auditPath,
    logs,
    // Transactions only: the chain-start and checkpoint records carry a `type` (see auditLines).
    audit: () => auditRecords(auditPath).filter((r) => r['type'] === undefined),
    stop: started.stop,
  };
  await waitFor(async () => (await fetch(`${running.adminUrl}/readyz`)).status === 200, 20_000, () => `dataplane never became ready:\n${logs()}`);
  return running;
}

/** Every record of an audit file, transactions and chain records alike; none when it does not exist. */
export function auditRecords(path: string): Record<string, unknown>[] {
  return existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
}

export interface NodeProcess {
  child: ChildProcess;
  /** the JSON log line that said it started */
  line: Record<string, unknown>;
  /** everything written to stderr so far */
  logs(): string;
  /** sends a signal (unless it has exited) and resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `script` (relative to the repository) with the project's Node 24; resolves once it logs a line containing `marker`.
 * keepStdout: leave the child's stdout unread, for the test to read (or not) itself.
 */
export async function startNodeProcess(name: string, script: string, args: string[], marker: string, env: NodeJS.ProcessEnv = {}, options: { keepStdout?: boolean } = {}): Promise<NodeProcess> {
  const child = spawn(NODE, [join(ROOT, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  if (options.keepStdout !== true) child.stdout?.resume();
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const line = await new Promise<Record<string, unknown>>((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${stderr}`)), 20_000);
    const check = (): void => {
      const found = stderr.split('\n').find((l) => l.includes(marker));
      if (found === undefined) return;
      clearTimeout(timer);
      child.stderr?.off('data', check);
      resolveLine(JSON.parse(found) as Record<string, unknown>);
    };
    child.stderr?.on('data', check);
    void exited.then((code) => reject(new Error(`${name} exited with ${code}:\n${stderr}`)));
  });
  return {
    child,
    line,
    logs: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
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

// Process plumbing for the benchmarks: start a command pinned to one CPU, wait until it is
// ready, stop it. Pinning needs taskset and two CPUs; with fewer, commands run unpinned.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The proxy under test gets CPU 1 alone; the agency and the load generator share CPU 0. */
export const CPU = { load: 0, proxy: 1 } as const;

const canPin = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

export function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * The V8 flags the image runs Gozargah with (Dockerfile, NODE_OPTIONS): a young generation capped
 * at 16 MB per semi-space. Loading a 10,000-route snapshot otherwise grows it, and resident memory
 * with it, by some 80 MB that is never given back. The benchmarks measure the processes as shipped.
 */
export const IMAGE_NODE_FLAGS = ['--max-semi-space-size=16'] as const;

/** Spawns `command args` on one CPU (when pinning is possible), with its output piped. */
export function pinned(cpu: number, command: string, args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  const [file, argv] = canPin ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, [...args]];
  return spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
}

/** Resolves when the child prints `marker` on stdout or stderr; rejects when it exits first. */
export function printed(child: ChildProcess, marker: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer): void => {
      out += c.toString();
      if (out.includes(marker)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${String(child.spawnargs.join(' '))} exited ${code}: ${out.slice(-2000)}`)));
  });
}

/** Resolves once a TCP connection to the port succeeds (for servers that print nothing). */
export async function accepting(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${child.spawnargs.join(' ')} exited ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing accepts connections on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs a command to completion and answers its stdout; rejects on a non-zero exit. */
export function output(child: ChildProcess): Promise<string> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${child.spawnargs.join(' ')} exited ${code}: ${err.slice(-2000)}`))));
  });
}

export async function stop(child: ChildProcess | null): Promise<void> {
  if (child === null || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}


/** Resident memory of a running process, in MB (Linux /proc). */
export function residentMB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  return Math.round(kb / 1024);
}

/**
 * The resident memory (MB) of a dataplane with the image's V8 flags serving the snapshot in
 * `file`, once it has loaded it and `settleMs` have let the load's garbage be collected.
 */
export async function loadedDataplaneMB(file: string, settleMs: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-mem-'));
  const main = resolve(import.meta.dirname, '../dataplane/main.ts');
  const child = spawn(process.execPath, [...IMAGE_NODE_FLAGS, main, '--snapshot', file, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--audit-log', join(dir, 'audit.jsonl')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((res, rej) => {
    child.stderr?.on('data', (c: Buffer) => {
      log += c.toString();
      if (log.includes('"listening"') && log.includes('"snapshot loaded"')) res();
    });
    child.once('exit', (code) => rej(new Error(`dataplane exited ${code}: ${log.slice(-2000)}`)));
  });
  await new Promise((r) => setTimeout(r, settleMs));
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return Math.round(kb / 1024);
}

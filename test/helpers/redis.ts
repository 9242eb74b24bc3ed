// A real redis-server (Debian's package, installed by `make redis-tools`) on a free loopback
// port, in a scratch directory, with its append-only file when asked: the store the bus's
// accounting runs on, started and stopped by the tests that need it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningRedis {
  url: string;
  port: number;
  dir: string;
  /** the unix socket, when asked for */
  socket: string;
  /** the server's output so far, for failure messages */
  output(): string;
  /** SIGTERM, waiting for the exit (Redis writes its AOF on the way out) */
  stop(): Promise<void>;
  /** SIGKILL: what a crash or an OOM kill does; at most the last second of the AOF is lost */
  kill9(): Promise<void>;
  /** starts again on the same port and directory (the AOF is replayed) */
  restart(): Promise<void>;
  /** stop, and remove the directory */
  close(): Promise<void>;
}

export interface RedisOptions {
  /** appendonly yes, appendfsync everysec (the chart's setting) */
  aof?: boolean;
  password?: string;
  /** also listen on a unix socket in the scratch directory (its path is `socket`) */
  unixSocket?: boolean;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startRedis(options: RedisOptions = {}): Promise<RunningRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  let out = '';
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no',
    '--appendonly', options.aof === true ? 'yes' : 'no', '--appendfsync', 'everysec', '--loglevel', 'warning',
    ...(options.password === undefined ? [] : ['--requirepass', options.password]),
    ...(options.unixSocket === true ? ['--unixsocket', join(dir, 'redis.sock'), '--unixsocketperm', '700'] : []),
  ];
  const launch = async (): Promise<void> => {
    const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      c.once('error', (err) => reject(new Error(`redis-server did not start (${err.message}); run make redis-tools`)));
      c.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
      // loglevel warning prints nothing when ready: ask until it answers.
      const poll = (): void => {
        const probe = spawn('redis-cli', ['-p', String(port), ...(options.password === undefined ? [] : ['--no-auth-warning', '-a', options.password]), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let reply = '';
        probe.stdout.on('data', (d: Buffer) => (reply += d.toString()));
        probe.on('exit', () => (reply.includes('PONG') ? resolve() : setTimeout(poll, 20)));
      };
      poll();
    });
    c.removeAllListeners('exit');
  };
  const exit = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (c === null || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
    child = null;
  };
  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    socket: join(dir, 'redis.sock'),
    output: () => out,
    stop: () => exit('SIGTERM'),
    kill9: () => exit('SIGKILL'),
    restart: launch,
    close: async () => {
      await exit('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The Redis every part of the bus talks to, from one URL: redis://, rediss:// (TLS),
// unix:///path/to/socket and redis-sentinel://host:port[,host:port]/master. The password comes
// from a file or GOZARGAH_REDIS_PASSWORD (a password in the URL works, but is never shown:
// `display` is what logs, /config and statuses may print).
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisTarget {
  options: RedisOptions;
  /** the URL without credentials */
  display: string;
}

export class RedisUrlError extends Error {}

export const REDIS_URL_ENV = 'GOZARGAH_REDIS_URL';
export const REDIS_PASSWORD_ENV = 'GOZARGAH_REDIS_PASSWORD';

/**
 * The password: the file's first line when a file is given, else GOZARGAH_REDIS_PASSWORD, else
 * null. A missing or unreadable file is an error that names the file.
 */
export function redisPassword(file: string | null, env: NodeJS.ProcessEnv = process.env): string | null {
  if (file !== null) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new RedisUrlError(`the Redis password file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const line = text.split(/\r?\n/)[0] ?? '';
    if (line === '') throw new RedisUrlError(`the Redis password file ${file} is empty`);
    return line;
  }
  const fromEnv = env[REDIS_PASSWORD_ENV];
  return fromEnv === undefined || fromEnv === '' ? null : fromEnv;
}

function dbOf(value: string | null, url: string): number {
  if (value === null || value === '') return 0;
  if (!/^\d{1,2}$/.test(value) || Number(value) > 15) throw new RedisUrlError(`the Redis database in ${url} must be a number from 0 to 15, got ${value}`);
  return Number(value);
}

/**
 * --redis URL and --redis-password-file FILE as both binaries take them (the URL may come from
 * GOZARGAH_REDIS_URL): null without a URL. A problem becomes the binary's own usage error,
 * through `fail`, with the flag named.
 */
export function redisFromFlags(url: string | undefined, passwordFile: string | null, env: NodeJS.ProcessEnv, fail: (message: string) => Error): RedisTarget | null {
  if (url === undefined || url === '') {
    if (passwordFile !== null) throw fail(`--redis-password-file goes with --redis URL (or ${REDIS_URL_ENV})`);
    return null;
  }
  try {
    return redisTarget(url, redisPassword(passwordFile, env));
  } catch (err) {
    if (err instanceof RedisUrlError) throw fail(`--redis: ${err.message}`);
    throw err;
  }
}

/** Parses the URL; the error names what is wrong without repeating a password. */
export function redisTarget(raw: string, password: string | null): RedisTarget {
  // new URL refuses a list of hosts: a Sentinel URL's authority is read apart (see below).
  const authority = /^redis-sentinel:\/\/(?:([^@/]*)@)?([^/?]+)/.exec(raw);
  let url: URL;
  try {
    url = new URL(authority === null ? raw : raw.replace(authority[2] as string, 'sentinels'));
  } catch {
    throw new RedisUrlError('the Redis URL is not a URL (expected redis://host:6379, rediss://host:6380, unix:///path/redis.sock or redis-sentinel://host:26379/master)');
  }
  const user = url.username === '' ? undefined : decodeURIComponent(url.username);
  const pass = password ?? (url.password === '' ? undefined : decodeURIComponent(url.password));
  url.username = '';
  url.password = '';
  const display = authority === null ? url.toString() : url.toString().replace('sentinels', authority[2] as string);
  const common: RedisOptions = { username: user, password: pass ?? undefined };
  switch (url.protocol) {
    case 'redis:':
    case 'rediss:': {
      if (url.hostname === '') throw new RedisUrlError(`the Redis URL ${display} has no host`);
      const db = dbOf(url.pathname.replace(/^\//, '') || null, display);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const port = url.port === '' ? 6379 : Number(url.port);
      const tls = url.protocol === 'rediss:' ? { servername: host } : undefined;
      return { options: { ...common, host, port, db, tls }, display };
    }
    case 'unix:': {
      if (url.pathname === '' || url.pathname === '/') throw new RedisUrlError(`the Redis URL ${display} names no socket (unix:///path/to/redis.sock)`);
      return { options: { ...common, path: decodeURIComponent(url.pathname), db: dbOf(url.searchParams.get('db'), display) }, display };
    }
    case 'redis-sentinel:': {
      const sentinels = (authority?.[2] ?? '').split(',').map((hp) => {
        const m = /^(\[[0-9a-fA-F:]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(hp);
        if (m === null) throw new RedisUrlError(`the Sentinel address ${hp} in ${display} must be HOST or HOST:PORT`);
        return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: m[2] === undefined ? 26379 : Number(m[2]) };
      });
      const name = url.pathname.replace(/^\//, '');
      if (name === '') throw new RedisUrlError(`the Sentinel URL ${display} names no master (redis-sentinel://host:26379/mymaster)`);
      return { options: { ...common, sentinels, name, sentinelPassword: pass, db: dbOf(url.searchParams.get('db'), display) }, display };
    }
    default:
      throw new RedisUrlError(`the Redis URL ${display} has scheme ${url.protocol.slice(0, -1)}; use redis, rediss, unix or redis-sentinel`);
  }
}

/**
 * A connection that fails fast instead of queueing: a command sent while Redis is away errors
 * at once (no offline queue, no retry per request), and the client reconnects in the
 * background at most a second apart. A command unanswered after commandTimeoutMs fails too.
 * Callers decide what a failure means.
 */
export function connectRedis(target: RedisTarget, name: string, commandTimeoutMs = 2000): Redis {
  return new Redis({
    ...target.options,
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    commandTimeout: commandTimeoutMs,
    retryStrategy: (times) => Math.min(100 * times, 1000),
    reconnectOnError: () => false,
  });
}

export type { Redis };

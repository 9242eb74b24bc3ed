// Remote JWKS (a binding's jwksURL): fetched in the background, cached, refreshed, and kept when
// the identity provider fails. Not jose's createRemoteJWKSet: a failed refresh there leaves no
// keys, and a bus must keep verifying with the last good keys while an identity provider is down.
import { createLocalJWKSet, type JWTVerifyGetKey } from 'jose';
import { request } from 'undici';
import { parseJwks } from '../api/snapshot/index.ts';

export interface JwksOptions {
  /** how often every JWKS is fetched again (--jwks-refresh-seconds) */
  refreshMs: number;
  /** a token with an unknown kid fetches again at most this often (--jwks-min-refresh-seconds) */
  minRefreshMs: number;
  /** one fetch, connection to last byte */
  timeoutMs: number;
  /** a larger answer is refused: a JWKS is a few kilobytes */
  maxBytes: number;
}

export const DEFAULT_JWKS_OPTIONS: JwksOptions = { refreshMs: 300_000, minRefreshMs: 30_000, timeoutMs: 5_000, maxBytes: 512 << 10 };

export type Log = (record: Record<string, unknown>) => void;

/** Where a verifier gets keys; `version` changes whenever the keys do, so a cached verdict made under older keys is not trusted. */
export interface KeySource {
  readonly version: number;
  readonly getKey: JWTVerifyGetKey;
}

/** Raised when a jwksURL has never answered with usable keys. */
export class JwksUnavailableError extends Error {
  readonly code = 'ERR_GOZARGAH_JWKS_UNAVAILABLE';
}

/** Keys fixed in the snapshot (from a Secret): they change only with the snapshot. */
export function localKeys(keys: Record<string, unknown>[]): KeySource {
  return { version: 0, getKey: createLocalJWKSet({ keys }) };
}

async function fetchText(url: string, options: JwksOptions): Promise<string> {
  const res = await request(url, { signal: AbortSignal.timeout(options.timeoutMs), headers: { accept: 'application/jwk-set+json, application/json' } });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`answered HTTP ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > options.maxBytes) {
      res.body.destroy();
      throw new Error(`answered more than ${options.maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class RemoteJwks implements KeySource {
  readonly url: string;
  version = 0;
  #options: JwksOptions;
  #log: Log;
  #local: JWTVerifyGetKey | null = null;
  /** the keys in force, as JSON: an unchanged answer keeps the version (and the cache) */
  #current = '';
  #inflight: Promise<void> | null = null;
  #lastStart = Number.NEGATIVE_INFINITY;
  #failing = false;
  #timer: NodeJS.Timeout;

  constructor(url: string, options: JwksOptions, log: Log) {
    this.url = url;
    this.#options = options;
    this.#log = log;
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), options.refreshMs);
    this.#timer.unref();
  }

  /** Fetches the JWKS unless a fetch is already under way; never rejects. */
  refresh(): Promise<void> {
    if (this.#inflight !== null) return this.#inflight;
    this.#lastStart = performance.now();
    this.#inflight = this.#fetch().finally(() => (this.#inflight = null));
    return this.#inflight;
  }

  async #fetch(): Promise<void> {
    try {
      const parsed = parseJwks(await fetchText(this.url, this.#options));
      if (typeof parsed === 'string') throw new Error(`answered a JWKS that is not usable: ${parsed}`);
      const text = JSON.stringify(parsed.keys);
      if (text !== this.#current) {
        this.#local = createLocalJWKSet({ keys: parsed.keys });
        this.#current = text;
        this.version++;
      }
      if (this.#failing) this.#log({ level: 'info', msg: 'JWKS fetched again', url: this.url, keys: parsed.keys.length });
      this.#failing = false;
    } catch (err) {
      // Once per failure streak: an identity provider down for an hour is one warning, not twelve.
      if (!this.#failing) {
        this.#log({ level: 'warn', msg: this.#local === null ? 'JWKS fetch failed; tokens of its issuer cannot be verified yet' : 'JWKS fetch failed; the last good keys stay in force', url: this.url, error: (err as Error).message });
      }
      this.#failing = true;
    }
  }

  /**
   * The key for a token: from the keys in force; on an unknown kid (a key just rotated in), after
   * one more fetch, at most once per minRefreshMs. A token waits for that one fetch only.
   */
  getKey: JWTVerifyGetKey = async (header, token) => {
    if (this.#local === null) await this.#refetchIfAllowed();
    const local = this.#local as JWTVerifyGetKey | null;
    if (local === null) throw new JwksUnavailableError(`JWKS ${this.url} has not been fetched`);
    try {
      return await local(header, token);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY' || !(await this.#refetchIfAllowed())) throw err;
      return (this.#local as unknown as JWTVerifyGetKey)(header, token);
    }
  };

  /** Waits for the fetch under way, or starts one if the last began minRefreshMs ago; false when neither. */
  async #refetchIfAllowed(): Promise<boolean> {
    if (this.#inflight === null && performance.now() - this.#lastStart < this.#options.minRefreshMs) return false;
    await this.refresh();
    return this.#local !== null;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/** Every jwksURL of the snapshots in force, fetched once however many bindings and reloads name it. */
export class JwksRegistry {
  #options: JwksOptions;
  #log: Log;
  #byUrl = new Map<string, RemoteJwks>();

  constructor(options: JwksOptions, log: Log) {
    this.#options = options;
    this.#log = log;
  }

  get(url: string): RemoteJwks {
    let jwks = this.#byUrl.get(url);
    if (jwks === undefined) this.#byUrl.set(url, (jwks = new RemoteJwks(url, this.#options, this.#log)));
    return jwks;
  }

  /** Stops refreshing the URLs no binding names any more. */
  retain(urls: ReadonlySet<string>): void {
    for (const [url, jwks] of this.#byUrl) {
      if (urls.has(url)) continue;
      jwks.close();
      this.#byUrl.delete(url);
    }
  }
}

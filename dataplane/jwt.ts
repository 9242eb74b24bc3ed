// Bearer tokens (OAuth2 access tokens, JWT): which binding a token belongs to, verified against
// the snapshot's issuers. Built once per snapshot; a token verified once is remembered by its
// SHA-256 until it expires (or CACHE_MAX_MS), so the hot path pays for a signature once.
import { hash } from 'node:crypto';
import { decodeJwt, jwtVerify, type JWTPayload, type JWTVerifyResult } from 'jose';
import { Errors, problem, type Problem } from './errors.ts';
import { localKeys, type JwksRegistry, type KeySource } from './jwks.ts';
import type { SnapshotBinding } from '../api/snapshot/index.ts';

/** Allowed difference between the bus's clock and the identity provider's, for exp and nbf. */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** A verdict is remembered at most this long, whatever the token's exp (a key removed stops a cached token within this bound even for a key in a Secret). */
export const CACHE_MAX_MS = 60_000;
/** Tokens remembered at most; the oldest is forgotten first. */
export const CACHE_ENTRIES = 10_000;

interface Candidate<B> {
  binding: B;
  audiences: ReadonlySet<string>;
  algorithms: ReadonlySet<string>;
  allowed: string;
}

/** The bindings of one issuer that share one key source. */
interface Group<B> {
  issuer: string;
  source: KeySource;
  /** every algorithm some binding of the group accepts: jose refuses the rest before any key is used */
  algorithms: string[];
  claims: string[];
  /** `claim NUL value` -> the binding */
  byClaim: Map<string, Candidate<B>>;
}

interface Remembered<B> {
  binding: B;
  expiresAt: number;
  source: KeySource;
  version: number;
}

const refuse = (detail: string): Problem => problem(Errors.credentialsInvalid, detail);
const MALFORMED = refuse('The bearer token is malformed: it is not a signed JWT (header.payload.signature, base64url).');

/** The refusal for what jose threw; never the token or a claim's value. */
function refusalOf(err: unknown, allowed: string): Problem {
  const e = err as { code?: string; claim?: string; reason?: string };
  switch (e.code) {
    case 'ERR_JWT_EXPIRED':
      return refuse('The bearer token has expired (exp); ask the identity provider for a new one.');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (e.claim === 'nbf') return refuse('The bearer token is not yet valid (nbf).');
      if (e.reason === 'missing') return refuse(`The bearer token has no ${e.claim ?? ''} claim; the bus accepts only tokens that expire.`);
      return refuse(`The bearer token's ${e.claim ?? ''} claim is not valid.`);
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return refuse("No key of the token's issuer matches its key id (kid): the key is unknown, or was removed from the issuer's JWKS.");
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return refuse("The bearer token's signature is not valid.");
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return refuse(`The bearer token's algorithm (alg) is not allowed; allowed: ${allowed}.`);
    case 'ERR_GOZARGAH_JWKS_UNAVAILABLE':
      return refuse("The token's issuer's keys (jwksURL) could not be fetched yet, so no token of it can be verified; try again shortly.");
    default:
      return MALFORMED;
  }
}

const audiencesOf = (payload: JWTPayload): readonly string[] => (typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : []);

export class JwtVerifier<B> {
  #byIssuer = new Map<string, Group<B>[]>();
  #cache = new Map<string, Remembered<B>>();
  #cacheEntries: number;

  /** `bindings`: each snapshot binding with jwt credentials, and what authenticate returns for it. */
  constructor(bindings: readonly { entry: SnapshotBinding; binding: B }[], jwks: JwksRegistry, cacheEntries = CACHE_ENTRIES) {
    this.#cacheEntries = cacheEntries;
    const groups = new Map<string, Group<B>>();
    for (const { entry, binding } of bindings) {
      const jwt = entry.jwt;
      if (jwt === undefined) continue;
      const sourceKey = `${jwt.issuer}\u0000${jwt.jwksURL ?? JSON.stringify(jwt.keys)}`;
      let group = groups.get(sourceKey);
      if (group === undefined) {
        const source = jwt.jwksURL !== null ? jwks.get(jwt.jwksURL) : localKeys(jwt.keys ?? []);
        group = { issuer: jwt.issuer, source, algorithms: [], claims: [], byClaim: new Map() };
        groups.set(sourceKey, group);
        const same = this.#byIssuer.get(jwt.issuer);
        if (same === undefined) this.#byIssuer.set(jwt.issuer, [group]);
        else same.push(group);
      }
      for (const alg of jwt.algorithms) if (!group.algorithms.includes(alg)) group.algorithms.push(alg);
      if (!group.claims.includes(jwt.claim)) group.claims.push(jwt.claim);
      group.byClaim.set(`${jwt.claim}\u0000${jwt.claimValue}`, {
        binding,
        audiences: new Set(jwt.audiences),
        algorithms: new Set(jwt.algorithms),
        allowed: jwt.algorithms.join(', '),
      });
    }
  }

  /** The binding a bearer token belongs to, or why it belongs to none. Synchronous for a token seen before. */
  verify(token: string, now: number): B | Problem | Promise<B | Problem> {
    const key = hash('sha256', token, 'base64');
    const known = this.#cache.get(key);
    if (known !== undefined) {
      if (known.expiresAt > now && known.version === known.source.version) return known.binding;
      this.#cache.delete(key);
    }
    if (this.#byIssuer.size === 0) return refuse('The bus has no client that authenticates with bearer tokens; send an API key in x-api-key or a client certificate.');
    let issuer: unknown;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      return MALFORMED;
    }
    const groups = typeof issuer === 'string' ? this.#byIssuer.get(issuer) : undefined;
    if (groups === undefined) return refuse("The bearer token's issuer (iss) is not one this bus accepts tokens from.");
    return this.#verify(token, key, groups, now);
  }

  async #verify(token: string, key: string, groups: readonly Group<B>[], now: number): Promise<B | Problem> {
    let first: Problem | null = null;
    for (const group of groups) {
      const version = group.source.version;
      let verified: JWTVerifyResult;
      try {
        verified = await jwtVerify(token, group.source.getKey, {
          issuer: group.issuer,
          algorithms: group.algorithms,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['exp'],
        });
      } catch (err) {
        first ??= refusalOf(err, group.algorithms.join(', '));
        continue;
      }
      const found = this.#bindingOf(group, verified);
      if ('kind' in found) return found;
      const expiresAt = Math.min((verified.payload.exp as number) * 1000 + CLOCK_TOLERANCE_SECONDS * 1000, now + CACHE_MAX_MS);
      this.#remember(key, { binding: found.binding, expiresAt, source: group.source, version });
      return found.binding;
    }
    return first ?? MALFORMED;
  }

  /** Which binding's claim the verified token carries, then that binding's own audience and algorithm. */
  #bindingOf(group: Group<B>, { payload, protectedHeader }: JWTVerifyResult): Candidate<B> | Problem {
    let candidate: Candidate<B> | undefined;
    for (const claim of group.claims) {
      const value = payload[claim];
      if (typeof value === 'string' && (candidate = group.byClaim.get(`${claim}\u0000${value}`)) !== undefined) break;
    }
    if (candidate === undefined) return refuse(`The bearer token is genuine, but its ${group.claims.join(' / ')} claim names no client of this bus.`);
    if (!audiencesOf(payload).some((a) => candidate.audiences.has(a))) return refuse("The bearer token's audience (aud) is not one this client's binding accepts.");
    if (!candidate.algorithms.has(protectedHeader.alg)) return refuse(`The bearer token's algorithm (alg) is not allowed for this client; allowed: ${candidate.allowed}.`);
    return candidate;
  }

  #remember(key: string, entry: Remembered<B>): void {
    if (this.#cache.size >= this.#cacheEntries) this.#cache.delete(this.#cache.keys().next().value as string);
    this.#cache.set(key, entry);
  }
}

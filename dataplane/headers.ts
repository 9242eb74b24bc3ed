// Header sets, built once. What the client sends that never reaches the agency, and what the
// agency answers that never reaches the client (hop-by-hop fields, RFC 9110 section 7.6.1).

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * What a client may claim about where a request came from. The bus is where the request enters:
 * it vouches only for the address of the connection it accepted, so every one of these is dropped
 * and the agency receives X-Forwarded-For set by the bus alone (see upstreamHeaders).
 */
const CLIENT_ORIGIN_CLAIMS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'x-original-forwarded-for',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-originating-ip',
];

/**
 * Request headers never forwarded: hop-by-hop, the client's credential, what the bus sets itself,
 * and the client's claims about its origin. Expect is answered by the bus (the body is already
 * read when the agency is called), and undici refuses to send it.
 */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, ...CLIENT_ORIGIN_CLAIMS, 'host', 'content-length', 'expect', 'x-api-key', 'x-request-id']);

/** An API key is at least this long (the compiler refuses shorter ones). */
const MIN_KEY_LENGTH = 16;

/** The bus's own header prefix: only the bus sets these, toward the agency and toward the client. */
const BUS_PREFIX = 'x-gozargah-';

export interface Identity {
  client: string;
  binding: string;
  route: string;
  requestId: string;
  /** the peer address of the client's connection, as the socket reports it */
  clientAddress: string;
}

/** `Bearer <token>` (the scheme in any case, RFC 9110 section 11.1): the token, else null. */
export function bearerToken(authorization: string | undefined): string | null {
  if (authorization === undefined || authorization.length < 8 || authorization.charCodeAt(6) !== 0x20) return null;
  if (authorization.slice(0, 6).toLowerCase() !== 'bearer') return null;
  const token = authorization.slice(7).trim();
  return token.length > 0 ? token : null;
}

/** Headers named by the Connection header are hop-by-hop too. */
function connectionTokens(value: string | undefined): Set<string> | null {
  // The common case, on every keep-alive answer: keep-alive is hop-by-hop already.
  if (value === undefined || value === 'keep-alive') return null;
  return new Set(value.split(',').map((t) => t.trim().toLowerCase()));
}

/** An IPv4 client on a dual-stack socket reads ::ffff:192.0.2.1; the agency gets 192.0.2.1. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The upstream request's headers, as the flat [name, value, ...] list undici takes. Every
 * x-gozargah-* header from the client is dropped: only the bus says who is calling. So are
 * Forwarded, X-Forwarded-*, X-Real-IP and their kin: X-Forwarded-For is set to the one address the
 * bus saw, never appended to the client's claim, so an agency reading its first entry (as most
 * frameworks do) reads the truth. A header that carries the client's API key under another name
 * is dropped too (see carriesKey).
 *
 * Without an x-api-key, an Authorization: Bearer header is the client's credential (see
 * authenticate): every bearer Authorization header is dropped, and so is any header repeating the
 * token. With an x-api-key, a bearer header is the client's own business with the agency and passes.
 */
export function upstreamHeaders(raw: readonly string[], identity: Identity, bodyLength: number, plainAnswer = false): string[] {
  const out: string[] = [];
  let named: Set<string> | null = null;
  let key: string | null = null;
  let token: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'connection') named = connectionTokens(raw[i + 1]);
    else if (name === 'x-api-key') key = raw[i + 1] as string;
    else if (name === 'authorization') token ??= bearerToken(raw[i + 1]);
  }
  const credential = key ?? token;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (NOT_FORWARDED.has(name) || name.startsWith(BUS_PREFIX) || (named !== null && named.has(name))) continue;
    if (plainAnswer && name === 'accept-encoding') continue;
    const value = raw[i + 1] as string;
    if (key === null && name === 'authorization' && bearerToken(value) !== null) continue;
    if (credential !== null && carriesKey(name, value, credential)) continue;
    out.push(name, value);
  }
  out.push(
    'x-gozargah-client', identity.client,
    'x-gozargah-binding', identity.binding,
    'x-gozargah-route', identity.route,
    'x-request-id', identity.requestId,
    'x-forwarded-for', plainAddress(identity.clientAddress),
  );
  if (bodyLength > 0) out.push('content-length', String(bodyLength));
  // The bus must read the answer (privacy rules): ask for it unencoded.
  if (plainAnswer) out.push('accept-encoding', 'identity');
  return out;
}

/**
 * Whether a header also carries the client's API key (Authorization: Bearer KEY, Basic with the
 * key as user or password, a cookie, a header of the client's own): such a header is dropped
 * whole, so the bus's credential never reaches the agency (and its logs) by another name.
 */
function carriesKey(name: string, value: string, key: string): boolean {
  if (key.length < MIN_KEY_LENGTH) return false;
  if (value.includes(key)) return true;
  if (value.includes('%')) {
    try {
      if (decodeURIComponent(value).includes(key)) return true;
    } catch {
      // not percent-encoded UTF-8: the raw value was checked
    }
  }
  if (name === 'authorization' && /^basic\s/i.test(value)) return Buffer.from(value.slice(6).trim(), 'base64').toString('latin1').includes(key);
  return false;
}

/**
 * The agency's response headers minus hop-by-hop fields (and content-length when the body
 * changes), and minus every x-gozargah-* header: x-gozargah-error must only ever mean that the
 * bus refused, so an agency can never make its answer pass for the bus's.
 */
export function downstreamHeaders(headers: Record<string, string | string[] | undefined>, dropLength: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const named = connectionTokens(typeof headers['connection'] === 'string' ? headers['connection'] : undefined);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (named !== null && named.has(name))) continue;
    if (dropLength && name === 'content-length') continue;
    // Names arrive lower-cased from undici; the check does not rely on it.
    if (name.length >= BUS_PREFIX.length && name.slice(0, BUS_PREFIX.length).toLowerCase() === BUS_PREFIX) continue;
    out[name] = value;
  }
  return out;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function wellFormedRequestId(value: string | string[] | undefined): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

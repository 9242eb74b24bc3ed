// Authentication (API key by SHA-256, bearer token by dataplane/jwt.ts, client certificate by
// fingerprint or subject) and the checks that belong to identity: validity window and source address.
import { hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Errors, problem, type Problem } from './errors.ts';
import { bearerToken } from './headers.ts';
import { subjectOf, type SubjectAttribute } from '../api/v1alpha1/index.ts';
import type { BindingContext, Runtime } from './runtime.ts';

interface PeerIdentity {
  fingerprint: string;
  subject: string;
  /** verified against the bus's client CA */
  authorized: boolean;
}

const peers = new WeakMap<object, PeerIdentity | null>();

/**
 * The attributes of a certificate subject as Node reports them: one value, or an array when an
 * attribute repeats (two OU). Values are taken whole, so a common name holding a comma stays one
 * value and is escaped (RFC 4514) in the canonical form bindings are compared with.
 */
function subjectAttributes(subject: object | undefined): SubjectAttribute[] {
  const out: SubjectAttribute[] = [];
  for (const [type, values] of Object.entries((subject ?? {}) as Record<string, unknown>)) {
    if (values === undefined) continue;
    for (const value of Array.isArray(values) ? values : [values]) out.push({ type, value: String(value) });
  }
  return out;
}

/** The client certificate of a TLS connection, read once per connection. */
function peerIdentity(req: IncomingMessage): PeerIdentity | null {
  const socket = req.socket as TLSSocket;
  if (socket.encrypted !== true) return null;
  let identity = peers.get(socket);
  if (identity !== undefined) return identity;
  const cert = socket.getPeerCertificate();
  identity =
    cert === null || cert.fingerprint256 === undefined
      ? null
      : {
          fingerprint: cert.fingerprint256.replace(/:/g, '').toLowerCase(),
          subject: subjectOf(subjectAttributes(cert.subject)),
          authorized: socket.authorized,
        };
  peers.set(socket, identity);
  return identity;
}

/**
 * Query parameter names that carry a credential, compared once normalized (see normalizedName):
 * equal to one of CREDENTIAL_NAMES, or containing one of CREDENTIAL_FRAGMENTS (my_api_key, x-api-key,
 * apiKeyValue).
 */
const CREDENTIAL_NAMES: ReadonlySet<string> = new Set(['token', 'idtoken', 'refreshtoken', 'sessiontoken', 'bearer', 'jwt', 'authorization', 'secret', 'passwd', 'pwd']);
const CREDENTIAL_FRAGMENTS: readonly string[] = ['apikey', 'apitoken', 'accesstoken', 'authtoken', 'clientsecret', 'password'];
/** Percent-decoding rounds: double and triple encoding are undone. */
const DECODE_ROUNDS = 3;
/** Query values hashed against the bus's API keys: as long as a usable key, and not absurdly longer. */
const KEY_CANDIDATE_MIN = 16;
const KEY_CANDIDATE_MAX = 1024;

/**
 * True when the query string (with or without its leading '?') names a credential, or, given the
 * bus's key hashes, carries one of its API keys under any name: such a request is refused, never
 * forwarded, because query strings end up in logs (the agency's, a proxy's, a browser history).
 *
 * The query is read the way the most lenient server would: percent-encoding is undone until
 * nothing changes (so api%255Fkey is api_key), encoded separators split parameters, and '&',
 * ';', '?' and '#' (a fragment has no place in a request, and an agency may log it) all separate
 * them. Each name is then normalized (see normalizedName) so that
 * spelling, case and punctuation never matter. Linear in the query's length; a query with no
 * '%' is not copied.
 */
export function credentialsInQuery(query: string, knownKeyHashes?: ReadonlyMap<string, unknown>): boolean {
  const text = fullyDecoded(query);
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x26;
    if (c !== 0x26 /* & */ && c !== 0x3b /* ; */ && c !== 0x3f /* ? */ && c !== 0x23 /* # */) continue;
    if (i > start && credentialParameter(text, start, i, knownKeyHashes)) return true;
    start = i + 1;
  }
  return false;
}

function credentialParameter(text: string, start: number, end: number, knownKeyHashes: ReadonlyMap<string, unknown> | undefined): boolean {
  let eq = text.indexOf('=', start);
  if (eq < 0 || eq > end) eq = end;
  const name = normalizedName(text.slice(start, eq));
  if (CREDENTIAL_NAMES.has(name)) return true;
  for (const fragment of CREDENTIAL_FRAGMENTS) if (name.includes(fragment)) return true;
  if (knownKeyHashes === undefined || knownKeyHashes.size === 0) return false;
  // A key sent as a bare parameter (?KEY) or as any parameter's value (?k=KEY).
  return knownKey(text.slice(start, eq), knownKeyHashes) || (eq < end && knownKey(text.slice(eq + 1, end), knownKeyHashes));
}

function knownKey(candidate: string, knownKeyHashes: ReadonlyMap<string, unknown>): boolean {
  if (candidate.length < KEY_CANDIDATE_MIN || candidate.length > KEY_CANDIDATE_MAX) return false;
  return knownKeyHashes.has(hash('sha256', Buffer.from(candidate, 'latin1'), 'hex'));
}

/**
 * A parameter name the way a lenient server might match it: its bytes read as UTF-8 and
 * NFKC-normalized (fullwidth letters, the Kelvin sign), lower-cased, and every character that is
 * not an ASCII letter or digit dropped ('-', '_', '.', '+', spaces, brackets). So API_KEY,
 * api-key, Api.Key, api+key and apikey are all "apikey".
 */
function normalizedName(raw: string): string {
  let text = raw;
  for (let i = 0; i < raw.length; i++) {
    if (raw.charCodeAt(i) > 0x7f) {
      text = Buffer.from(raw, 'latin1').toString('utf8').normalize('NFKC');
      break;
    }
  }
  text = text.toLowerCase();
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) out += text[i];
  }
  return out;
}

/**
 * The query with percent-encoding undone, round after round until nothing changes (at most
 * DECODE_ROUNDS: no server decodes deeper), each byte a latin1 character as Node gives the
 * request target.
 */
function fullyDecoded(query: string): string {
  let text = query;
  for (let round = 0; round < DECODE_ROUNDS; round++) {
    const next = percentDecoded(text);
    if (next === text) break;
    text = next;
  }
  return text;
}

/** One round of percent-decoding; a '%' not followed by two hex digits stays as it is. */
function percentDecoded(text: string): string {
  let i = text.indexOf('%');
  if (i < 0) return text;
  let out = text.slice(0, i);
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25 && i + 2 < text.length) {
      const high = hexValue(text.charCodeAt(i + 1));
      const low = hexValue(text.charCodeAt(i + 2));
      if (high >= 0 && low >= 0) {
        out += String.fromCharCode(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Finds the binding the request's credentials belong to. The order: x-api-key, then
 * Authorization: Bearer, then the client certificate. A credential the client chose to send in a
 * header names the binding it means; the certificate is the connection's, shared by every request
 * on it (and a gateway's mTLS may put one on every connection). The first credential present
 * decides: a wrong one is refused, never passed over for the next. A token is verified
 * asynchronously the first time only: the answer is a Promise then.
 */
export function authenticate(req: IncomingMessage, runtime: Runtime): BindingContext | Problem | Promise<BindingContext | Problem> {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key.length > 0) {
    const binding = runtime.byKeyHash.get(hash('sha256', key, 'hex'));
    return binding ?? problem(Errors.credentialsInvalid, 'The API key in x-api-key is not known to this bus.');
  }
  const token = bearerToken(req.headers.authorization);
  if (token !== null) return runtime.jwt.verify(token, Date.now());
  const peer = peerIdentity(req);
  if (peer !== null) {
    const binding = runtime.byFingerprint.get(peer.fingerprint) ?? (peer.authorized ? runtime.bySubject.get(peer.subject) : undefined);
    return binding ?? problem(Errors.credentialsInvalid, 'The client certificate is not bound to any client of this bus.');
  }
  return problem(Errors.credentialsMissing, 'Send an API key in the x-api-key header, an access token as Authorization: Bearer <token>, or a client certificate over HTTPS.');
}

function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** The binding's validity window and source CIDRs. null when the request may proceed. */
export function checkIdentity(req: IncomingMessage, binding: BindingContext, now: number): Problem | null {
  if (now < binding.notBefore || now > binding.notAfter) {
    return problem(Errors.bindingExpired, `The binding ${binding.id} is valid from ${iso(binding.notBefore)} to ${iso(binding.notAfter)}.`);
  }
  if (binding.sources !== null) {
    const address = clientAddress(req);
    if (!binding.sources.check(address, address.includes(':') ? 'ipv6' : 'ipv4')) {
      return problem(Errors.sourceNotAllowed, `Calls from ${address} are not allowed for binding ${binding.id}.`);
    }
  }
  return null;
}

const iso = (ms: number): string => (Number.isFinite(ms) ? new Date(ms).toISOString() : 'unbounded');

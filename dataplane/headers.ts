// Header sets, built once. What the client sends that never reaches the agency, and what the
// agency answers that never reaches the client (hop-by-hop fields, RFC 9110 section 7.6.1).

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Request headers never forwarded: hop-by-hop, the client's credential, and what the bus sets
 * itself. Expect is answered by the bus (the body is already read when the agency is called),
 * and undici refuses to send it.
 */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'host', 'content-length', 'expect', 'x-api-key', 'x-request-id', 'x-forwarded-for']);

export interface Identity {
  client: string;
  binding: string;
  route: string;
  requestId: string;
  clientAddress: string;
}

/** Headers named by the Connection header are hop-by-hop too. */
function connectionTokens(value: string | undefined): Set<string> | null {
  // The common case, on every keep-alive answer: keep-alive is hop-by-hop already.
  if (value === undefined || value === 'keep-alive') return null;
  return new Set(value.split(',').map((t) => t.trim().toLowerCase()));
}

/**
 * The upstream request's headers, as the flat [name, value, ...] list undici takes. Every
 * x-gozargah-* header from the client is dropped: only the bus says who is calling.
 */
export function upstreamHeaders(raw: readonly string[], identity: Identity, bodyLength: number, forwardedFor: string | undefined): string[] {
  const out: string[] = [];
  let named: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'connection') named = connectionTokens(raw[i + 1]);
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (NOT_FORWARDED.has(name) || name.startsWith('x-gozargah-') || (named !== null && named.has(name))) continue;
    out.push(name, raw[i + 1] as string);
  }
  out.push(
    'x-gozargah-client', identity.client,
    'x-gozargah-binding', identity.binding,
    'x-gozargah-route', identity.route,
    'x-request-id', identity.requestId,
    'x-forwarded-for', forwardedFor === undefined ? identity.clientAddress : `${forwardedFor}, ${identity.clientAddress}`,
  );
  if (bodyLength > 0) out.push('content-length', String(bodyLength));
  return out;
}

/** The agency's response headers minus hop-by-hop fields (and content-length when the body changes). */
export function downstreamHeaders(headers: Record<string, string | string[] | undefined>, dropLength: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const named = connectionTokens(typeof headers['connection'] === 'string' ? headers['connection'] : undefined);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (named !== null && named.has(name))) continue;
    if (dropLength && name === 'content-length') continue;
    out[name] = value;
  }
  return out;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function wellFormedRequestId(value: string | string[] | undefined): value is string {
  return typeof value === 'string' && REQUEST_ID.test(value);
}

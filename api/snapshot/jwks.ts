// A JWKS document as the bus accepts it: public signing keys only. Checked by the compiler (from
// a Secret), by checkSnapshot (what a snapshot carries) and by the dataplane (what a jwksURL
// serves), so a private key never travels and a key the dataplane cannot use is named early.

/** Members that only a private or symmetric key has (RFC 7518 section 6). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
/** Key types of public-key signatures; oct (a shared secret) is refused. */
const KEY_TYPES: ReadonlySet<string> = new Set(['RSA', 'EC', 'OKP']);
/** More keys than an identity provider ever publishes at once (current, next, previous). */
export const MAX_JWKS_KEYS = 64;

export type Jwk = Record<string, unknown>;

/** The problem with a JWKS's keys, for a person to fix; null when every key is usable. */
export function jwksProblem(doc: unknown): string | null {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return 'it is not a JSON object';
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) return 'it has no "keys" array';
  if (keys.length === 0) return 'its "keys" array is empty';
  if (keys.length > MAX_JWKS_KEYS) return `it has ${keys.length} keys, more than ${MAX_JWKS_KEYS}`;
  const kids = new Set<string>();
  for (const [i, key] of keys.entries()) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) return `key ${i} is not an object`;
    const jwk = key as Jwk;
    const name = typeof jwk['kid'] === 'string' ? `key ${JSON.stringify(jwk['kid'])}` : `key ${i}`;
    // Named before anything else: a private key must be taken out, whatever else is wrong.
    const secret = PRIVATE_MEMBERS.filter((m) => m in jwk);
    if (secret.length > 0) return `${name} holds private key material (${secret.join(', ')}): publish only the public keys`;
    if (typeof jwk['kty'] !== 'string') return `${name} has no kty`;
    if (!KEY_TYPES.has(jwk['kty'])) return `${name} has kty ${JSON.stringify(jwk['kty'])}; only RSA, EC and OKP public keys are accepted`;
    if (jwk['kid'] !== undefined && typeof jwk['kid'] !== 'string') return `${name} has a kid that is not a string`;
    if (keys.length > 1 && typeof jwk['kid'] !== 'string') return `${name} has no kid, and a JWKS of more than one key needs one on each`;
    if (typeof jwk['kid'] === 'string') {
      if (kids.has(jwk['kid'])) return `kid ${JSON.stringify(jwk['kid'])} appears twice`;
      kids.add(jwk['kid']);
    }
  }
  return null;
}

/** Parses and checks a JWKS document; a string is the problem. */
export function parseJwks(text: string): { keys: Jwk[] } | string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return 'it is not JSON';
  }
  const problem = jwksProblem(doc);
  return problem === null ? { keys: (doc as { keys: Jwk[] }).keys } : problem;
}

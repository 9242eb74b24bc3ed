// What a dataplane needs of each value it builds its runtime from, as pure checks. The compiler
// refuses (per object, in status) what fails them; checkSnapshot refuses a snapshot that holds
// one anyway. So the loader never refuses what the compiler produced: a bad object is refused
// alone, and never stops its bus from taking later snapshots.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

/**
 * Why an upstream base URL cannot be served, or null. The dataplane parses it with WHATWG URL
 * and opens an undici Pool on its origin: the port must be in range, the host parse, the scheme
 * be http(s); credentials in the URL are refused (they belong in Secrets, and would be logged).
 */
export function upstreamURLProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a URL the dataplane can parse (check the host and that the port is at most 65535)';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must start with http:// or https://';
  if (parsed.username !== '' || parsed.password !== '') return 'must not carry credentials (user:password@): put them in a Secret';
  if (parsed.search !== '' || parsed.hash !== '') return 'must not carry a query or a fragment';
  if (parsed.hostname === '') return 'has no host';
  return null;
}

const IPV4 = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}';
const IPV4_CIDR = new RegExp(`^${IPV4}/(3[0-2]|[12]?[0-9])$`);
const IPV6_CIDR = /^([0-9A-Fa-f:.]+)\/(12[0-8]|1[01][0-9]|[1-9]?[0-9])$/;

/**
 * Why a source CIDR cannot be served, or null: dotted IPv4 without leading zeros and a prefix up
 * to 32, or IPv6 (checked by the WHATWG URL parser, pure) and a prefix up to 128. Stricter than
 * node:net's BlockList, which the dataplane feeds it to; never looser.
 */
export function cidrProblem(cidr: string): string | null {
  if (IPV4_CIDR.test(cidr)) return null;
  const v6 = IPV6_CIDR.exec(cidr);
  if (v6 !== null && (v6[1] as string).includes(':')) {
    try {
      new URL(`http://[${v6[1] as string}]/`);
      return null;
    } catch {
      return `${JSON.stringify(cidr)} is not a valid IPv6 address/prefix`;
    }
  }
  return `${JSON.stringify(cidr)} is not a CIDR (e.g. 203.0.113.0/24 or 2001:db8::/32: no leading zeros, prefix at most 32 for IPv4 and 128 for IPv6)`;
}

/** RFC 3339 as the CRD pattern allows it: what both Date.parse and the apiserver read alike. */
export const RFC3339 = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$';
const RFC3339_RE = new RegExp(RFC3339);

/** Why a timestamp cannot be used for a validity window, or null (Date.parse gives NaN for 23:59:60, which would ignore the window). */
export function timestampProblem(value: string): string | null {
  if (!RFC3339_RE.test(value) || !Number.isFinite(Date.parse(value))) {
    return `${JSON.stringify(value)} is not an RFC 3339 time such as 2026-01-01T00:00:00Z`;
  }
  return null;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function certificates(pem: string): X509Certificate[] | string {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) return 'holds no PEM certificate';
  const out: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      out.push(new X509Certificate(block));
    } catch (err) {
      return `certificate ${i + 1} does not parse (${(err as Error).message})`;
    }
  }
  return out;
}

/**
 * Why upstream TLS material cannot be used, or null: every CA certificate parses, the client
 * certificate parses, the key parses (unencrypted: the dataplane has no passphrase) and belongs
 * to the certificate.
 */
export function tlsProblem(tls: { ca: string | null; cert: string | null; key: string | null }): string | null {
  if (tls.ca !== null) {
    const ca = certificates(tls.ca);
    if (typeof ca === 'string') return `the CA bundle ${ca}`;
  }
  if ((tls.cert === null) !== (tls.key === null)) return 'a client certificate needs both a certificate and a key';
  if (tls.cert !== null && tls.key !== null) {
    const chain = certificates(tls.cert);
    if (typeof chain === 'string') return `the client certificate ${chain}`;
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(tls.key)) return 'the client key is encrypted, and the dataplane has no passphrase: store it unencrypted in the Secret';
    let key: KeyObject;
    try {
      key = createPrivateKey(tls.key);
    } catch (err) {
      return `the client key does not parse (${(err as Error).message})`;
    }
    if (!(chain[0] as X509Certificate).checkPrivateKey(key)) return 'the client key does not belong to the client certificate';
  }
  return null;
}

/** SNI names: an ASCII host name (tls.connect refuses others when it connects). */
export const SERVER_NAME = '^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$';
const SERVER_NAME_RE = new RegExp(SERVER_NAME);

export function serverNameProblem(name: string): string | null {
  return name.length <= 253 && SERVER_NAME_RE.test(name) ? null : `${JSON.stringify(name)} is not a host name`;
}

/**
 * Why a value is not plain JSON, or null: a snapshot travels as JSON, so a value that does not
 * survive it (NaN, Infinity, a YAML binary or date) would compile here and differ there.
 */
export function jsonProblem(value: unknown, path: string, depth = 0): string | null {
  if (depth > 64) return `${path} is nested deeper than 64 levels`;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${path} is not a finite number`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = jsonProblem(value[i], `${path}[${i}]`, depth + 1);
      if (p !== null) return p;
    }
    return null;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) {
      const p = jsonProblem(v, `${path}.${k}`, depth + 1);
      if (p !== null) return p;
    }
    return null;
  }
  return `${path} is not a JSON value`;
}

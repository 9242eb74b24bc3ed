// Authentication (API key by SHA-256, client certificate by fingerprint or subject) and the
// checks that belong to identity: validity window and source address.
import { hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { Errors, problem, type Problem } from './errors.ts';
import { normalizeSubject, type BindingContext, type Runtime } from './runtime.ts';

interface PeerIdentity {
  fingerprint: string;
  subject: string;
  /** verified against the bus's client CA */
  authorized: boolean;
}

const peers = new WeakMap<object, PeerIdentity | null>();

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
          subject: normalizeSubject(Object.entries(cert.subject ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(',')),
          authorized: socket.authorized,
        };
  peers.set(socket, identity);
  return identity;
}

const QUERY_CREDENTIAL = /(?:^|[?&])(?:api[-_]?key|x-api-key|access_token)=/i;

export function credentialsInQuery(query: string): boolean {
  return QUERY_CREDENTIAL.test(query);
}

/** Finds the binding the request's credentials belong to. */
export function authenticate(req: IncomingMessage, runtime: Runtime): BindingContext | Problem {
  const key = req.headers['x-api-key'];
  if (typeof key === 'string' && key.length > 0) {
    const binding = runtime.byKeyHash.get(hash('sha256', key, 'hex'));
    return binding ?? problem(Errors.credentialsInvalid, 'The API key in x-api-key is not known to this bus.');
  }
  const peer = peerIdentity(req);
  if (peer !== null) {
    const binding = runtime.byFingerprint.get(peer.fingerprint) ?? (peer.authorized ? runtime.bySubject.get(peer.subject) : undefined);
    return binding ?? problem(Errors.credentialsInvalid, 'The client certificate is not bound to any client of this bus.');
  }
  return problem(Errors.credentialsMissing, 'Send an API key in the x-api-key header, or a client certificate over HTTPS.');
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

// The audit keys, read the same way by the dataplane (which signs and pseudonymizes) and the
// CLI (which verifies and searches): an Ed25519 signing key in PEM (PKCS#8, as `openssl genpkey
// -algorithm ed25519` writes it), public keys in PEM (SPKI, `openssl pkey -pubout`), and a
// pseudonym key of at least 32 bytes. Errors name the file and what is wrong with it.
import { createHash, createHmac, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

export class AuditKeyError extends Error {}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** first 16 hex characters of SHA-256 over the public key's SPKI DER */
  keyId: string;
  /** the public key's SPKI DER in base64, as the chain-start record publishes it */
  publicKeyBase64: string;
}

export interface PublicKey {
  keyId: string;
  key: KeyObject;
  /** where it came from, for messages */
  source: string;
}

function readKeyFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new AuditKeyError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function readSigningKey(file: string): SigningKey {
  const pem = readKeyFile(file, 'audit signing key');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new AuditKeyError(`the audit signing key ${file} is not a private key in PEM (${(err as Error).message}); make one with: openssl genpkey -algorithm ed25519 -out ${file}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new AuditKeyError(`the audit signing key ${file} is ${privateKey.asymmetricKeyType ?? 'not asymmetric'}; it must be Ed25519 (openssl genpkey -algorithm ed25519)`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), publicKeyBase64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
}

/** A public key from a PEM file (SPKI), or from a private key file (its public half). */
export function readPublicKey(file: string): PublicKey {
  const pem = readKeyFile(file, 'audit public key');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new AuditKeyError(`the audit public key ${file} is not a key in PEM (${(err as Error).message}); export it with: gozargah audit public-key --signing-key KEY`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AuditKeyError(`the audit public key ${file} is ${key.asymmetricKeyType ?? 'not asymmetric'}; audit checkpoints are signed with Ed25519`);
  return { keyId: keyIdOf(key), key, source: file };
}

/** A public key as a chain-start record publishes it (SPKI DER, base64). */
export function publicKeyFromBase64(base64: string, source: string): PublicKey | null {
  try {
    const key = createPublicKey({ key: Buffer.from(base64, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ed25519') return null;
    return { keyId: keyIdOf(key), key, source };
  } catch {
    return null;
  }
}

export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

export function signCheckpoint(key: SigningKey, message: string): string {
  return sign(null, Buffer.from(message), key.privateKey).toString('base64');
}

export function verifyCheckpoint(key: KeyObject, message: string, signature: string): boolean {
  try {
    return verify(null, Buffer.from(message), key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** Shortest pseudonym key accepted: HMAC-SHA-256's block is 64 bytes, its output 32. */
export const MIN_PSEUDONYM_KEY_BYTES = 32;

/**
 * The pseudonym key: the file's bytes; a text key (`openssl rand -hex 32 > FILE`) without its
 * trailing newline. A binary key (`openssl rand 32 > FILE`) is taken whole: its last byte may be
 * a newline's.
 */
export function readPseudonymKey(file: string): Buffer {
  let key = readKeyFile(file, 'audit pseudonym key');
  const text = key.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d);
  if (text) while (key.length > 0 && (key[key.length - 1] === 0x0a || key[key.length - 1] === 0x0d)) key = key.subarray(0, key.length - 1);
  if (key.length < MIN_PSEUDONYM_KEY_BYTES) throw new AuditKeyError(`the audit pseudonym key ${file} has ${key.length} bytes; it needs at least ${MIN_PSEUDONYM_KEY_BYTES} (make one with: openssl rand -hex 32 > ${file})`);
  return key;
}

/**
 * The pseudonym of a sensitive value: HMAC-SHA-256 under the pseudonym key, 128 bits in hex.
 * The value alone is hashed, not its field name, so one national ID has one pseudonym whether
 * it came as a path parameter or a body field, and a search finds it under either.
 */
export function pseudonym(key: Buffer, value: string): string {
  return `hmac:${createHmac('sha256', key).update(value).digest('hex').slice(0, 32)}`;
}

/** Names a pseudonym key without revealing it: which key a chain used, for a search after a rotation. */
export function pseudonymKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('gozargah-audit-pseudonym-key-id').digest('hex').slice(0, 16);
}

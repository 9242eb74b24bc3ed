// `gozargah audit public-key --signing-key FILE`: the public half of the dataplane's audit
// signing key, in PEM (SPKI) on standard output, so operators can publish it and verifiers pass
// it to `audit verify --public-key`; its key id, as checkpoints name it, on standard error.
import { parseArgs } from 'node:util';
import { AuditKeyError, publicKeyPem, readSigningKey } from '../../api/audit/index.ts';
import { AuditFailure, AuditUsageError } from './errors.ts';
import type { AuditIo } from './io.ts';

export const PUBLIC_KEY_USAGE = `gozargah audit public-key --signing-key FILE
  Prints the public key of the audit signing key FILE (PEM, Ed25519) to publish, and its key id
  (on standard error), as checkpoints and chain starts name it.`;

export function publicKeyCommand(argv: string[], io: AuditIo): number {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { 'signing-key': { type: 'string' } }, allowPositionals: false }));
  } catch (err) {
    throw new AuditUsageError((err as Error).message);
  }
  const file = values['signing-key'];
  if (file === undefined) throw new AuditUsageError('--signing-key FILE is required: the dataplane\'s --audit-signing-key');
  let key;
  try {
    key = readSigningKey(file);
  } catch (err) {
    if (err instanceof AuditKeyError) throw new AuditFailure(err.message);
    throw err;
  }
  io.stdout(publicKeyPem(key.publicKey));
  io.stderr(`key id ${key.keyId}\n`);
  return 0;
}

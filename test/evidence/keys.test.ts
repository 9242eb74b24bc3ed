// An audit key the dataplane cannot use stops it at start, with a message that names the file
// and how to make a right one: a replica never serves with evidence weaker than it was asked for.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE, ROOT } from '../helpers/dataplane.ts';
import { manifestDir, provider } from '../helpers/manifests.ts';

const dir = mkdtempSync(join(tmpdir(), 'gozargah-audit-keys-'));
const manifests = manifestDir([provider('agency', 'http://127.0.0.1:9')]);
const file = (name: string, content: string | Buffer): string => {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
};

function start(flags: string[]): { status: number | null; stderr: string } {
  const run = spawnSync(NODE, [join(ROOT, 'dataplane/main.ts'), '--manifests', manifests, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', ...flags], { encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stderr: run.stderr };
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
const cases: [string, string[], RegExp][] = [
  ['a signing key that is missing', ['--audit-signing-key', join(dir, 'nope.pem')], /cannot read the audit signing key .*nope\.pem: ENOENT/],
  ['a signing key that is not PEM', ['--audit-signing-key', file('garbage.pem', 'not a key\n')], /garbage\.pem is not a private key in PEM .*openssl genpkey -algorithm ed25519/],
  ['an RSA signing key', ['--audit-signing-key', file('rsa.pem', rsa)], /rsa\.pem is rsa; it must be Ed25519/],
  ['a pseudonym key of 16 bytes', ['--audit-pseudonym-key', file('short.key', '0123456789abcdef\n')], /short\.key has 16 bytes; it needs at least 32 \(make one with: openssl rand -hex 32/],
];
for (const [what, flags, message] of cases) {
  t.test(`${what}: exit 2, naming the file`, async (t2) => {
    const run = start(flags);
    t2.equal(run.status, 2, run.stderr);
    t2.match(run.stderr, message);
    t2.notMatch(run.stderr, /"listening"/, 'it never listened');
  });
}

// The audit chain as real dataplane processes write it, checked by the real `gozargah audit`:
// two replicas of a bus, one of them rotated twice (rename + SIGHUP), stopped, restarted, killed
// with SIGKILL and restarted again, the other running on earlier days (its wall clock set back by
// libfaketime), all with signed checkpoints. `audit verify` passes on the
// untouched files, and fails with the right words on each kind of tampering, one test each;
// `audit search` finds every lookup of a national ID across the replicas, runs and files, and no
// file or log holds that ID in clear.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Pool } from 'undici';
import { canonicalOf, chainHash, readSeal } from '../../api/audit/index.ts';
import { startAgency } from '../helpers/agency.ts';
import { NODE, ROOT, startDataplane, waitFor, type RunningDataplane } from '../helpers/dataplane.ts';
import { daysAgo } from '../helpers/faketime.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'test-key-evidence-chain-0123456789';
const UNGRANTED = 'test-key-evidence-ungranted-012345';
/** The person whose lookups are searched for; the other IDs are traffic around them. */
const TARGET = '0076543210';
const OTHERS = ['0011122233', '0044455566', '0077788899'];

const agency = await startAgency();
t.teardown(() => agency.close());
const manifests = manifestDir([
  provider('agency', agency.url),
  route('person', 'agency', '/ch/v1/persons/{nationalId}', { upstreamPath: '/echo/{nationalId}', privacy: { sensitive: true } }),
  route('other', 'agency', '/ch/v1/other'),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client-a', [{ namespace: 'gov', name: 'person' }]),
  keySecret('ungranted-keys', { k: UNGRANTED }),
  binding('ungranted', 'client-b', [{ namespace: 'gov', name: 'other' }]),
]);

const work = mkdtempSync(join(tmpdir(), 'gozargah-chain-'));
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signingKey = join(work, 'audit-signing.pem');
const publicKeyFile = join(work, 'audit-public.pem');
const pseudonymKey = join(work, 'audit-pseudonym.key');
writeFileSync(signingKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(pseudonymKey, 'demo-only-chain-test-pseudonym-key-0123456789abcdef\n');
const otherPublicKey = join(work, 'other-public.pem');
writeFileSync(otherPublicKey, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));

/** Every audit file written, in the order written; and every process log (for the external checkpoints). */
const files: string[] = [];
const logs: string[] = [];
let targetLookups = 0;

async function replica(state: string, env: NodeJS.ProcessEnv = {}): Promise<RunningDataplane> {
  return startDataplane(['--manifests', manifests, '--state-dir', state, '--audit-signing-key', signingKey, '--audit-pseudonym-key', pseudonymKey, '--audit-checkpoint-seconds', '1'], { env });
}

/** n lookups, every third one of TARGET (one of those by a client not granted the route: refused, and recorded). */
async function traffic(dp: RunningDataplane, n: number): Promise<void> {
  const pool = new Pool(dp.url);
  try {
    for (let i = 0; i < n; i++) {
      const target = i % 3 === 0;
      const id = target ? TARGET : (OTHERS[i % OTHERS.length] as string);
      const key = target && i % 9 === 0 ? UNGRANTED : KEY;
      const res = await pool.request({ path: `/ch/v1/persons/${id}`, method: 'GET', headers: { 'x-api-key': key } });
      await res.body.dump();
      if (target) targetLookups++;
    }
  } finally {
    await pool.close();
  }
}

/** logrotate's way: rename the file, then SIGHUP; resolves once the new file has a record. */
async function rotate(dp: RunningDataplane, suffix: string): Promise<void> {
  const rotated = `${dp.auditPath}.${suffix}`;
  await new Promise((r) => setTimeout(r, 100)); // the batch timer: every answered call is queued
  renameSync(dp.auditPath, rotated);
  dp.process.kill('SIGHUP');
  await traffic(dp, 3);
  await waitFor(() => readFileSync(dp.auditPath, 'utf8').length > 0, 10_000, () => `no new audit file after SIGHUP\n${dp.logs()}`);
  await waitFor(() => /"reason":"rotate"/.test(readFileSync(rotated, 'utf8')), 10_000, () => 'the rotated file never got its rotation checkpoint');
  files.push(rotated);
}

const dpTransactions = (dp: RunningDataplane): number => readFileSync(dp.auditPath, 'utf8').split('\n').filter((l) => l.startsWith('{"requestId"')).length;

async function stop(dp: RunningDataplane, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  await dp.stop(signal);
  files.push(dp.auditPath);
  logs.push(dp.logs());
}

// Replica a: rotated twice, stopped; restarted and killed after an interval checkpoint; restarted and stopped.
const stateA = join(work, 'state-a');
const a1 = await replica(stateA);
const a1Config = (await (await fetch(`${a1.adminUrl}/config`)).json()) as { audit: Record<string, unknown> };
await traffic(a1, 20);
await rotate(a1, '1');
await traffic(a1, 20);
await rotate(a1, '2');
await traffic(a1, 10);
await stop(a1);
const a2 = await replica(stateA);
await traffic(a2, 15);
await waitFor(() => a2.logs().includes('"reason":"interval"'), 10_000, () => 'no interval checkpoint reached the file');
await traffic(a2, 5);
// Killed once its 20 records are in the file: what a kill loses (the last 50 ms of records) is not this test's subject.
await waitFor(() => dpTransactions(a2) === 20, 10_000, () => `a2 wrote ${dpTransactions(a2)} of its 20 records`);
await stop(a2, 'SIGKILL');
const a3 = await replica(stateA);
await traffic(a3, 10);
await stop(a3);
// Replica b, two days ago and then yesterday (as its clock says): its traffic spans several interval checkpoints.
const b0 = await replica(join(work, 'state-b'), daysAgo(2));
await traffic(b0, 6);
await stop(b0);
const b1 = await replica(join(work, 'state-b'), daysAgo(1));
await traffic(b1, 12);
await waitFor(() => b1.logs().includes('"reason":"interval"'), 10_000, () => 'no interval checkpoint');
await traffic(b1, 12);
await stop(b1);

/** The external record: the checkpoint lines of every process log. */
const externalCheckpoints = join(work, 'checkpoints.log');
writeFileSync(externalCheckpoints, logs.flatMap((l) => l.split('\n')).filter((l) => l.includes('"msg":"audit checkpoint"')).join('\n'));

function gozargah(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(NODE, [join(ROOT, 'cli/main.ts'), ...args], { encoding: 'utf8', timeout: 60_000, input });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}
const verify = (given: string[], ...flags: string[]) => gozargah(['audit', 'verify', '--public-key', publicKeyFile, ...flags, ...given]);

/** A copy of every file in a fresh directory, the copy of `name` changed by `change`; returns the copies. */
function tampered(name: string, change: (lines: string[]) => string[]): string[] {
  const dir = mkdtempSync(join(work, 'tampered-'));
  return files.map((file, i) => {
    const copy = join(dir, `${i}-${basename(file)}`);
    if (file !== name) copyFileSync(file, copy);
    else writeFileSync(copy, `${change(readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')).join('\n')}\n`);
    return copy;
  });
}
const isTransaction = (line: string): boolean => !line.startsWith('{"type":');
/** Index of the n-th transaction line. */
const nthTransaction = (lines: string[], n: number): number => lines.map((l, i) => (isTransaction(l) ? i : -1)).filter((i) => i >= 0)[n] as number;

const [a1rot1, a1rot2, , a2file, a3file, , b1file] = files as [string, string, string, string, string, string, string];
const day = (ago: number): string => new Date(Date.now() - ago * 86_400_000).toISOString().slice(0, 10);

t.test('the files of two replicas, with rotations, a restart and a kill, verify', async (t2) => {
  t2.equal(files.length, 7);
  const run = verify(files);
  t2.equal(run.code, 0, `${run.stdout}${run.stderr}`);
  t2.match(run.stdout, /5 chains/, 'a1, a2, a3, b0 and b1');
  t2.match(readFileSync(b1file, 'utf8'), `"start":"${day(1)}T`, 'b1 wrote yesterday\'s records');
  const withExternal = verify(files, '--checkpoints', externalCheckpoints);
  t2.equal(withExternal.code, 0, `every checkpoint of the process logs is in the files: ${withExternal.stdout}${withExternal.stderr}`);
  const chainStarts = files.flatMap((f) => readFileSync(f, 'utf8').split('\n')).filter((l) => l.startsWith('{"type":"chain-start"'));
  t2.equal(chainStarts.filter((l) => l.includes('"previousChain":{')).length, 3, 'the restarted runs name the run before them');
  t2.ok(readFileSync(a1rot2, 'utf8').split('\n')[0]?.includes('"prev":"'), 'a rotated file begins with the hash before it');
  const alone = verify([a1rot2]);
  t2.equal(alone.code, 0, `a rotated file verifies on its own: ${alone.stdout}${alone.stderr}`);
});

t.test('/config publishes the public key, its id and the chain, never the private key', async (t2) => {
  t2.equal(a1Config.audit['publicKey'], readFileSync(publicKeyFile, 'utf8'), 'the PEM verifiers pass to --public-key');
  t2.match(readFileSync(a1rot1, 'utf8').split('\n')[0], `"keyId":"${String(a1Config.audit['keyId'])}"`, 'the key id the chain start names');
  t2.match(readFileSync(a1rot1, 'utf8').split('\n')[0], `"chain":"${String(a1Config.audit['chain'])}"`);
  t2.same([a1Config.audit['evidence'], a1Config.audit['pseudonyms']], [true, true]);
  t2.notMatch(JSON.stringify(a1Config), /PRIVATE KEY/);
});

t.test('edited: a status changed in a rotated file', async (t2) => {
  const given = tampered(a1rot1, (lines) => {
    const i = nthTransaction(lines, 4);
    lines[i] = (lines[i] as string).replace('"status":200', '"status":404');
    return lines;
  });
  const run = verify(given);
  t2.equal(run.code, 1);
  t2.match(run.stdout + run.stderr, /0-audit\.jsonl\.1:\d+: chain \S+ seq \d+: edited/);
});

t.test('deleted: one record taken out of the middle', async (t2) => {
  const run = verify(tampered(a1rot2, (lines) => lines.filter((_, i) => i !== nthTransaction(lines, 6))));
  t2.equal(run.code, 1);
  t2.match(run.stdout + run.stderr, /deleted/);
});

t.test('reordered: two records swapped', async (t2) => {
  const run = verify(
    tampered(a3file, (lines) => {
      const i = nthTransaction(lines, 3);
      [lines[i], lines[i + 1]] = [lines[i + 1] as string, lines[i] as string];
      return lines;
    }),
  );
  t2.equal(run.code, 1);
  t2.match(run.stdout + run.stderr, /reordered/);
});

t.test('inserted: a forged record between two real ones, with a seal copied from its neighbour', async (t2) => {
  const run = verify(
    tampered(b1file, (lines) => {
      const i = nthTransaction(lines, 5);
      const forged = (lines[i] as string).replace(/"requestId":"[^"]+"/, '"requestId":"forged-0001"');
      return [...lines.slice(0, i + 1), forged, ...lines.slice(i + 1)];
    }),
  );
  t2.equal(run.code, 1);
  t2.match(run.stdout + run.stderr, /inserted/);
});

t.test('truncated: everything after an interval checkpoint cut off', async (t2) => {
  const run = verify(
    tampered(b1file, (lines) => {
      const i = lines.findIndex((l) => l.includes('"reason":"interval"'));
      return lines.slice(0, i + 1);
    }),
  );
  t2.equal(run.code, 1);
  t2.match(run.stdout + run.stderr, /truncated/);
  const open = verify(tampered(b1file, (lines) => lines.slice(0, lines.findIndex((l) => l.includes('"reason":"interval"')) + 1)), '--allow-open');
  t2.equal(open.code, 0, `--allow-open accepts a chain still being written: ${open.stdout}${open.stderr}`);
});

t.test('bad signature: a record changed and every hash after it recomputed, checkpoints included', async (t2) => {
  const run = verify(
    tampered(b1file, (lines) => {
      const at = nthTransaction(lines, 2);
      lines[at] = (lines[at] as string).replace('"client":"client-a"', '"client":"client-z"');
      const before = readSeal(lines[at - 1] as string);
      if (typeof before === 'string') throw new Error(before);
      let prevHash = before.hash;
      for (let i = at; i < lines.length; i++) {
        let line = lines[i] as string;
        // A forger without the key can fix every hash and every checkpoint's `covers`, not its signature.
        line = line.replace(/"covers":\{"seq":(\d+),"hash":"[0-9a-f]{64}"\}/, (_m, seq: string) => `"covers":{"seq":${seq},"hash":"${prevHash}"}`);
        const hash = chainHash(prevHash, canonicalOf(line));
        lines[i] = `${line.slice(0, -66)}${hash}"}`;
        prevHash = hash;
      }
      return lines;
    }),
  );
  t2.equal(run.code, 1);
  t2.match(run.stdout + run.stderr, /bad signature/);
  t2.notMatch(run.stdout + run.stderr, /: edited:/, 'every hash holds: only the signature shows it');
});

t.test('a public key that did not sign the checkpoints', async (t2) => {
  const run = gozargah(['audit', 'verify', '--public-key', otherPublicKey, ...files]);
  t2.equal(run.code, 1);
  t2.match(run.stdout + run.stderr, /bad signature/);
});

t.test('a whole file deleted: unseen in the files alone, seen against the external checkpoints', async (t2) => {
  const rest = files.filter((f) => f !== a1rot1);
  t2.equal(verify(rest).code, 0, 'the next file begins with the hash before it: the files alone cannot tell');
  const run = verify(rest, '--checkpoints', externalCheckpoints);
  t2.equal(run.code, 1);
  t2.match(run.stdout + run.stderr, /deleted/);
});

t.test('a killed run: its successor accounts for its open end; without the successor it reads as truncated', async (t2) => {
  t2.notMatch(readFileSync(a2file, 'utf8'), /"reason":"shutdown"/, 'the killed run wrote no shutdown checkpoint');
  const withoutSuccessor = verify(files.filter((f) => f !== a3file));
  t2.equal(withoutSuccessor.code, 1);
  t2.match(withoutSuccessor.stdout + withoutSuccessor.stderr, /truncated/);
});

t.test('audit search finds every lookup of the ID, across replicas, runs, rotated files and days; no file or log has it in clear', async (t2) => {
  // The ID on standard input, as the README says to: never on a command line.
  const run = gozargah(['audit', 'search', '--param', 'nationalId', '--pseudonym-key', pseudonymKey, '-o', 'json', ...files], `${TARGET}\n`);
  t2.equal(run.code, 0, run.stderr);
  const found = JSON.parse(run.stdout) as { lookups?: unknown[] } | unknown[];
  const lookups = (Array.isArray(found) ? found : (found.lookups ?? [])) as Record<string, unknown>[];
  t2.equal(lookups.length, targetLookups, `all ${targetLookups} lookups, refused ones included`);
  t2.ok(lookups.some((l) => l['client'] === 'client-b'), 'the refused lookups by a client without the grant are there');
  t2.equal(new Set(lookups.map((l) => l['chain'])).size, 5, 'from every run');
  t2.same([...new Set(lookups.map((l) => String(l['time'] ?? l['start']).slice(0, 10)))].sort(), [day(2), day(1), day(0)], 'on three days');
  t2.notOk(run.stdout.includes(TARGET), 'the output does not repeat the ID');
  for (const file of [...files, externalCheckpoints]) t2.notOk(readFileSync(file, 'utf8').includes(TARGET), `${basename(file)}: no ${TARGET} in clear`);
  t2.notOk(logs.some((l) => l.includes(TARGET)), 'no process log has it');
  const between = (from: string, to: string): Record<string, unknown>[] => {
    const out = JSON.parse(gozargah(['audit', 'search', '--param', `nationalId=${TARGET}`, '--pseudonym-key', pseudonymKey, '--from', from, '--to', to, '-o', 'json', ...files]).stdout) as { lookups?: unknown[] } | unknown[];
    return (Array.isArray(out) ? out : (out.lookups ?? [])) as Record<string, unknown>[];
  };
  const yesterday = between(day(1), day(1));
  t2.ok(yesterday.length > 0, 'yesterday\'s lookups');
  t2.same([...new Set(yesterday.map((l) => l['chain']))].length, 1, 'all from the run of yesterday');
  t2.equal(between(day(2), day(0)).length, targetLookups, 'the three days hold them all');
});

// `gozargah audit verify` on synthetic chains written to real files: untouched logs pass (rotated
// files in any order, two replicas, restarts, a killed replica its successor accounts for), and
// each kind of tampering fails with a message that names it, the file, line, chain and seq.
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seal } from '../../api/audit/index.ts';
import { verifyAudit, type VerifyOptions, type VerifyResult } from '../../cli/audit/verify.ts';
import type { FailureKind } from '../../cli/audit/findings.ts';
import { makeKeys, SyntheticChain, tempDir, writeLines, type AuditKeys } from '../helpers/audit-evidence.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');

function describe(r: VerifyResult): string {
  return JSON.stringify({ failures: r.failures, notices: r.notices }, null, 2);
}

async function passes(t: Test, options: VerifyOptions, why: string): Promise<VerifyResult> {
  const r = await verifyAudit(options);
  t.ok(r.ok, `${why}: passes`, { diagnostic: true, found: describe(r) });
  return r;
}

/** Fails with exactly one finding of `kind` whose message matches `message`; returns it. */
async function failsOnce(t: Test, options: VerifyOptions, kind: FailureKind, message: RegExp) {
  const r = await verifyAudit(options);
  t.notOk(r.ok, 'fails');
  t.equal(r.failureCount, 1, 'one finding', { found: describe(r) });
  const f = r.failures[0];
  t.equal(f?.kind, kind, `the finding is ${kind}`);
  t.match(f?.message ?? '', message);
  return f;
}

/** A signed chain of `n` transactions with a checkpoint every 10, ending at shutdown. */
/** A run of `files` rotated files of 10 transactions each, ended by a shutdown checkpoint. */
function rotatedChain(keys: AuditKeys, files: number): SyntheticChain {
  const c = new SyntheticChain({ keys });
  for (let f = 0; f < files; f++) {
    if (f > 0) c.rotate();
    c.txs(10);
  }
  c.shutdown();
  return c;
}

function signedChain(keys: AuditKeys, n: number, options: ConstructorParameters<typeof SyntheticChain>[0] = {}): SyntheticChain {
  const c = new SyntheticChain({ keys, ...options });
  for (let i = 1; i <= n; i++) {
    c.tx();
    if (i % 10 === 0) c.checkpoint();
  }
  c.shutdown();
  return c;
}

/** Replaces the line at index i (0-based) of lines with a changed copy. */
const changed = (lines: string[], i: number, from: string, to: string): string[] => lines.map((l, j) => (j === i ? l.replace(from, to) : l));

t.test('untouched: three rotated files of one replica and a second replica pass, in any order', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const a = new SyntheticChain({ keys, replica: 'dp-0' });
  a.txs(25);
  a.checkpoint();
  a.txs(5);
  a.rotate();
  a.txs(30);
  a.rotate();
  a.txs(7);
  a.shutdown();
  t.equal(a.files.length, 3);
  t.match(a.files[1]?.[0] ?? '', /,"prev":"[0-9a-f]{64}","chain":/, 'the first line after a rotation carries prev');
  const b = signedChain(keys, 40, { replica: 'dp-1', startMs: Date.parse('2026-12-01T08:00:03.000Z') });
  const files = [writeLines(dir, 'dp-0.log.2', a.files[0] as string[]), writeLines(dir, 'dp-0.log.1', a.files[1] as string[]), writeLines(dir, 'dp-0.log', a.files[2] as string[]), writeLines(dir, 'dp-1.log', b.lines)];

  const r = await passes(t, { files, publicKeys: [keys.publicKeyFile] }, 'oldest first');
  t.equal(r.chains.length, 2);
  t.equal(r.records, a.lines.length + b.lines.length, 'every line is a record');
  t.equal(r.transactions, 67 + 40);
  t.equal(r.signedVerified, r.checkpoints, 'every checkpoint is signed and verifies');
  t.same(r.keyIds, [keys.signingKey.keyId]);
  t.equal(r.keySource, 'public-key');
  t.same(r.chains.map((c) => c.end).sort(), ['shutdown', 'shutdown']);

  await passes(t, { files: [...files].reverse(), publicKeys: [keys.publicKeyFile] }, 'newest first (as a shell glob lists rotated files)');
  const middle = await passes(t, { files: [files[1] as string], publicKeys: [keys.publicKeyFile], allowOpen: false }, 'a rotated file alone, verified without the one before it');
  t.match(middle.notices.join('\n'), /after a rotation: its earlier records are in files not given/);
  t.match(middle.notices.join('\n'), /last record given is a rotate checkpoint/);
});

t.test('without --public-key: checked against the key the chain start publishes, and the output says so', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const file = writeLines(dir, 'audit.log', signedChain(keys, 20).lines);
  const r = await passes(t, { files: [file] }, 'the chain start key');
  t.equal(r.keySource, 'chain-start');
  t.equal(r.signedVerified, 3);
});

t.test('restarts: a chain start naming the previous run passes', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const first = signedChain(keys, 12);
  const second = signedChain(keys, 8, { previous: first.head, startMs: Date.parse('2026-12-01T09:00:00.000Z') });
  const file = writeLines(dir, 'audit.log', [...first.lines, ...second.lines]);
  const r = await passes(t, { files: [file], publicKeys: [keys.publicKeyFile] }, 'two runs in one file');
  t.equal(r.chains.length, 2);
});

t.test('a killed replica: its last records after the last checkpoint are accounted for by the successor', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const killed = new SyntheticChain({ keys });
  killed.txs(10);
  killed.checkpoint();
  const persisted = killed.head;
  killed.txs(3); // written, but no checkpoint after them: the replica was killed
  const next = signedChain(keys, 5, { previous: persisted, startMs: Date.parse('2026-12-01T09:00:00.000Z') });
  const files = [writeLines(dir, 'run-1.log', killed.lines), writeLines(dir, 'run-2.log', next.lines)];
  const r = await passes(t, { files, publicKeys: [keys.publicKeyFile] }, 'accounted for');
  t.same(r.chains.find((c) => c.chain === killed.id)?.end, 'successor');
  t.match(r.notices.join('\n'), /without a shutdown checkpoint \(the replica was killed\).*3 records after it/);

  const cut = killed.lines.slice(0, 8);
  await failsOnce(t, { files: [writeLines(dir, 'run-1-cut.log', cut), files[1] as string] }, 'truncated', new RegExp(`chain ${killed.id} ends at seq 8 but its successor ${next.id} .* says it reached seq 12`));
});

t.test('a fake successor does not hide a truncated tail', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const attacker = makeKeys(dir, 'attacker');
  const rotated = makeKeys(dir, 'rotated');
  const killed = new SyntheticChain({ keys, replica: 'dp-0' });
  killed.txs(10);
  killed.checkpoint();
  const persisted = killed.head;
  killed.txs(3);
  // The 3 records after the checkpoint cut, and a chain made up to name the checkpoint.
  const cut = writeLines(dir, 'run-1.log', killed.lines.slice(0, persisted.seq));
  const later = Date.parse('2026-12-01T09:00:00.000Z');
  const fake = (name: string, options: ConstructorParameters<typeof SyntheticChain>[0]): string => {
    const c = new SyntheticChain({ previous: persisted, replica: 'dp-0', startMs: later, ...options });
    c.txs(2);
    c.shutdown();
    return writeLines(dir, name, c.lines);
  };
  /** `files` fail: `chain`, ending at `end`, is truncated, and the chain naming it is not its successor, `why`. */
  const truncated = async (files: string[], publicKeys: string[], why: RegExp, chain = killed.id, end = `seq ${persisted.seq} with an interval checkpoint`): Promise<void> => {
    const r = await verifyAudit({ files, publicKeys });
    t.notOk(r.ok, 'fails');
    const f = r.failures.find((x) => x.kind === 'truncated' && x.chain === chain);
    t.match(f?.message, new RegExp(`chain ${chain} ends at ${end}, not a shutdown or rotate checkpoint, and chain \\S+ \\(.*\\) names it but is not its successor: ${why.source}`), describe(r));
    t.same(r.chains.find((c) => c.chain === chain)?.end, 'truncated');
  };

  // Without --public-key: the bus, the replica and the time must fit.
  await truncated([cut, fake('other-replica.log', { keys: null, replica: 'dp-1' })], [], /it is a run of replica dp-1, not of dp-0/);
  await truncated([cut, fake('other-bus.log', { keys: null, bus: 'internal' })], [], /it is a chain of bus internal, not of public/);
  await truncated([cut, fake('earlier.log', { keys: null, startMs: Date.parse('2026-12-01T08:00:05.000Z') })], [], /it starts at 2026-12-01T08:00:05\.000Z, not after the last record of \S+ \(2026-12-01T08:00:10\.000Z\)/);
  // With --public-key: the successor's chain start must be covered by a checkpoint a key given signed.
  await truncated([cut, fake('unsigned.log', { keys: null })], [keys.publicKeyFile], /no checkpoint of it is signed by a key given/);
  await truncated([cut, fake('own-key.log', { keys: attacker })], [keys.publicKeyFile], /no checkpoint of it is signed by a key given/);

  // The real next run, under a rotated key: accounted for without the same key id.
  const next = writeLines(dir, 'run-2.log', (() => {
    const c = signedChain(rotated, 5, { previous: persisted, replica: 'dp-0', startMs: later });
    return c.lines;
  })());
  const r = await passes(t, { files: [writeLines(dir, 'run-1-whole.log', killed.lines), next], publicKeys: [keys.publicKeyFile, rotated.publicKeyFile] }, 'a successor signed with the next key');
  t.same(r.chains.find((c) => c.chain === killed.id)?.end, 'successor');
  t.same(r.keyIds, [keys.signingKey.keyId, rotated.signingKey.keyId].sort());
  // The killed run's last file alone, without its chain start: its replica cannot be compared.
  const rotatedFile = new SyntheticChain({ keys, replica: 'dp-0' });
  rotatedFile.txs(3);
  rotatedFile.rotate();
  rotatedFile.txs(3);
  rotatedFile.checkpoint();
  const head = rotatedFile.head;
  rotatedFile.txs(2);
  const successor = signedChain(keys, 3, { previous: head, replica: 'dp-0', startMs: later });
  await truncated([writeLines(dir, 'tail.log', rotatedFile.files[1] as string[]), writeLines(dir, 'succ.log', successor.lines)], [keys.publicKeyFile], /the chain start of \S+, which names its replica, is not among the files given/, rotatedFile.id, 'seq 11 with a transaction');
});

t.test('--public-key: a chain that no checkpoint signed by a key given covers fails; --allow-open names the unsigned records', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  // Made up whole: a chain start and records, no checkpoint ever reaches a signature check.
  const invented = new SyntheticChain({ keys: null });
  invented.txs(5);
  const file = writeLines(dir, 'invented.log', invented.lines);
  const f = await failsOnce(t, { files: [file], publicKeys: [keys.publicKeyFile], allowOpen: true }, 'signature', new RegExp(`no checkpoint of chain ${invented.id} is signed by a key given: nothing shows who wrote its 6 records`));
  t.same({ line: f?.line, chain: f?.chain, seq: f?.seq }, { line: 1, chain: invented.id, seq: null });
  // Beside a genuine chain, it still fails.
  const genuine = writeLines(dir, 'genuine.log', signedChain(keys, 10).lines);
  await failsOnce(t, { files: [genuine, file], publicKeys: [keys.publicKeyFile], allowOpen: true }, 'signature', /no checkpoint of chain .* is signed by a key given/);
  // Without --public-key there is no key to hold it to: integrity only, as the output warns.
  const integrity = await passes(t, { files: [file], allowOpen: true }, 'no --public-key');
  t.match(integrity.notices.join('\n'), new RegExp(`chain ${invented.id} is open at seq 6 \\(--allow-open\\)`));

  // A signed chain still being written: the records after its last signed checkpoint are named.
  const open = signedChain(keys, 30);
  const openFile = writeLines(dir, 'open.log', open.lines.slice(0, -2));
  const r = await passes(t, { files: [openFile], publicKeys: [keys.publicKeyFile], allowOpen: true }, 'open, with --public-key');
  t.match(r.notices.join('\n'), new RegExp(`chain ${open.id} is open at seq 33 \\(--allow-open\\); 10 records after the last signed checkpoint \\(seq 23\\) are not signed yet`));
});

t.test('edited: a changed byte', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  const file = writeLines(dir, 'audit.log', changed(c.lines, 5, '"status":200', '"status":404'));
  const f = await failsOnce(t, { files: [file], publicKeys: [keys.publicKeyFile] }, 'edited', /this record or the one before it was changed/);
  t.same({ file: f?.file, line: f?.line, chain: f?.chain, seq: f?.seq }, { file, line: 6, chain: c.id, seq: 6 }, 'names the file, line, chain and seq');
});

t.test('edited, with its hash recomputed: the next record shows it', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  const lines = [...c.lines];
  const prevHash = (lines[4]?.match(/"hash":"([0-9a-f]{64})"/) as RegExpMatchArray)[1] as string;
  const body = (lines[5] as string).replace('"status":200', '"status":404').replace(/,"chain":.*$/, '');
  lines[5] = seal(body, c.id, 6, prevHash, false).line;
  const f = await failsOnce(t, { files: [writeLines(dir, 'audit.log', lines)], publicKeys: [keys.publicKeyFile] }, 'edited', /this record or the one before it was changed/);
  t.equal(f?.seq, 7, 'the record after the edited one');
});

t.test('deleted: records missing from the middle of a file', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  const lines = c.lines.filter((_, i) => i < 9 || i > 11); // seqs 10..12
  const f = await failsOnce(t, { files: [writeLines(dir, 'audit.log', lines)], publicKeys: [keys.publicKeyFile] }, 'deleted', /records 10\.\.12 are missing/);
  t.same({ line: f?.line, seq: f?.seq }, { line: 10, seq: 13 }, 'named at the record after them');
});

t.test('deleted: a middle rotated file is missing between the others', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = rotatedChain(keys, 3);
  const files = [writeLines(dir, 'a.log', c.files[0] as string[]), writeLines(dir, 'c.log', c.files[2] as string[])];
  await failsOnce(t, { files, publicKeys: [keys.publicKeyFile] }, 'deleted', /records 13\.\.23 are missing/);
});

t.test('deleted: a file beginning mid-chain without prev, after a gap from the file before it', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 40);
  // A log shipper's split files (no rotation, so no prev): the second one lost its first lines.
  const whole = [writeLines(dir, 'part-1.log', c.lines.slice(0, 20)), writeLines(dir, 'part-2.log', c.lines.slice(20))];
  await passes(t, { files: whole, publicKeys: [keys.publicKeyFile] }, 'split files whose second follows the first');
  await passes(t, { files: [...whole].reverse(), publicKeys: [keys.publicKeyFile] }, 'the same, the later one given first');
  // The later part alone: its first record is neither the chain start nor after a rotation, so
  // the records before it may have been deleted, and its own bytes cannot be checked.
  const firstAlone = await failsOnce(t, { files: [whole[1] as string], publicKeys: [keys.publicKeyFile] }, 'deleted', new RegExp(`records before seq 21 of chain ${c.id} are not among the files given: they were deleted, or pass the file that holds them`));
  t.same({ line: firstAlone?.line, seq: firstAlone?.seq }, { line: 1, seq: 21 });
  const partial = await passes(t, { files: [whole[1] as string], publicKeys: [keys.publicKeyFile], allowPartial: true }, '--allow-partial: files a shipper split at arbitrary points');
  t.match(partial.notices.join('\n'), /begins at seq 21 .*neither at its start nor after a rotation \(--allow-partial\).*that first record is unchecked/);
  const cut = [whole[0] as string, writeLines(dir, 'part-2-cut.log', c.lines.slice(25))];
  await failsOnce(t, { files: cut, publicKeys: [keys.publicKeyFile] }, 'deleted', /records 21\.\.25 are missing/);
});

t.test('deleted: the head of a file cut and its new first record edited', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  // Seqs 1..5 cut; seq 6 changed, its hash kept: seq 7 checks against that hash, not seq 6's bytes.
  const file = writeLines(dir, 'audit.log', changed(c.lines.slice(5), 0, '"status":200', '"status":404'));
  const f = await failsOnce(t, { files: [file], publicKeys: [keys.publicKeyFile] }, 'deleted', new RegExp(`records before seq 6 of chain ${c.id} are not among the files given`));
  t.same({ line: f?.line, seq: f?.seq }, { line: 1, seq: 6 });
  const partial = await passes(t, { files: [file], publicKeys: [keys.publicKeyFile], allowPartial: true }, '--allow-partial accepts it, and says so');
  t.match(partial.notices.join('\n'), new RegExp(`chain ${c.id} begins at seq 6 \\(.*audit\\.log:1\\).*that first record is unchecked`));
  // A rotated file begins with "prev": it checks its first record, and needs no flag.
  const r = rotatedChain(keys, 2);
  const rotated = writeLines(dir, 'rotated.log', r.files[1] as string[]);
  await passes(t, { files: [rotated], publicKeys: [keys.publicKeyFile] }, 'a rotated file alone');
  await failsOnce(t, { files: [writeLines(dir, 'rotated-edited.log', changed(r.files[1] as string[], 0, '"status":200', '"status":404'))], publicKeys: [keys.publicKeyFile], allowPartial: true }, 'edited', /its hash does not match its bytes/);
});

t.test('reordered: two records swapped within a file', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  const lines = [...c.lines];
  [lines[6], lines[7]] = [lines[7] as string, lines[6] as string];
  const f = await failsOnce(t, { files: [writeLines(dir, 'audit.log', lines)], publicKeys: [keys.publicKeyFile] }, 'reordered', /seq 7 comes after seq 8 .* out of order/);
  t.equal(f?.line, 8);
});

t.test('inserted: a line that is not a sealed record', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  const lines = [...c.lines];
  lines.splice(4, 0, '{"requestId":"forged","bus":"public","start":"2026-12-01T08:00:04.500Z","client":"bank-a/app","code":"ok"}');
  const f = await failsOnce(t, { files: [writeLines(dir, 'audit.log', lines)], publicKeys: [keys.publicKeyFile] }, 'inserted', /not a sealed record/);
  t.equal(f?.line, 5);
});

t.test('inserted: a second, different record claiming an existing seq', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  const lines = [...c.lines];
  const prevHash = (lines[3]?.match(/"hash":"([0-9a-f]{64})"/) as RegExpMatchArray)[1] as string;
  const forged = seal((lines[4] as string).replace('bank-a/app', 'bank-z/app').replace(/,"chain":.*$/, ''), c.id, 5, prevHash, false).line;
  lines.splice(5, 0, forged);
  await failsOnce(t, { files: [writeLines(dir, 'audit.log', lines)], publicKeys: [keys.publicKeyFile] }, 'inserted', /a second, different record claims seq 5/);
});

t.test('inserted: a changed copy of the first record of a rotated file, its "prev" dropped, is not a duplicate', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = rotatedChain(keys, 2);
  const rotated = c.files[1] as string[];
  const real = rotated[0] as string;
  t.match(real, /,"prev":"[0-9a-f]{64}","chain":/);
  // Same chain, seq and hash; no "prev", so nothing read anchors its hash; other content.
  const forged = real.replace(/,"prev":"[0-9a-f]{64}"/, '').replace('"status":200', '"status":404');
  const seq = c.files[0]?.length as number;
  const message = new RegExp(`a second, different record claims seq ${seq + 1}`);
  const after = await failsOnce(t, { files: [writeLines(dir, 'after.log', [real, forged, ...rotated.slice(1)])], publicKeys: [keys.publicKeyFile] }, 'inserted', message);
  t.same({ line: after?.line, seq: after?.seq }, { line: 2, seq: seq + 1 }, 'named at the copy');
  await failsOnce(t, { files: [writeLines(dir, 'before.log', [forged, real, ...rotated.slice(1)])], publicKeys: [keys.publicKeyFile], allowPartial: true }, 'inserted', message);
  const elsewhere = await failsOnce(t, { files: [writeLines(dir, 'rotated.log', rotated), writeLines(dir, 'forged.log', [forged])], publicKeys: [keys.publicKeyFile] }, 'inserted', message);
  t.same({ file: elsewhere?.file, line: elsewhere?.line }, { file: join(dir, 'forged.log'), line: 1 }, 'the copy in another file');
  // The same line again is still a duplicate.
  const again = await passes(t, { files: [writeLines(dir, 'twice.log', [real, real, ...rotated.slice(1)])], publicKeys: [keys.publicKeyFile] }, 'the first line delivered twice');
  t.equal(again.duplicates, 1);
});

t.test('duplicates: a line delivered twice is a notice, not a failure', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  const lines = [...c.lines.slice(0, 12), ...c.lines.slice(8, 12), ...c.lines.slice(12)];
  const file = writeLines(dir, 'audit.log', lines);
  const r = await passes(t, { files: [file, file], publicKeys: [keys.publicKeyFile] }, 'a redelivered batch, and the same file twice');
  t.equal(r.duplicates, 4 + lines.length);
  t.equal(r.records, c.lines.length, 'each record counted once');
  t.match(r.notices.join('\n'), /repeated a record byte for byte/);
});

t.test('truncated: the shutdown checkpoint cut off; --allow-open accepts a log still being written', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  const file = writeLines(dir, 'audit.log', c.lines.slice(0, -2)); // the last checkpoint and the shutdown one
  const f = await failsOnce(t, { files: [file], publicKeys: [keys.publicKeyFile] }, 'truncated', /ends at seq 33 with a transaction, not a shutdown or rotate checkpoint, and no later chain names it/);
  t.equal(f?.line, 33, 'named at the last record present');
  const open = await passes(t, { files: [file], publicKeys: [keys.publicKeyFile], allowOpen: true }, '--allow-open');
  t.match(open.notices.join('\n'), /is open at seq 33/);

  const partial = join(dir, 'partial.log');
  writeFileSync(partial, `${c.lines.slice(0, -1).join('\n')}\n${(c.lines[c.lines.length - 1] as string).slice(0, 50)}`);
  const r = await verifyAudit({ files: [partial], publicKeys: [keys.publicKeyFile] });
  t.match(r.failures.map((x) => x.message).join('\n'), /last line is cut short/);
});

t.test('bad signature: a checkpoint changed and re-sealed; unsigned with --public-key; an unknown key', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const other = makeKeys(dir, 'other');
  const c = signedChain(keys, 30);
  const lines = [...c.lines];
  // Records lost are counted in the checkpoint: hiding a loss needs a new signature.
  const at = lines.findIndex((l) => l.includes('"type":"checkpoint"'));
  const prevHash = (lines[at - 1]?.match(/"hash":"([0-9a-f]{64})"/) as RegExpMatchArray)[1] as string;
  lines[at] = seal((lines[at] as string).replace('"dropped":0', '"dropped":5').replace(/,"chain":.*$/, ''), c.id, at + 1, prevHash, false).line;
  const resealed: string[] = lines.slice(0, at + 1);
  // Every hash after it recomputed, so only the signature shows the change.
  for (const line of lines.slice(at + 1)) {
    const seq = resealed.length + 1;
    const before = (resealed[resealed.length - 1]?.match(/"hash":"([0-9a-f]{64})"/) as RegExpMatchArray)[1] as string;
    resealed.push(seal(line.replace(/,"covers":\{"seq":(\d+),"hash":"[0-9a-f]{64}"\}/, `,"covers":{"seq":$1,"hash":"${before}"}`).replace(/,"chain":.*$/, ''), c.id, seq, before, false).line);
  }
  const file = writeLines(dir, 'audit.log', resealed);
  const r = await verifyAudit({ files: [file], publicKeys: [keys.publicKeyFile] });
  t.notOk(r.ok);
  const sig = r.failures.filter((f) => f.kind === 'signature');
  t.ok(sig.length >= 1, 'the changed checkpoint and those re-sealed after it');
  t.match(sig[0]?.message, /signature does not verify/);
  t.equal(sig[0]?.seq, at + 1);

  const unsigned = new SyntheticChain({ keys, sign: false });
  unsigned.txs(10);
  unsigned.shutdown();
  await failsOnce(t, { files: [writeLines(dir, 'unsigned.log', unsigned.lines)], publicKeys: [keys.publicKeyFile] }, 'signature', /not signed, but --public-key was given/);

  const good = writeLines(dir, 'good.log', signedChain(keys, 10).lines);
  await failsOnce(t, { files: [good], publicKeys: [other.publicKeyFile] }, 'signature', new RegExp(`signed with key ${keys.signingKey.keyId}, which is not among the --public-key given \\(${other.signingKey.keyId}\\) \\(so is 1 later checkpoint of this chain`));
  await passes(t, { files: [good], publicKeys: [other.publicKeyFile, keys.publicKeyFile] }, 'among several keys (a rotation)');
});

t.test('bad checkpoint: covers is not the record before it', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = new SyntheticChain({ keys });
  c.txs(5);
  c.checkpoint();
  c.txs(5);
  c.shutdown();
  const lines = [...c.lines];
  // A checkpoint copied from elsewhere in the chain: sealed in place, but covering another record.
  const prevHash = (lines[11]?.match(/"hash":"([0-9a-f]{64})"/) as RegExpMatchArray)[1] as string;
  lines[12] = seal((lines[6] as string).replace(/,"chain":.*$/, ''), c.id, 13, prevHash, false).line;
  const r = await verifyAudit({ files: [writeLines(dir, 'audit.log', lines)], publicKeys: [keys.publicKeyFile] });
  const covers = r.failures.find((f) => f.kind === 'covers');
  t.match(covers?.message, /it covers seq 6, but the record before it is seq 12/);
  t.equal(covers?.seq, 13);
});

t.test('signatures that cannot be checked: no chain start and no --public-key', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = rotatedChain(keys, 2);
  const later = writeLines(dir, 'audit.log', c.files[1] as string[]);
  await failsOnce(t, { files: [later] }, 'unverifiable', /chain start \(seq 1\) is not among the files and no --public-key was given: pass --public-key/);
  await passes(t, { files: [later], publicKeys: [keys.publicKeyFile] }, 'with --public-key');
});

t.test('--checkpoints: a whole file deleted, and the head of a chain deleted, show against the external record', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const a = new SyntheticChain({ keys, replica: 'dp-0' });
  a.txs(10);
  a.checkpoint();
  a.txs(5);
  a.rotate();
  a.txs(10);
  a.shutdown();
  const b = signedChain(keys, 20, { replica: 'dp-1' });
  const log = writeLines(dir, 'process.log', [
    '{"level":"info","msg":"listening","port":8080}',
    ...a.checkpointLog,
    ...b.checkpointLog,
  ]);
  const aFiles = [writeLines(dir, 'dp-0.log.1', a.files[0] as string[]), writeLines(dir, 'dp-0.log', a.files[1] as string[])];
  const bFile = writeLines(dir, 'dp-1.log', b.lines);
  const all = await passes(t, { files: [...aFiles, bFile], checkpoints: [log], publicKeys: [keys.publicKeyFile] }, 'every external checkpoint in the files');
  t.equal(all.externalCheckpoints, a.checkpointLog.length + b.checkpointLog.length);

  // Without the external record, dp-0's rotated file alone passes: its first line carries prev.
  await passes(t, { files: [aFiles[1] as string, bFile], publicKeys: [keys.publicKeyFile] }, 'the oldest file deleted, no external record');
  await failsOnce(t, { files: [aFiles[1] as string, bFile], checkpoints: [log], publicKeys: [keys.publicKeyFile] }, 'deleted', /external record has checkpoint seq 18 .* and 1 earlier one \(from seq 12\) of chain .*records up to seq 18 were deleted \(its signature verifies/);
  const whole = await failsOnce(t, { files: aFiles, checkpoints: [log], publicKeys: [keys.publicKeyFile] }, 'deleted', new RegExp(`chain ${b.id} \\(bus public, .*\\) is in the external record \\(3 checkpoints, up to seq 24\\) but in none of the files: a whole file was deleted`));
  t.equal(whole?.file, log, 'named in the external record');

  // Bare checkpoint lines are an external record too.
  const bare = writeLines(dir, 'checkpoints.jsonl', b.lines.filter((l) => l.startsWith('{"type":"checkpoint"')));
  await passes(t, { files: [bFile], checkpoints: [bare], publicKeys: [keys.publicKeyFile] }, 'bare checkpoint lines');
});

t.test('.gz files and standard input', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = new SyntheticChain({ keys });
  c.txs(50);
  c.rotate();
  c.txs(50);
  c.shutdown();
  const files = [writeLines(dir, 'audit.log.1.gz', c.files[0] as string[]), writeLines(dir, 'audit.log', c.files[1] as string[])];
  const r = await passes(t, { files, publicKeys: [keys.publicKeyFile] }, 'a gzip rotated file');
  t.equal(r.records, c.lines.length);
  const { Readable } = await import('node:stream');
  await passes(t, { files: ['-'], stdin: Readable.from([c.lines.join('\n'), '\n']) }, 'standard input');
});

t.test('the CLI: exit 0, 1 naming the finding, 2 on usage or an unreadable file', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = signedChain(keys, 30);
  const good = writeLines(dir, 'good.log', c.lines);
  const bad = writeLines(dir, 'bad.log', changed(c.lines, 9, '"status":200', '"status":500'));
  const run = (...args: string[]) => spawnSync(NODE, ['cli/main.ts', 'audit', 'verify', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });

  const ok = run(good, '--public-key', keys.publicKeyFile);
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /verified: 1 file, 1 chain, 35 records \(30 transactions\), 4 checkpoints, 4 signatures verified with key [0-9a-f]{16} \(from --public-key\)/);
  t.match(ok.stdout, /records\/s/);

  const noKey = run(good);
  t.equal(noKey.status, 0);
  t.match(noKey.stdout, /warning: no --public-key: .*integrity.*not that the bus wrote them \(origin\)/);

  const failed = run(bad, '--public-key', keys.publicKeyFile);
  t.equal(failed.status, 1);
  t.match(failed.stdout, /FAILED: 1 problem\. The first bad record: .*bad\.log:10 \(chain [0-9a-z-]+, seq 10\)\./);
  t.match(failed.stdout, /bad\.log:10: chain [0-9a-z-]+ seq 10: edited: .*this record or the one before it was changed/);

  const json = run(bad, '-o', 'json');
  t.equal(json.status, 1);
  t.match(JSON.parse(json.stdout), { ok: false, failureCount: 1, failures: [{ kind: 'edited', line: 10, seq: 10 }] });

  const missing = run(join(dir, 'nope.log'));
  t.equal(missing.status, 2);
  t.match(missing.stderr, /gozargah audit verify: cannot read .*nope\.log: ENOENT/);
  const usage = run();
  t.equal(usage.status, 2);
  t.match(usage.stderr, /no audit files: give at least one FILE/);
  const badKey = run(good, '--public-key', good);
  t.equal(badKey.status, 2);
  t.match(badKey.stderr, /is not a key in PEM/);

  const audit = (...args: string[]) => spawnSync(NODE, ['cli/main.ts', 'audit', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  const published = audit('public-key', '--signing-key', keys.signingKeyFile);
  t.equal(published.status, 0, published.stderr);
  t.equal(published.stdout, readFileSync(keys.publicKeyFile, 'utf8'), 'public-key prints the SPKI PEM');
  t.equal(published.stderr, `key id ${keys.signingKey.keyId}\n`);
  writeFileSync(join(dir, 'published.pem'), published.stdout);
  t.equal(run(good, '--public-key', join(dir, 'published.pem')).status, 0, 'and verify takes it');
  t.equal(audit('public-key', '--signing-key', keys.publicKeyFile).status, 2, 'a public key is not a signing key');
  const help = audit('--help');
  t.equal(help.status, 0);
  t.match(help.stdout, /gozargah audit verify FILE\.\.\..*gozargah audit search --param NAME .*gozargah audit public-key --signing-key FILE/s);
  t.equal(audit('frobnicate').status, 2);
});

t.test('throughput (a figure, not an assertion)', async (t) => {
  const dir = tempDir(t);
  const keys = makeKeys(dir);
  const c = new SyntheticChain({ keys });
  for (let i = 1; i <= 100_000; i++) {
    c.tx({ params: { nationalId: String(1e9 + i) }, sensitive: ['nationalId'] });
    if (i % 5000 === 0) c.checkpoint();
  }
  c.shutdown();
  const r = await passes(t, { files: [writeLines(dir, 'audit.log', c.lines)], publicKeys: [keys.publicKeyFile] }, '100,000 records');
  t.comment(`verify: ${r.records} records in ${r.seconds.toFixed(2)} s, ${r.recordsPerSecond} records/s`);
});

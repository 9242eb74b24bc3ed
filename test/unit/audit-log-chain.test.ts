// The audit log's chain at its edges, on real files, checked by `gozargah audit verify`'s own
// function: a record arriving while the log closes goes before the shutdown checkpoint, never
// after it; a SIGHUP during shutdown adds nothing after it; a full queue still leaves room for
// the rotation checkpoint; a file left ending in half a line damages only that line.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditChain } from '../../dataplane/audit-chain.ts';
import { AuditLog } from '../../dataplane/audit-log.ts';
import type { Transaction } from '../../dataplane/metering.ts';
import { verifyAudit } from '../../cli/audit/verify.ts';

const tx = (n: number): Transaction => ({
  requestId: `r-${n}`, client: 'c', binding: 'clients/c', provider: 'gov/agency', route: 'gov/person', method: 'GET', status: 200, code: 'ok',
  start: Date.now(), durationMs: 1, upstreamMs: 1, requestBytes: 0, responseBytes: 2, params: null, fields: null, requestHash: null, responseHash: null,
});

function auditLog(path: string, maxQueueBytes = 1 << 20): AuditLog {
  const chain = new AuditChain({ bus: 'default', replica: 'unit', signingKey: null, pseudonymKeyId: null, previous: null });
  return new AuditLog({ path, bus: 'default', maxQueueBytes, log: () => {}, chain, checkpointMs: 10_000, checkpointed: () => {} });
}

const lines = (path: string): string[] => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
const dir = (): string => mkdtempSync(join(tmpdir(), 'gozargah-audit-log-'));

t.test('a record written while the log closes goes before the shutdown checkpoint', async (t2) => {
  const path = join(dir(), 'audit.jsonl');
  const log = auditLog(path);
  for (let i = 0; i < 5; i++) log.write(tx(i));
  const closed = log.close(3000);
  log.write(tx(5)); // a request cut at shutdown, recorded a moment later
  log.write(tx(6));
  await closed;
  const written = lines(path);
  t2.match(written.at(-1), /"type":"checkpoint".*"reason":"shutdown"/, 'the shutdown checkpoint is the last line');
  t2.equal(written.filter((l) => l.startsWith('{"requestId"')).length, 7, 'the late records are in, before it');
  const result = await verifyAudit({ files: [path] });
  t2.ok(result.ok, JSON.stringify(result.failures));
  t2.same(result.chains.map((c) => c.end), ['shutdown']);
  log.write(tx(7));
  t2.equal(log.status().droppedRecords.shutdown, 1, 'after close, a record is counted as dropped, not sealed');
});

t.test('SIGHUP during shutdown adds nothing after the shutdown checkpoint', async (t2) => {
  const path = join(dir(), 'audit.jsonl');
  const log = auditLog(path);
  for (let i = 0; i < 3; i++) log.write(tx(i));
  const closed = log.close(3000);
  log.reopen();
  await closed;
  t2.notMatch(readFileSync(path, 'utf8'), /"reason":"rotate"/);
  t2.ok((await verifyAudit({ files: [path] })).ok);
});

t.test('a full queue still takes the rotation checkpoint: the old file verifies on its own', async (t2) => {
  const d = dir();
  const path = join(d, 'audit.jsonl');
  const log = auditLog(path, 16 << 10);
  for (let i = 0; i < 400; i++) log.write(tx(i)); // one tick: far more than 16 KiB
  t2.ok(log.status().droppedRecords.queue_full > 0, 'the queue filled and dropped');
  renameSync(path, `${path}.1`);
  log.reopen();
  await new Promise((r) => setTimeout(r, 200));
  for (let i = 0; i < 3; i++) log.write(tx(1000 + i));
  await log.close(3000);
  t2.match(lines(`${path}.1`).at(-1), /"reason":"rotate"/, 'the old file ends with its rotation checkpoint');
  const alone = await verifyAudit({ files: [`${path}.1`] });
  t2.ok(alone.ok, JSON.stringify(alone.failures));
  const both = await verifyAudit({ files: [`${path}.1`, path] });
  t2.ok(both.ok, JSON.stringify(both.failures));
});

t.test('a file left ending in half a line: the next run starts on a line of its own', async (t2) => {
  const path = join(dir(), 'audit.jsonl');
  writeFileSync(path, '{"requestId":"cut-off-by-a-crash","bus":"def');
  const log = auditLog(path);
  log.write(tx(1));
  await log.close(3000);
  const written = lines(path);
  t2.equal(written[0], '{"requestId":"cut-off-by-a-crash","bus":"def', 'the half line stays as it was');
  t2.match(written[1], /^\{"type":"chain-start"/, 'the chain starts on the next line');
  const result = await verifyAudit({ files: [path] });
  t2.equal(result.failures.length, 1, `only the half line is reported: ${JSON.stringify(result.failures)}`);
  t2.equal(result.failures[0]?.line, 1);
  t2.ok(existsSync(path));
});

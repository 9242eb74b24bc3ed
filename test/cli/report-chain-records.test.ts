// `gozargah report --audit` over sealed audit files (docs/decisions/0002-audit-evidence.md): the
// chain start and checkpoints carry a `type` and are not transactions; they are skipped without
// a warning, and every transaction around them is counted.
import t from 'tap';
import { parseAuditLine } from '../../cli/report/audit-source.ts';
import { report } from '../../cli/report/command.ts';
import { makeKeys, SyntheticChain, tempDir, writeLines } from '../helpers/audit-evidence.ts';

t.test('chain records are skipped silently; the transactions are counted', async (t) => {
  const dir = tempDir(t);
  const c = new SyntheticChain({ keys: makeKeys(dir) });
  c.txs(12);
  c.checkpoint();
  c.rotate();
  c.txs(8);
  c.shutdown();
  const [start, checkpoint] = [c.lines[0] as string, c.lines[13] as string];
  t.equal(parseAuditLine(start), null, 'a chain start is not a transaction');
  t.equal(parseAuditLine(checkpoint), null, 'a checkpoint is not a transaction');

  const files = c.files.map((lines, i) => writeLines(dir, `audit.log.${i}`, lines));
  let stdout = '';
  let stderr = '';
  const code = await report(['--audit', ...files, '--month', '2026-12', '-o', 'json'], { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), env: {} });
  t.equal(code, 0);
  t.equal(stderr, '', 'no line reported as malformed');
  t.match(JSON.parse(stdout), { transactions: 20, notes: [] });
});

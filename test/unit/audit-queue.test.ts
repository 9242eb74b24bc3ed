// The audit queue's accounting, without I/O: every record ends up counted once, as written or
// as dropped by reason, whatever the sink does to a batch (partial writes, failures, give-ups).
import t from 'tap';
import { AuditQueue } from '../../dataplane/audit-queue.ts';

/** A line of exactly `size` bytes (newline included). */
const line = (id: number, size = 100): string => `{"id":${id},"pad":"${'x'.repeat(size - 20 - String(id).length)}"}`.padEnd(size - 1, ' ');

/** recorded = written + dropped + queued, the invariant every step below must keep. */
function accounted(q: AuditQueue): number {
  return q.written + q.droppedTotal + q.queuedRecords;
}

t.test('push is bounded by bytes; what does not fit is counted as queue_full', async (t2) => {
  const q = new AuditQueue(1000);
  let pushed = 0;
  for (let i = 0; i < 15; i++) if (q.push(line(i))) pushed++;
  t2.equal(pushed, 10, '10 lines of 100 bytes fit in 1000');
  t2.same(q.dropped, { queue_full: 5, write_error: 0, shutdown: 0 });
  t2.equal(q.queuedBytes, 1000);
  t2.equal(accounted(q), 15);
});

t.test('a batch holds its bytes until written: new lines do not overfill the queue meanwhile', async (t2) => {
  const q = new AuditQueue(500);
  for (let i = 0; i < 5; i++) q.push(line(i));
  const batch = q.next();
  t2.equal(batch?.records, 5);
  t2.equal(q.pendingRecords, 0);
  t2.notOk(q.push(line(99)), 'the batch in progress still counts against the bound');
  t2.ok(q.advance(500), 'all of it written');
  t2.equal(q.written, 5);
  t2.ok(q.push(line(100)), 'room again');
  t2.equal(accounted(q), 7);
});

interface Case {
  name: string;
  /** bytes the sink took, in order, before the outcome */
  progress: number[];
  outcome: 'written' | 'dropBatch' | 'rewind-then-written';
  written: number;
  dropped: number;
}

// Five lines of 100 bytes in one batch of 500.
const cases: Case[] = [
  { name: 'whole in one write', progress: [500], outcome: 'written', written: 5, dropped: 0 },
  { name: 'partial writes finish the remainder', progress: [130, 270, 100], outcome: 'written', written: 5, dropped: 0 },
  { name: 'failure before any byte: all five dropped', progress: [], outcome: 'dropBatch', written: 0, dropped: 5 },
  { name: 'failure mid-line: whole lines written, the cut one and the rest dropped', progress: [250], outcome: 'dropBatch', written: 2, dropped: 3 },
  { name: 'failure right after a newline', progress: [300], outcome: 'dropBatch', written: 3, dropped: 2 },
  { name: 'failure after a partial write taken back: the batch is written whole again', progress: [250], outcome: 'rewind-then-written', written: 5, dropped: 0 },
];
for (const c of cases) {
  t.test(c.name, async (t2) => {
    const q = new AuditQueue(10_000);
    for (let i = 0; i < 5; i++) q.push(line(i));
    const batch = q.next();
    t2.equal(batch?.buffer.length, 500);
    let done = false;
    for (const bytes of c.progress) done = q.advance(bytes);
    if (c.outcome === 'dropBatch') q.dropBatch('write_error');
    if (c.outcome === 'rewind-then-written') {
      q.rewind();
      t2.equal(q.next()?.offset, 0, 'the same batch, from its start');
      done = q.advance(500);
    }
    if (c.outcome !== 'dropBatch') t2.ok(done, 'the batch is complete');
    t2.equal(q.written, c.written, 'written');
    t2.equal(q.dropped.write_error, c.dropped, 'dropped');
    t2.equal(q.queuedRecords, 0);
    t2.equal(accounted(q), 5);
  });
}

t.test('the remainder of a begun batch goes before newer lines', async (t2) => {
  const q = new AuditQueue(10_000);
  q.push(line(1));
  q.push(line(2));
  const first = q.next();
  q.advance(150);
  q.push(line(3));
  t2.equal(q.next(), first, 'next() returns the begun batch, not the new line');
  t2.equal(q.next()?.offset, 150);
  q.advance(50);
  t2.equal(q.next()?.records, 1, 'then the new line');
  t2.equal(accounted(q), 3);
});

t.test('dropAll at shutdown counts the batch remainder and the pending lines', async (t2) => {
  const q = new AuditQueue(10_000);
  for (let i = 0; i < 3; i++) q.push(line(i));
  q.next();
  q.advance(100);
  for (let i = 3; i < 7; i++) q.push(line(i));
  t2.equal(q.dropAll('shutdown'), 6, '2 of the batch + 4 pending');
  t2.same([q.written, q.dropped.shutdown, q.queuedRecords, q.queuedBytes], [1, 6, 0, 0]);
  q.drop('shutdown');
  t2.equal(accounted(q), 8);
});

t.test('lines with non-ASCII text: the batch is UTF-8 and newline counting still finds whole lines', async (t2) => {
  const q = new AuditQueue(10_000);
  q.push('{"name":"سارا"}');
  q.push('{"name":"علی"}');
  const batch = q.next();
  const firstLength = Buffer.byteLength('{"name":"سارا"}\n');
  q.advance(firstLength + 3);
  q.dropBatch('write_error');
  t2.same([batch?.buffer.toString('utf8').split('\n').length, q.written, q.dropped.write_error], [3, 1, 1]);
});

t.test('a pipe reader gone mid-line: the cut line goes again whole, after the lines already sent', async (t2) => {
  const q = new AuditQueue(10_000);
  for (let i = 0; i < 5; i++) q.push(line(i));
  q.next();
  q.advance(250);
  t2.notOk(q.atLineStart, 'half of the third line is out: no reopen here');
  q.rewindToLine();
  t2.ok(q.atLineStart);
  t2.equal(q.batch?.offset, 200, 'back to the start of the cut line');
  q.trimWritten();
  t2.same([q.written, q.batch?.records, q.batch?.offset, q.batch?.buffer.length], [2, 3, 0, 300], 'two lines written, three to go, to the new sink');
  t2.ok(q.advance(300));
  t2.same([q.written, q.droppedTotal, q.queuedRecords], [5, 0, 0], 'every record written once');
});

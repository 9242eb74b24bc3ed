// A failing audit sink never stops the bus and never loses a record without counting it. Each
// test breaks the sink of a real dataplane process (a full disk, a missing directory, a deleted
// or rotated file, a standard output whose reader is slow or gone), then checks what was
// written, what was counted as dropped, that the two add up to the requests sent, and that the
// replica still answers a normal request with 200.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { Socket } from 'node:net';
import { closeSync, constants, existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startNodeProcess, waitFor, type NodeProcess } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'test-key-audit-sink-0123456789';
const agency = await startAgency();
t.teardown(() => agency.close());
const dir = manifestDir([
  provider('agency', agency.url),
  route('echo', 'agency', '/audit/v1/echo/{id}', { upstreamPath: '/echo/{id}' }),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client', [{ namespace: 'gov', name: 'echo' }]),
]);

interface Running extends NodeProcess {
  url: string;
  adminUrl: string;
  pool: Pool;
}

interface AuditStatus {
  sink: string;
  state: 'up' | 'down' | 'gone';
  available: boolean;
  queuedRecords: number;
  writtenRecords: number;
  droppedRecords: { queue_full: number; write_error: number; shutdown: number };
  writingForMs: number | null;
  lastError: { code: string } | null;
}

/** A dataplane with its own audit flags; ready means "snapshot loaded" (/readyz may be 503 in strict mode). */
async function start(t2: Test, args: string[], keepStdout = false): Promise<Running> {
  const started = await startNodeProcess('dataplane', 'dataplane/main.ts', ['--manifests', dir, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', ...args], '"listening"', {}, { keepStdout });
  const line = started.line as { listen: string; admin: string };
  const running: Running = { ...started, url: `http://${line.listen}`, adminUrl: `http://${line.admin}`, pool: new Pool(`http://${line.listen}`, { connections: 16 }) };
  t2.teardown(async () => {
    await running.pool.close();
    await running.stop('SIGKILL');
  });
  await waitFor(async () => ((await (await fetch(`${running.adminUrl}/config`)).json()) as { loaded: boolean }).loaded, 20_000, () => `no snapshot loaded:\n${running.logs()}`);
  return running;
}

async function audit(dp: Running): Promise<AuditStatus> {
  return ((await (await fetch(`${dp.adminUrl}/healthz`)).json()) as { audit: AuditStatus }).audit;
}

async function waitAudit(dp: Running, what: string, check: (a: AuditStatus) => boolean): Promise<AuditStatus> {
  let last: AuditStatus | null = null;
  await waitFor(async () => check((last = await audit(dp))), 20_000, () => `audit never became ${what}: ${JSON.stringify(last)}\n${dp.logs()}`);
  return last as unknown as AuditStatus;
}

/** gozargah_audit_dropped_records_total by reason, from /metrics. */
async function droppedMetric(dp: Running): Promise<Record<string, number>> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('gozargah_audit_dropped_records_total{')) continue;
    const reason = /reason="([^"]*)"/.exec(line)?.[1] ?? '';
    out[reason] = (out[reason] ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

interface Sent {
  ids: string[];
  statuses: Record<number, number>;
  codes: Record<string, number>;
}

/** Sends n requests, `concurrency` at a time, each with its own request id; `after(done)` runs after each answer. */
async function send(dp: Running, prefix: string, n: number, concurrency = 16, after: (done: number) => void = () => {}): Promise<Sent> {
  const sent: Sent = { ids: [], statuses: {}, codes: {} };
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const id = `${prefix}-${next++}`;
      sent.ids.push(id);
      const res = await dp.pool.request({ path: `/audit/v1/echo/${id}`, method: 'GET', headers: { 'x-api-key': KEY, 'x-request-id': id } });
      await res.body.dump();
      sent.statuses[res.statusCode] = (sent.statuses[res.statusCode] ?? 0) + 1;
      const code = res.headers['x-gozargah-error'];
      if (typeof code === 'string') sent.codes[code] = (sent.codes[code] ?? 0) + 1;
      after(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return sent;
}

/** The replica is alive and serving: a normal request is answered 200 by the agency. */
async function assertServing(t2: Test, dp: Running): Promise<void> {
  t2.equal(dp.child.exitCode, null, 'the process is still running');
  const res = await dp.pool.request({ path: '/audit/v1/echo/alive', method: 'GET', headers: { 'x-api-key': KEY } });
  await res.body.dump();
  t2.equal(res.statusCode, 200, 'a normal request still gets 200');
}

/** Every transaction of an audit file (a half line fails the test). */
function lines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return parseLines(readFileSync(path, 'utf8'));
}

/** The transaction records (the chain's start and checkpoint records carry a `type`); every line is parsed, so a half line fails the test. */
function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r['type'] === undefined);
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

/** Collects what a stream (a child's stdout, a named pipe) carries, from when the test decides to read it. */
function collect(stream: Readable): { stream: Readable; text: () => string } {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => (text += c));
  return { stream, text: () => text };
}

t.test('--audit-log /dev/full: every request served, every record counted as queued or dropped, once logged', { skip: !existsSync('/dev/full') && 'no /dev/full here' }, async (t2) => {
  const dp = await start(t2, ['--audit-log', '/dev/full', '--audit-queue-bytes', '16Ki']);
  const sent = await send(dp, 'full', 300);
  t2.same(sent.statuses, { 200: 300 }, 'serve mode: the agency answers every call while the disk is full');
  const a = await waitAudit(dp, 'down with drops', (s) => s.state === 'down' && s.droppedRecords.queue_full > 0);
  t2.equal(a.lastError?.code, 'ENOSPC', '/healthz names the error');
  t2.equal(a.writtenRecords, 0, 'nothing reached /dev/full');
  t2.equal(a.queuedRecords + a.droppedRecords.queue_full, 300, 'queued + dropped = requests sent');
  t2.equal((await droppedMetric(dp)).queue_full, a.droppedRecords.queue_full, 'gozargah_audit_dropped_records_total{reason="queue_full"}');
  t2.ok(a.available === false, 'not available while down');
  t2.equal((await fetch(`${dp.adminUrl}/readyz`)).status, 200, 'serve mode: still ready');
  await assertServing(t2, dp);
  // The sink is retried every second: wait for one retry, so "once per transition" is tested.
  const before = (await audit(dp)).lastError;
  await waitAudit(dp, 'retried', (s) => JSON.stringify(s.lastError) !== JSON.stringify(before));
  t2.equal(count(dp.logs(), 'audit sink down'), 1, 'the sink going down is logged once, not per record or retry');
  t2.equal(count(dp.logs(), 'audit queue full'), 1, 'the queue filling up is logged once');
  t2.equal(await dp.stop('SIGTERM'), 0, 'graceful stop with a full disk: exit 0');
  const summary = dp.logs().split('\n').find((l) => l.includes('audit records were dropped'));
  t2.ok(summary !== undefined, 'shutdown logs what was lost');
  const { written, dropped } = JSON.parse(summary as string) as { written: number; dropped: Record<string, number> };
  t2.equal(written + dropped['queue_full']! + dropped['shutdown']! + dropped['write_error']!, 301, 'at exit: written + dropped = every transaction (300 + the alive check)');
  t2.ok(dropped['shutdown']! > 0, 'what was still queued at exit is counted as dropped (reason shutdown)');
});

t.test('a directory that does not exist yet: records wait in the queue, then reach the file once it exists (SIGHUP)', async (t2) => {
  const root = mkdtempSync(join(tmpdir(), 'gozargah-audit-'));
  const path = join(root, 'later', 'audit.jsonl');
  const dp = await start(t2, ['--audit-log', path]);
  const down = await waitAudit(dp, 'down', (s) => s.state === 'down');
  t2.equal(down.lastError?.code, 'ENOENT', '/healthz says why');
  const first = await send(dp, 'early', 20, 4);
  t2.same(first.statuses, { 200: 20 }, 'calls are served while the sink is down (serve mode)');
  t2.equal((await audit(dp)).queuedRecords, 20, 'their records wait in the queue');
  mkdirSync(join(root, 'later'));
  dp.child.kill('SIGHUP');
  await waitFor(() => lines(path).length >= 20, 20_000, () => `records did not resume: ${lines(path).length}\n${dp.logs()}`);
  const second = await send(dp, 'late', 10, 4);
  await waitFor(() => lines(path).length >= 30, 20_000, () => `later records missing: ${lines(path).length}`);
  const ids = lines(path).map((r) => r['requestId']);
  t2.same(ids.toSorted(), [...first.ids, ...second.ids].toSorted(), 'every record, once, in the file');
  const a = await audit(dp);
  t2.same([a.state, a.droppedRecords], ['up', { queue_full: 0, write_error: 0, shutdown: 0 }], 'up again, nothing dropped');
  t2.equal(count(dp.logs(), 'audit sink down'), 1, 'down logged once');
  t2.equal(count(dp.logs(), 'audit sink back'), 1, 'back logged once');
  await assertServing(t2, dp);
});

t.test('the file deleted, then SIGHUP: a new file appears with the new records', async (t2) => {
  const path = join(mkdtempSync(join(tmpdir(), 'gozargah-audit-')), 'audit.jsonl');
  const dp = await start(t2, ['--audit-log', path]);
  await send(dp, 'before', 10, 4);
  await waitFor(() => lines(path).length >= 10, 20_000, () => 'first records missing');
  unlinkSync(path);
  dp.child.kill('SIGHUP');
  await waitFor(() => count(dp.logs(), 'audit log reopened') === 1, 20_000, () => `no reopen:\n${dp.logs()}`);
  t2.ok(existsSync(path), 'reopening created the file again');
  const after = await send(dp, 'after', 10, 4);
  await waitFor(() => lines(path).length >= 10, 20_000, () => `new records missing: ${lines(path).length}`);
  t2.same(lines(path).map((r) => r['requestId']).toSorted(), after.ids.toSorted(), 'the new file holds exactly the records after the SIGHUP');
  await assertServing(t2, dp);
});

t.test('rotation by rename + SIGHUP under traffic: old records in the old file, new in the new, none lost', async (t2) => {
  const root = mkdtempSync(join(tmpdir(), 'gozargah-audit-'));
  const path = join(root, 'audit.jsonl');
  const rotated = join(root, 'audit.jsonl.1');
  const dp = await start(t2, ['--audit-log', path]);
  const before = await send(dp, 'r1', 200);
  await waitFor(() => lines(path).length >= 200, 20_000, () => 'first records missing');
  // Rotate while requests are in flight, the way logrotate does: rename, then SIGHUP.
  const during = await send(dp, 'r2', 400, 16, (done) => {
    if (done !== 100) return;
    renameSync(path, rotated);
    dp.child.kill('SIGHUP');
  });
  await waitFor(() => count(dp.logs(), 'audit log reopened') === 1, 20_000, () => `no reopen:\n${dp.logs()}`);
  const after = await send(dp, 'r3', 10, 4);
  const total = before.ids.length + during.ids.length + after.ids.length;
  await waitFor(() => lines(rotated).length + lines(path).length >= total, 20_000, () => `records missing: ${lines(rotated).length} + ${lines(path).length} of ${total}`);
  const old = lines(rotated);
  const fresh = lines(path);
  t2.ok(old.length >= 200, `the rotated file keeps the records from before (${old.length})`);
  t2.ok(fresh.length >= 10, `the new file has the records from after (${fresh.length})`);
  t2.ok(after.ids.every((id) => fresh.some((r) => r['requestId'] === id)), 'records after the reopen are in the new file');
  t2.same([...old, ...fresh].map((r) => r['requestId']).toSorted(), [...before.ids, ...during.ids, ...after.ids].toSorted(), 'every request exactly once across the two files');
  t2.same((await audit(dp)).droppedRecords, { queue_full: 0, write_error: 0, shutdown: 0 }, 'nothing dropped');
  await assertServing(t2, dp);
});

t.test('SIGHUP while auditing to standard output does not end the process', async (t2) => {
  const dp = await start(t2, [], true);
  const out = collect(dp.child.stdout as Readable);
  // One at a time: signals sent back to back may arrive as one.
  for (const n of [1, 2]) {
    dp.child.kill('SIGHUP');
    await waitFor(() => count(dp.logs(), 'nothing to reopen') === n, 20_000, () => `SIGHUP not handled:\n${dp.logs()}`);
  }
  const sent = await send(dp, 'hup', 5, 1);
  await waitFor(() => parseLines(out.text()).length >= 5, 20_000, () => 'no records on stdout');
  t2.same(parseLines(out.text()).map((r) => r['requestId']).toSorted(), sent.ids.toSorted(), 'records keep coming on stdout');
  await assertServing(t2, dp);
});

t.test('standard output read by a reader that pauses: no half line, lines + dropped = requests sent', async (t2) => {
  const dp = await start(t2, ['--audit-queue-bytes', '64Ki'], true);
  const n = 3000;
  const sent = await send(dp, 'slow', n);
  t2.same(sent.statuses, { 200: n }, 'every call served while the reader does not read');
  const stalled = await audit(dp);
  t2.ok(stalled.writingForMs !== null && stalled.droppedRecords.queue_full > 0, `a write waits for the reader, and the bounded queue dropped records (${stalled.droppedRecords.queue_full})`);
  t2.equal(stalled.state, 'up', 'a slow reader is not a failure');
  await assertServing(t2, dp);
  // Now the reader catches up and reads everything.
  const out = collect(dp.child.stdout as Readable);
  const done = await waitAudit(dp, 'drained', (s) => s.queuedRecords === 0 && s.writingForMs === null);
  await waitFor(() => out.text().split('\n').length - 1 >= done.writtenRecords, 20_000, () => 'written lines did not all arrive');
  const records = parseLines(out.text());
  t2.ok(out.text().endsWith('\n'), 'the output ends with a whole line');
  const dropped = await droppedMetric(dp);
  t2.equal(records.length, done.writtenRecords, 'every line written arrived whole (each parses as JSON)');
  t2.equal(new Set(records.map((r) => r['requestId'])).size, records.length, 'no line twice');
  t2.equal(records.length + dropped['queue_full']! + dropped['write_error']! + dropped['shutdown']!, n + 1, 'lines + gozargah_audit_dropped_records_total = requests sent (+ the alive check)');
});

t.test('standard output whose reader is gone (and stderr too): the process stays, answers, and counts every record dropped', async (t2) => {
  const dp = await start(t2, [], true);
  (dp.child.stdout as Readable).destroy();
  const sent = await send(dp, 'gone', 50, 4);
  t2.same(sent.statuses, { 200: 50 }, 'calls are served');
  const gone = await waitAudit(dp, 'gone', (s) => s.state === 'gone' && s.droppedRecords.write_error === 50);
  t2.equal(gone.writtenRecords, 0, 'nothing written');
  t2.equal((await droppedMetric(dp)).write_error, 50, 'gozargah_audit_dropped_records_total{reason="write_error"} counts all 50');
  await waitFor(() => count(dp.logs(), 'audit sink gone') === 1, 20_000, () => dp.logs());
  await assertServing(t2, dp);
  // Now the log reader goes too: a SIGHUP makes the process log to the broken pipe.
  (dp.child.stderr as Readable).destroy();
  dp.child.kill('SIGHUP');
  await send(dp, 'gone-late', 10, 2);
  await assertServing(t2, dp);
  t2.equal((await audit(dp)).droppedRecords.write_error, 62, 'still counting: 50 + 10 + the two alive checks');
});

t.test('--audit-unavailable=refuse: 503 audit_unavailable while the sink fails, served again once it is back', async (t2) => {
  const root = mkdtempSync(join(tmpdir(), 'gozargah-audit-'));
  const logs = join(root, 'logs');
  mkdirSync(logs);
  const path = join(logs, 'audit.jsonl');
  const dp = await start(t2, ['--audit-log', path, '--audit-unavailable', 'refuse']);
  await waitFor(async () => (await fetch(`${dp.adminUrl}/readyz`)).status === 200, 20_000, () => 'never ready');
  const ok = await send(dp, 'strict-ok', 5, 1);
  t2.same(ok.statuses, { 200: 5 }, 'served while the sink is up');
  await waitFor(() => lines(path).length >= 5, 20_000, () => 'first records missing');

  // The directory disappears; SIGHUP makes the replica reopen the path, which fails.
  rmSync(logs, { recursive: true });
  dp.child.kill('SIGHUP');
  await waitAudit(dp, 'down', (s) => s.state === 'down');
  const seen = agency.seen.length;
  const res = await dp.pool.request({ path: '/audit/v1/echo/refused', method: 'GET', headers: { 'x-api-key': KEY } });
  const body = (await res.body.json()) as { code: string; status: number };
  t2.equal(res.statusCode, 503, 'refused with 503');
  t2.equal(res.headers['x-gozargah-error'], 'audit_unavailable', 'the bus\'s refusal, not the agency\'s answer');
  t2.equal(body.code, 'audit_unavailable', 'a problem document with the stable code');
  t2.ok(Number(res.headers['retry-after']) > 0, 'with Retry-After');
  const refused = await send(dp, 'strict-refused', 9, 3);
  t2.same(refused.codes, { audit_unavailable: 9 }, 'every call is refused while the sink is down');
  t2.equal(agency.seen.length, seen, 'no refused call reached the agency');
  const ready = await fetch(`${dp.adminUrl}/readyz`);
  const readyBody = (await ready.json()) as { audit: AuditStatus };
  t2.equal(ready.status, 503, '/readyz is 503: traffic should go to replicas that can audit');
  t2.equal(readyBody.audit.state, 'down', '/readyz says why');

  mkdirSync(logs);
  dp.child.kill('SIGHUP');
  await waitFor(async () => (await fetch(`${dp.adminUrl}/readyz`)).status === 200, 20_000, () => `never ready again:\n${dp.logs()}`);
  const back = await send(dp, 'strict-back', 5, 1);
  t2.same(back.statuses, { 200: 5 }, 'served again once the sink is back');
  await assertServing(t2, dp);
  // The refusals are transactions too: they waited in the queue and reached the new file.
  await waitFor(() => lines(path).length >= 1 + 9 + 5 + 1, 20_000, () => `records missing: ${lines(path).length}`);
  const codes = lines(path).map((r) => r['code']);
  t2.equal(codes.filter((c) => c === 'audit_unavailable').length, 10, 'the refusals are audited');
  t2.equal(codes.filter((c) => c === 'ok').length, 6, 'and the calls served after');
  t2.same((await audit(dp)).droppedRecords, { queue_full: 0, write_error: 0, shutdown: 0 }, 'nothing dropped');
});

/**
 * A reader of a named pipe that can leave at once: a non-blocking fd read through a libuv pipe
 * (an fs read stream would hold a blocking read in the pool until more data came, and swallow it).
 */
function fifoReader(path: string): { stream: Readable; text: () => string } {
  return collect(new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false }));
}

t.test('--audit-log is a named pipe: no reader yet, then a reader, then it leaves and another comes; every line whole, none lost', async (t2) => {
  const root = mkdtempSync(join(tmpdir(), 'gozargah-audit-'));
  const fifo = join(root, 'audit.fifo');
  execFileSync('mkfifo', [fifo]);
  const dp = await start(t2, ['--audit-log', fifo]);
  const down = await waitAudit(dp, 'down', (s) => s.state === 'down');
  t2.equal(down.lastError?.code, 'ENXIO', 'no reader: the sink is down, and the open did not block');
  const first = await send(dp, 'fifo-a', 20, 4);
  t2.same(first.statuses, { 200: 20 }, 'served while nobody reads');
  const reader1 = fifoReader(fifo);
  // The test holds a writer end too, so a reader never sees end-of-file while the dataplane's end is closed.
  const holder = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  t2.teardown(() => closeSync(holder));
  await waitFor(() => parseLines(reader1.text()).length >= 20, 20_000, () => `the first reader got ${reader1.text().length} bytes\n${dp.logs()}`);
  // The first reader leaves; the next records meet a pipe without reader (EPIPE) and wait for the next one.
  reader1.stream.destroy();
  const second = await send(dp, 'fifo-b', 10, 2);
  await waitAudit(dp, 'down again', (s) => s.state === 'down' && s.lastError?.code === 'EPIPE');
  const reader2 = fifoReader(fifo);
  t2.teardown(() => reader2.stream.destroy());
  await waitFor(() => parseLines(reader2.text()).length >= 10, 20_000, () => `the second reader got ${reader2.text().length} bytes\n${dp.logs()}`);
  const all = [...parseLines(reader1.text()), ...parseLines(reader2.text())].map((r) => r['requestId']);
  t2.same(all.toSorted(), [...first.ids, ...second.ids].toSorted(), 'each record once, across the two readers');
  t2.same((await audit(dp)).droppedRecords, { queue_full: 0, write_error: 0, shutdown: 0 }, 'nothing dropped');
  await assertServing(t2, dp);
});

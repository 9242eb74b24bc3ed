// The accounting's batches on a real redis-server, driven in process: counts of many distinct
// clients, gathered during an outage, reach Redis in several scripts of bounded size (one giant
// script could outlast the command timeout and never be taken), each counted once.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { redisTarget } from '../../api/accounting/index.ts';
import { Accounting } from '../../dataplane/accounting.ts';
import type { Transaction } from '../../dataplane/metering.ts';
import { waitFor } from '../helpers/dataplane.ts';
import { redisUsageTotal, today } from '../helpers/fleet.ts';
import { startRedis } from '../helpers/redis.ts';

const tx = (client: string): Transaction => ({
  requestId: 'r', client, binding: `clients/${client}`, provider: 'gov/agency', route: 'gov/person', method: 'GET', status: 200, code: 'ok',
  start: Date.now(), durationMs: 1, upstreamMs: 1, requestBytes: 0, responseBytes: 0, params: null, fields: null, requestHash: null, responseHash: null,
});

t.test('5,000 distinct fields held through an outage arrive in bounded batches, each once', async (t) => {
  const redis = await startRedis({ aof: true });
  t.teardown(() => redis.close());
  const logs: Record<string, unknown>[] = [];
  const accounting = new Accounting({ bus: 'batches', replica: 'in-process', redis: redisTarget(redis.url, null), redisUnavailable: 'local', stateDir: null, log: (r) => logs.push(r) });
  accounting.start();
  t.teardown(() => accounting.close());
  await waitFor(() => accounting.status().redis?.state === 'up', 5000, () => JSON.stringify(logs));
  await redis.stop();
  await waitFor(() => accounting.status().redis?.state === 'down', 5000, () => 'never saw Redis go');
  for (let i = 0; i < 5000; i++) accounting.count(tx(`client-${i}`));
  await new Promise((r) => setTimeout(r, 1200));
  t.equal(accounting.status().pendingRecords, 5000, 'held while Redis is away');
  await redis.restart();
  await waitFor(() => accounting.status().pendingRecords === 0, 10_000, () => `never flushed: ${JSON.stringify(accounting.status())}`);
  t.equal(await redisUsageTotal(redis, today(), 'batches'), 5000, 'every count once');
  const fields = Number(execFileSync('redis-cli', ['-p', String(redis.port), 'hlen', `gozargah:{batches}:usage:${today()}`]).toString());
  t.equal(fields, 5000, 'one field per client');
  const markers = execFileSync('redis-cli', ['-p', String(redis.port), '--scan', '--pattern', 'gozargah:{batches}:applied:*']).toString().trim().split('\n');
  t.equal(markers.length, 1, 'one run');
  const seq = Number(execFileSync('redis-cli', ['-p', String(redis.port), 'get', markers[0] as string]).toString());
  t.ok(seq >= 5, `sent as ${seq} batches (day and month fields, at most 2,000 increments each)`);
});

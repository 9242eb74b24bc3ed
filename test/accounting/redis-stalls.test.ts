// Redis answering slowly or refusing a command on a live connection (a pause, a timeout, OOM,
// a failover's READONLY) is not a lost connection: no reconnect follows, so the replica must see
// Redis back by Redis answering again. And a burst is the fleet's to spend: chunks taken by one
// replica never leave the others without the burst the binding was given.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { Pool } from 'undici';
import { ask, countBy, keyOf, load, redisUsageTotal, startFleet, today, type Answer } from '../helpers/fleet.ts';
import { waitFor, type RunningDataplane } from '../helpers/dataplane.ts';

async function fleetSize(dp: RunningDataplane): Promise<number> {
  return ((await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { accounting: { redis: { replicas: number } } }).accounting.redis.replicas;
}

async function redisState(dp: RunningDataplane): Promise<{ state: string; pending: number }> {
  const body = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { accounting: { redis: { state: string }; pendingRecords: number } };
  return { state: body.accounting.redis.state, pending: body.accounting.pendingRecords };
}

t.test('a Redis paused past the command timeout: the replica decides alone meanwhile, and is back once Redis answers', async (t) => {
  const fleet = await startFleet({ replicas: 1, bindings: { steady: { quota: { requests: 1_000_000, period: 'Day' } } } });
  t.teardown(() => fleet.close());
  const dp = fleet.replicas[0]!;
  // Every command waits 1.5 s: leases and the flush time out (500 ms) on a connection that stays open.
  execFileSync('redis-cli', ['-p', String(fleet.redis.port), 'client', 'pause', '1500', 'all']);
  const start = Date.now();
  const answers = await load([dp], keyOf('steady'), 2, () => Date.now() - start >= 3500);
  t.equal(answers.filter((a) => a.status !== 200).length, 0, `no request failed (${answers.length})`);
  await waitFor(async () => (await redisState(dp)).state === 'up' && (await redisState(dp)).pending === 0, 5000, () => `the replica never saw Redis back:\n${dp.logs()}`);
  t.equal(await redisUsageTotal(fleet.redis, today()), answers.length, 'every transaction counted once in Redis');
  t.match(dp.logs(), /Redis reachable/, 'the return is logged');
});

t.test('a burst is the fleet\'s: 30 requests at once over three replicas, burst 30, are all served', async (t) => {
  const fleet = await startFleet({ replicas: 3, bindings: { bursty: { rateLimit: { requestsPerSecond: 5, burst: 30 } } } });
  t.teardown(() => fleet.close());
  // Every replica flushes once a second, and learns the fleet's size from it (no quota to lease here).
  await waitFor(async () => (await Promise.all(fleet.replicas.map(fleetSize))).every((n) => n === 3), 5000, () => 'the replicas never learnt the fleet has three of them');
  const pools = fleet.replicas.map((r) => new Pool(r.url, { connections: 10 }));
  const answers: Answer[] = await Promise.all(Array.from({ length: 30 }, (_, i) => ask(pools[i % 3] as Pool, keyOf('bursty'), i % 3)));
  t.equal(countBy(answers, 200), 30, 'the whole burst served, across the replicas');
  const more = await Promise.all(Array.from({ length: 10 }, () => ask(pools[0] as Pool, keyOf('bursty'), 0)));
  t.ok(countBy(more, 200) <= 5, `and then the rate: ${countBy(more, 200)} of 10 more served at 5/s`);
  t.equal(countBy(more, 200) + countBy(more, 429), 10);
  await Promise.all(pools.map((p) => p.close()));
});

// Redis going away under load: in local mode the bus keeps serving on per-replica limits and
// reconciles its counts when Redis returns; in refuse mode it answers 503 accounting_unavailable
// and reports not ready; a Redis restart from its append-only file loses at most a second.
import t from 'tap';
import { Pool } from 'undici';
import { ask, countBy, keyOf, load, redisUsageTotal, startFleet, today } from '../helpers/fleet.ts';
import { waitFor, type RunningDataplane } from '../helpers/dataplane.ts';

async function metric(dp: RunningDataplane, name: string): Promise<number> {
  const text = await (await fetch(`${dp.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.split(' ').pop());
}

async function readyz(dp: RunningDataplane): Promise<{ status: number; body: { accounting: { redis: { state: string } | null; pendingRecords: number; localDecisions: number } } }> {
  const res = await fetch(`${dp.adminUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as never };
}

const auditTotal = (replicas: RunningDataplane[]): number => replicas.reduce((sum, r) => sum + r.audit().length, 0);

t.test('local mode: Redis stopped under load, zero failed requests, counts reconciled when it returns', async (t) => {
  // With its append-only file, as the chart runs it: what Redis held before the stop is there after.
  const fleet = await startFleet({ replicas: 2, bindings: { busy: { quota: { requests: 1_000_000, period: 'Month' }, rateLimit: { requestsPerSecond: 100000, burst: 100000 } } }, redis: { aof: true } });
  t.teardown(() => fleet.close());
  const start = Date.now();
  let stoppedAt = 0;
  const outage = (async () => {
    await new Promise((r) => setTimeout(r, 1000));
    await fleet.redis.stop();
    stoppedAt = Date.now();
    await waitFor(async () => (await readyz(fleet.replicas[0]!)).body.accounting.redis?.state === 'down', 5000, () => 'the replica never saw Redis go');
    const down = await readyz(fleet.replicas[0]!);
    t.equal(down.status, 200, 'local mode: still ready');
    t.equal(await metric(fleet.replicas[0]!, 'gozargah_redis_up'), 0, 'gozargah_redis_up is 0');
    await new Promise((r) => setTimeout(r, 1500));
    t.ok((await readyz(fleet.replicas[0]!)).body.accounting.pendingRecords > 0, '/readyz shows the counts held while Redis is away');
    await fleet.redis.restart();
  })();
  const answers = await load(fleet.replicas, keyOf('busy'), 2, () => Date.now() - start >= 4500 && stoppedAt > 0);
  await outage;
  t.equal(answers.filter((a) => a.status !== 200).length, 0, `zero failed requests of ${answers.length}`);
  t.ok(answers.some((a) => a.at > stoppedAt && a.at < stoppedAt + 1000), 'traffic was served while Redis was down');
  for (const dp of fleet.replicas) await waitFor(() => dp.audit().length >= countBy(answers.filter((a) => a.replica === fleet.replicas.indexOf(dp)), 200), 5000, () => 'audit incomplete');
  await waitFor(async () => (await redisUsageTotal(fleet.redis, today())) === auditTotal(fleet.replicas), 10_000, () => 'the counts held during the outage never reached Redis');
  t.equal(await redisUsageTotal(fleet.redis, today()), answers.length, 'Redis counts every answered request once');
  t.ok((await metric(fleet.replicas[0]!, 'gozargah_redis_local_decisions_total')) > 0, 'decisions taken alone are counted');
  t.ok((await metric(fleet.replicas[0]!, 'gozargah_redis_unavailable_seconds_total')) > 0, 'the gap is counted in seconds');
  t.equal(await metric(fleet.replicas[0]!, 'gozargah_redis_up'), 1);
  const logs = fleet.replicas[0]!.logs();
  t.equal(logs.split('\n').filter((l) => l.includes('Redis unreachable')).length, 1, 'the outage is logged once');
  t.equal(logs.split('\n').filter((l) => l.includes('Redis reachable')).length, 2, 'and its end once (after the first connection)');
});

t.test('refuse mode: 503 accounting_unavailable and not ready while Redis is away, served again after', async (t) => {
  const fleet = await startFleet({ replicas: 1, bindings: { strict: { quota: { requests: 100, period: 'Day' } }, open: {} }, args: ['--redis-unavailable', 'refuse'] });
  t.teardown(() => fleet.close());
  const dp = fleet.replicas[0]!;
  const pool = new Pool(dp.url);
  t.teardown(() => pool.close());
  t.equal((await ask(pool, keyOf('strict'), 0)).status, 200);
  await fleet.redis.stop();
  await waitFor(async () => (await readyz(dp)).status === 503, 5000, () => 'never reported not ready');
  const refused = await ask(pool, keyOf('strict'), 0);
  t.equal(refused.status, 503);
  t.equal(refused.code, 'accounting_unavailable', 'the code says why');
  t.equal((await ask(pool, keyOf('open'), 0)).code, 'accounting_unavailable', 'a binding without limits is refused too: its call could not be counted for the fleet');
  await fleet.redis.restart();
  await waitFor(async () => (await readyz(dp)).status === 200, 5000, () => 'never ready again');
  t.equal((await ask(pool, keyOf('strict'), 0)).status, 200, 'served again');
});

t.test('Redis killed and restarted from its append-only file loses at most a second of counts', async (t) => {
  const fleet = await startFleet({ replicas: 2, bindings: { steady: {} }, redis: { aof: true } });
  t.teardown(() => fleet.close());
  const start = Date.now();
  let killedAt = 0;
  const crash = (async () => {
    await new Promise((r) => setTimeout(r, 2500));
    killedAt = Date.now();
    await fleet.redis.kill9();
    await new Promise((r) => setTimeout(r, 500));
    await fleet.redis.restart();
  })();
  const answers = await load(fleet.replicas, 'steady-key-0123456789abcdef', 2, () => Date.now() - start >= 5000 && killedAt > 0);
  await crash;
  t.equal(answers.filter((a) => a.status !== 200).length, 0, 'no request failed');
  await waitFor(async () => (await readyz(fleet.replicas[0]!)).body.accounting.pendingRecords === 0 && (await readyz(fleet.replicas[1]!)).body.accounting.pendingRecords === 0, 10_000, () => 'counts never flushed');
  const counted = await redisUsageTotal(fleet.redis, today());
  const lastSecond = answers.filter((a) => a.at >= killedAt - 1000 && a.at < killedAt).length;
  const lost = answers.length - counted;
  t.ok(lost >= 0, `nothing counted twice (${counted} of ${answers.length})`);
  t.ok(lost <= lastSecond, `lost ${lost}: at most the second before the crash (${lastSecond} transactions)`);
});

// Quotas and rate limits the whole fleet agrees on: real dataplane processes sharing one real
// redis-server, real clients spreading load over the replicas.
import t from 'tap';
import { Pool } from 'undici';
import { ask, countBy, keyOf, load, redisUsageTotal, startFleet, today, type Answer } from '../helpers/fleet.ts';
import { waitFor } from '../helpers/dataplane.ts';

const fleet = await startFleet({
  replicas: 3,
  bindings: {
    small: { quota: { requests: 3, period: 'Day' } },
    pair: { quota: { requests: 5, period: 'Month' } },
    large: { quota: { requests: 1500, period: 'Day' } },
    rated: { rateLimit: { requestsPerSecond: 40, burst: 40 } },
    restart: { quota: { requests: 4, period: 'Day' } },
    steady: {},
  },
});
t.teardown(() => fleet.close());

t.test('a quota of 3 a day across 3 replicas serves exactly 3', async (t) => {
  const answers: Answer[] = [];
  const pools = fleet.replicas.map((r) => new Pool(r.url));
  for (let i = 0; i < 12; i++) answers.push(await ask(pools[i % 3] as Pool, keyOf('small'), i % 3));
  await Promise.all(pools.map((p) => p.close()));
  t.equal(countBy(answers, 200), 3, 'three served');
  t.equal(countBy(answers, 429), 9, 'the rest refused');
  t.ok(answers.filter((a) => a.status === 429).every((a) => a.code === 'quota_exhausted'), 'refused as quota_exhausted');
});

t.test('a quota of 5 under concurrent load on two replicas serves exactly 5', async (t) => {
  const answers = await load(fleet.replicas.slice(0, 2), keyOf('pair'), 4, (sent) => sent >= 40);
  t.equal(countBy(answers, 200), 5);
  t.equal(countBy(answers, 429), 35);
});

t.test('a large quota under concurrent load on three replicas is never exceeded, and served within 1%', async (t) => {
  const answers = await load(fleet.replicas, keyOf('large'), 6, (sent) => sent >= 2400);
  const served = countBy(answers, 200);
  t.ok(served <= 1500, `served ${served} of a quota of 1500: never more`);
  t.ok(served >= 1485, `served ${served} of a quota of 1500: at most 1% short`);
  t.equal(served + countBy(answers, 429), answers.length, 'every other answer is quota_exhausted');
});

t.test('a rate limit is global: load on three replicas is served within 10% of the rate plus burst', async (t) => {
  const start = Date.now();
  const answers = await load(fleet.replicas, keyOf('rated'), 3, () => Date.now() - start >= 10_000);
  const seconds = (Date.now() - start) / 1000;
  const served = countBy(answers, 200);
  const expected = 40 * seconds + 40;
  t.ok(Math.abs(served - expected) <= expected * 0.1, `served ${served} in ${seconds.toFixed(1)} s at 40/s burst 40 (expected ${expected.toFixed(0)} ± 10%)`);
  t.ok(answers.length > served * 3, `the load (${answers.length} requests) was well above the rate`);
  const perReplica = [0, 1, 2].map((i) => answers.filter((a) => a.replica === i && a.status === 200).length);
  t.ok(perReplica.every((n) => n > 0), `each replica served a share (${perReplica.join(', ')}): one bucket, not three`);
  t.equal(served + countBy(answers, 429), answers.length, 'the rest were rate_limited');
});

t.test('a restarted replica does not reset a quota', async (t) => {
  const first = new Pool(fleet.replicas[2]!.url);
  const before = [];
  for (let i = 0; i < 4; i++) before.push(await ask(first, keyOf('restart'), 2));
  await first.close();
  t.equal(countBy(before, 200), 4, 'the quota of 4 used');
  t.equal(await fleet.replicas[2]!.stop(), 0);
  const again = await fleet.restart(2);
  const pool = new Pool(again.url);
  const after = await ask(pool, keyOf('restart'), 2);
  await pool.close();
  t.equal(after.status, 429, 'still used up after the restart');
  t.equal(after.code, 'quota_exhausted');
});

t.test('kill -9 of a replica loses no more than its unflushed second of counts', async (t) => {
  // Steady load on every replica; replica 1 is killed mid-way, with no chance to flush.
  const before = await redisUsageTotal(fleet.redis, today());
  const victim = fleet.replicas[1]!;
  const start = Date.now();
  let killedAt = 0;
  const killer = (async () => {
    await new Promise((r) => setTimeout(r, 2500));
    killedAt = Date.now();
    await victim.stop('SIGKILL');
  })();
  const answers = await load(fleet.replicas, keyOf('steady'), 2, () => Date.now() - start >= 4000);
  await killer;
  const answered = answers.filter((a) => a.status !== 0);
  // Everything the surviving replicas counted reaches Redis within a flush.
  await waitFor(async () => (await redisUsageTotal(fleet.redis, today())) - before >= answered.length - lastSecondOfVictim(answered, killedAt), 5000, () => 'counts never reached Redis');
  await new Promise((r) => setTimeout(r, 1500));
  const counted = (await redisUsageTotal(fleet.redis, today())) - before;
  const lost = answered.length - counted;
  const bound = lastSecondOfVictim(answered, killedAt);
  t.ok(lost >= 0, `no transaction counted twice (${counted} counted of ${answered.length} answered)`);
  t.ok(lost <= bound, `lost ${lost}, at most what the killed replica answered in its last second and a flush (${bound})`);
  t.ok(answers.filter((a) => a.replica !== 1).every((a) => a.status === 200), 'the other replicas kept serving');
  await fleet.restart(1);
});

/** What the killed replica answered in the 1.2 s before the kill: one flush interval, and its batch in flight. */
function lastSecondOfVictim(answers: Answer[], killedAt: number): number {
  return answers.filter((a) => a.replica === 1 && a.status === 200 && a.at >= killedAt - 1200).length;
}

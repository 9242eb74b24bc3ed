// The pieces of the fleet's accounting that need no server: Redis URL forms and their errors,
// the dataplane's Redis flags, outcomes, and usage counted on the day each request started.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { outcomeOf, parseUsageField, quotaLabel, quotaPeriodEnd, redisPassword, redisTarget, usageField } from '../../api/accounting/index.ts';
import { parseDataplaneArgs } from '../../dataplane/args.ts';
import type { HashIncrements } from '../../dataplane/fleet-store.ts';
import type { Transaction } from '../../dataplane/metering.ts';
import { UsageTally } from '../../dataplane/usage-tally.ts';

t.test('Redis URL forms', async (t) => {
  const plain = redisTarget('redis://user:s3cret@redis.gozargah-system:6390/2', null);
  t.match(plain.options, { host: 'redis.gozargah-system', port: 6390, db: 2, username: 'user', password: 's3cret' });
  t.equal(plain.display, 'redis://redis.gozargah-system:6390/2', 'the password is never shown');
  t.same(redisTarget('rediss://managed.example:6380', 'pw').options.tls, { servername: 'managed.example' }, 'rediss: TLS with SNI');
  t.equal(redisTarget('rediss://managed.example', 'pw').options.password, 'pw', 'a password from a file or env');
  t.match(redisTarget('unix:///run/redis/redis.sock?db=3', null).options, { path: '/run/redis/redis.sock', db: 3 });
  const sentinel = redisTarget('redis-sentinel://:pw@s1:26379,s2,[::1]:26380/bus-master', null);
  t.same(sentinel.options.sentinels, [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }, { host: '::1', port: 26380 }]);
  t.equal(sentinel.options.name, 'bus-master');
  t.equal(sentinel.display, 'redis-sentinel://s1:26379,s2,[::1]:26380/bus-master');
});

t.test('Redis URL errors name what is wrong, never the password', async (t) => {
  const cases: [string, RegExp][] = [
    ['not a url', /is not a URL/],
    ['http://u:topsecret@host:6379', /has scheme http; use redis, rediss, unix or redis-sentinel/],
    ['redis://host:6379/99', /database .* must be a number from 0 to 15, got 99/],
    ['unix:///', /names no socket/],
    ['redis-sentinel://s1:26379', /names no master/],
  ];
  for (const [url, message] of cases) {
    t.throws(() => redisTarget(url, null), { message }, url);
    try {
      redisTarget(url, null);
    } catch (err) {
      t.notMatch((err as Error).message, /topsecret/, 'no password in the message');
    }
  }
});

t.test('the password comes from a file (first line) or GOZARGAH_REDIS_PASSWORD', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-pw-'));
  writeFileSync(join(dir, 'pw'), 'from-file\n');
  t.equal(redisPassword(join(dir, 'pw'), {}), 'from-file');
  t.equal(redisPassword(null, { GOZARGAH_REDIS_PASSWORD: 'from-env' }), 'from-env');
  t.equal(redisPassword(null, {}), null);
  t.throws(() => redisPassword(join(dir, 'missing'), {}), { message: /the Redis password file .*missing cannot be read: ENOENT/ });
  writeFileSync(join(dir, 'empty'), '');
  t.throws(() => redisPassword(join(dir, 'empty'), {}), { message: /is empty/ });
});

t.test('dataplane flags: --redis, GOZARGAH_REDIS_URL, --redis-unavailable, --state-dir', async (t) => {
  const none = parseDataplaneArgs(['--manifests', 'd'], {});
  t.same([none.redis, none.redisUnavailable, none.stateDir], [null, 'local', null], 'no Redis: the replica counts alone');
  const fromEnv = parseDataplaneArgs(['--manifests', 'd'], { GOZARGAH_REDIS_URL: 'redis://r:6379', GOZARGAH_REDIS_PASSWORD: 'pw' });
  t.equal(fromEnv.redis?.display, 'redis://r:6379');
  t.equal(fromEnv.redis?.options.password, 'pw');
  t.equal(parseDataplaneArgs(['--manifests', 'd', '--redis', 'redis://r', '--redis-unavailable', 'refuse'], {}).redisUnavailable, 'refuse');
  t.equal(parseDataplaneArgs(['--namespace', 'ns', '--cache-dir', '/c'], {}).stateDir, '/c', 'the cache directory keeps the state when no --state-dir is given');
  t.throws(() => parseDataplaneArgs(['--manifests', 'd', '--redis-unavailable', 'drop'], {}), { message: /--redis-unavailable must be local or refuse, got drop/ });
  t.throws(() => parseDataplaneArgs(['--manifests', 'd', '--redis', 'http://x'], {}), { message: /^--redis: the Redis URL http:\/\/x\/ has scheme http/ });
  t.throws(() => parseDataplaneArgs(['--manifests', 'd', '--redis-password-file', '/p'], {}), { message: /--redis-password-file goes with --redis URL/ });
});

t.test('outcomes: served, agency error, refused', async (t) => {
  t.equal(outcomeOf('ok'), 'served');
  for (const code of ['upstream_error', 'upstream_timeout', 'upstream_unavailable', 'upstream_broken', 'response_invalid', 'response_too_large']) t.equal(outcomeOf(code), 'agency_error', code);
  for (const code of ['quota_exhausted', 'rate_limited', 'credentials_invalid', 'provider_unavailable', 'client_gone', 'accounting_unavailable']) t.equal(outcomeOf(code), 'refused', code);
});

t.test('quota periods are UTC days and months', async (t) => {
  const ms = Date.parse('2026-11-30T23:59:59.999Z');
  t.equal(quotaLabel('Day', ms), '2026-11-30');
  t.equal(quotaLabel('Month', ms), '2026-11');
  t.equal(quotaPeriodEnd('Day', ms), Date.parse('2026-12-01T00:00:00Z'));
  t.equal(quotaPeriodEnd('Month', Date.parse('2026-12-15T10:00:00+03:30')), Date.parse('2027-01-01T00:00:00Z'));
});

const tx = (start: string, code = 'ok', client = 'c'): Transaction => ({
  requestId: 'r', client, binding: `clients/${client}`, provider: 'gov/agency', route: 'gov/person', method: 'GET', status: 200, code,
  start: Date.parse(start), durationMs: 1, upstreamMs: 1, requestBytes: 0, responseBytes: 0, params: null, fields: null, requestHash: null, responseHash: null,
});

t.test('usage counts on the UTC day and month each request started, and starts again from zero', async (t) => {
  const tally = new UsageTally();
  tally.add(tx('2026-11-30T23:59:59.900Z'));
  tally.add(tx('2026-12-01T00:00:00.100Z'));
  tally.add(tx('2026-11-30T23:59:59.950Z', 'quota_exhausted')); // recorded after midnight, started before
  tally.add(tx('2026-12-01T00:00:01.000Z'));
  t.equal(tally.pending, 4);
  const out: HashIncrements[] = [];
  t.equal(tally.collect('public', out), 4);
  const byKey = Object.fromEntries(out.map((h) => [h.key, Object.fromEntries(h.fields)]));
  t.same(byKey, {
    'gozargah:{public}:usage:2026-11-30': { [usageField('gov/agency', 'gov/person', 'c', 'ok')]: 1, [usageField('gov/agency', 'gov/person', 'c', 'quota_exhausted')]: 1 },
    'gozargah:{public}:usage:2026-11': { [usageField('gov/agency', 'gov/person', 'c', 'ok')]: 1, [usageField('gov/agency', 'gov/person', 'c', 'quota_exhausted')]: 1 },
    'gozargah:{public}:usage:2026-12-01': { [usageField('gov/agency', 'gov/person', 'c', 'ok')]: 2 },
    'gozargah:{public}:usage:2026-12': { [usageField('gov/agency', 'gov/person', 'c', 'ok')]: 2 },
  });
  t.equal(tally.pending, 0);
  const again: HashIncrements[] = [];
  t.equal(tally.collect('public', again), 0, 'nothing twice');
  t.same(again, []);
  t.same(parseUsageField(usageField('', '', '', 'route_not_found')), { provider: '', route: '', client: '', code: 'route_not_found' }, 'a refusal before the route was known');
});

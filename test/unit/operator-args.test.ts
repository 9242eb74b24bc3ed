// gozargah-operator's flags: defaults from the pod's downward API, and refusals that name the flag.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgsError, parseOperatorArgs } from '../../operator/args.ts';

t.test('defaults come from the pod: POD_NAMESPACE and POD_NAME', async (t2) => {
  const a = parseOperatorArgs([], { POD_NAMESPACE: 'bus-system', POD_NAME: 'gozargah-operator-5d8c-abcde' });
  t2.same([a.namespace, a.identity, a.kubeconfig, a.leaseName, a.leaseSeconds, a.debounceMs, a.rewatchSeconds], ['bus-system', 'gozargah-operator-5d8c-abcde', null, 'gozargah-operator', 15, 50, 300]);
  t2.same(a.adminListen, { host: '0.0.0.0', port: 9090 });
  t2.equal(parseOperatorArgs([], {}).namespace, 'gozargah-system', 'no POD_NAMESPACE: gozargah-system');
});

t.test('flags win over the environment', async (t2) => {
  const a = parseOperatorArgs(['--namespace', 'x', '--identity', 'me', '--kubeconfig', '/k', '--lease-seconds', '3', '--admin-listen', '127.0.0.1:0'], { POD_NAMESPACE: 'y' });
  t2.same([a.namespace, a.identity, a.kubeconfig, a.leaseSeconds, a.adminListen.port], ['x', 'me', '/k', 3, 0]);
});

t.test('--redis: from the flag or GOZARGAH_REDIS_URL, the password from a file or the environment, never shown', async (t2) => {
  const none = parseOperatorArgs([], {});
  t2.same([none.redis, none.usageSeconds], [null, 15], 'no Redis: usage is not reported; every 15 s otherwise');
  const a = parseOperatorArgs(['--redis', 'redis://:url-secret@redis.gozargah-system:6379/2', '--usage-seconds', '30'], {});
  t2.match(a.redis?.options, { host: 'redis.gozargah-system', port: 6379, db: 2, password: 'url-secret' });
  t2.equal(a.redis?.display, 'redis://redis.gozargah-system:6379/2', 'what logs print has no password');
  t2.equal(a.usageSeconds, 30);
  const b = parseOperatorArgs([], { GOZARGAH_REDIS_URL: 'rediss://r:6380', GOZARGAH_REDIS_PASSWORD: 'env-secret' });
  t2.match(b.redis?.options, { host: 'r', port: 6380, password: 'env-secret' });
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-args-'));
  t2.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'password'), 'file-secret\n');
  const c = parseOperatorArgs(['--redis', 'redis://r', '--redis-password-file', join(dir, 'password')], { GOZARGAH_REDIS_PASSWORD: 'env-secret' });
  t2.equal(c.redis?.options.password, 'file-secret', 'the file wins over the environment');
});

t.test('--bus: the buses deployed, repeatable, each once', async (t2) => {
  t2.same(parseOperatorArgs([], {}).buses, [], 'none by default: only buses with objects are published');
  t2.same(parseOperatorArgs(['--bus', 'internal', '--bus', 'public', '--bus', 'internal'], {}).buses, ['internal', 'public']);
});

const refused: [string[], RegExp][] = [
  [['--bus', 'Public Bus'], /--bus must be a DNS label, got Public Bus/],
  [['--redis', 'not a url'], /^--redis: the Redis URL is not a URL/],
  [['--redis', 'http://r:6379'], /^--redis: the Redis URL http:\/\/r:6379\/? has scheme http/],
  [['--redis', 'redis://:pw-in-url@r/99'], /^--redis: the Redis database in redis:\/\/r\/99 must be a number from 0 to 15, got 99$/],
  [['--redis', 'redis://r', '--redis-password-file', '/no/such/file'], /^--redis: the Redis password file \/no\/such\/file cannot be read: ENOENT/],
  [['--redis-password-file', '/run/secrets/redis'], /--redis-password-file goes with --redis URL/],
  [['--usage-seconds', '0'], /--usage-seconds must be a positive integer, got 0/],
  [['--usage-seconds', '31'], /--usage-seconds must be at most 30 .*got 31/],
  [['--namespace', 'Bad_NS'], /--namespace must be a DNS label, got Bad_NS/],
  [['--lease-seconds', '0'], /--lease-seconds must be a positive integer, got 0/],
  [['--lease-seconds', 'soon'], /--lease-seconds must be a positive integer/],
  [['--debounce-ms=-1'], /--debounce-ms must be a whole number of milliseconds/],
  [['--admin-listen', '9090'], /--admin-listen must be HOST:PORT, got 9090/],
  [['--identity', ''], /--identity must not be empty/],
  [['--unknown'], /Unknown option '--unknown'/],
];
for (const [argv, message] of refused) {
  t.test(`refuses ${argv.join(' ')}`, async (t2) => {
    let caught: unknown = null;
    try {
      parseOperatorArgs(argv, {});
    } catch (err) {
      caught = err;
    }
    t2.ok(caught instanceof ArgsError, 'an ArgsError: main prints it with the usage');
    t2.match((caught as Error).message, message);
  });
}

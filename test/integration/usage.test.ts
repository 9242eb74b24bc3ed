// status.usage from the fleet's counts, on a real control plane and a real redis-server: the
// operator (its least-privileged ServiceAccount, --redis, a pass every second) reads what the
// dataplane charged to a binding's quota and writes it into the status and the QUOTA column,
// records a Warning Event at 80% and at 100% once each, writes nothing while nothing changes,
// keeps the statuses (and stays ready) while Redis is down, and goes on when it is back. A
// restarted operator says nothing again; and a status compiled from an older copy does not put
// back an older count.
import t from 'tap';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { quotaKey, quotaLabel } from '../../api/accounting/index.ts';
import { compile, type ObjectStatus } from '../../compiler/index.ts';
import { eventRecorder } from '../../operator/events.ts';
import { writeStatus, type Stored } from '../../operator/status.ts';
import { keepCountedUsage } from '../../operator/usage.ts';
import { waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';
import { startControlPlane, startOperator, type RunningOperator } from '../helpers/operator.ts';
import { startRedis } from '../helpers/redis.ts';

t.setTimeout(180_000);
const USAGE_SECONDS = 1;

const redis = await startRedis({ aof: true }); // restarted below: the counts must survive it, as the chart's Redis keeps them
t.teardown(() => redis.close());
const { cluster, credentials } = await startControlPlane(t);
const kubectl = cluster.run;
await kubectl(['create', 'namespace', 'gov']);
await kubectl(['create', 'namespace', 'clients']);
const trial = binding('trial', 'trial-client', [{ namespace: 'gov', name: 'echo' }], { bus: 'public', quota: { requests: 10, period: 'Day' } });
const unlimited = binding('unlimited', 'unlimited-client', [{ namespace: 'gov', name: 'echo' }], { bus: 'public' });
await kubectl(
  ['apply', '-f', '-'],
  [provider('agency', 'http://127.0.0.1:9'), route('echo', 'agency', '/usage/v1/echo/{id}', { buses: ['public'] }), keySecret('trial-keys', { k: 'demo-only-usage-key-Hy6tRe4wQz' }), keySecret('unlimited-keys', { k: 'demo-only-usage-key-Pl0oKi9uJy' }), trial, unlimited]
    .map((o) => stringify(o))
    .join('---\n'),
);

const start = (identity: string): Promise<RunningOperator> => startOperator(credentials.operator, identity, ['--redis', redis.url, '--usage-seconds', String(USAGE_SECONDS)]);
let operator = await start('operator-0');
t.teardown(() => operator.stop());

const counts = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
// Redis is stopped on purpose below; its reconnection errors are expected, not worth a stack on stderr.
counts.on('error', () => undefined);
await counts.connect();
t.teardown(() => counts.disconnect());
/** What a dataplane replica does when it charges requests to the binding's quota. */
const charge = (n: number): Promise<number> => counts.hincrby(quotaKey('public', quotaLabel('Day', Date.now()), 'clients/trial'), 'used', n);

interface Usage {
  period: string;
  requests: number;
  limit: number;
  quota: string;
  updated?: string;
}
interface Binding {
  metadata: { name: string; namespace: string; resourceVersion: string; generation: number; uid: string };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string }[]; usage?: Usage };
}
const get = async (name = 'trial'): Promise<Binding> => JSON.parse(await kubectl(['get', 'clientbinding', '-n', 'clients', name, '-o', 'json'])) as Binding;
const usageIs = async (requests: number, limit = 10): Promise<Binding> => {
  let b: Binding | undefined;
  await waitFor(
    async () => (b = await get()).status?.usage?.requests === requests && b.status?.usage?.limit === limit,
    20_000,
    () => `status.usage never reached ${requests}/${limit}: ${JSON.stringify(b?.status?.usage)}\n${operator.logs().slice(-3000)}`,
  );
  return b as Binding;
};
/** The QUOTA column of `kubectl get clientbindings`, read by its header. */
const quotaColumn = async (name = 'trial'): Promise<string | undefined> => {
  const [header, ...rows] = (await kubectl(['get', 'clientbindings', '-n', 'clients'])).trim().split('\n');
  // By position: kubectl aligns each cell under its header, and an empty cell has no text.
  const at = header?.indexOf(' QUOTA ') as number;
  return rows.find((r) => r.startsWith(`${name} `))?.slice(at + 1).split(/\s+/)[0];
};
interface EventItem {
  type: string;
  reason: string;
  message: string;
  involvedObject: { uid: string };
}
const events = async (reason: string): Promise<EventItem[]> =>
  (JSON.parse(await kubectl(['get', 'events', '-n', 'clients', '--field-selector', `involvedObject.name=trial,reason=${reason}`, '-o', 'json'])) as { items: EventItem[] }).items;
const metrics = async (): Promise<string> => (await fetch(`${operator.adminUrl}/metrics`)).text();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const RATIO = (value: string): RegExp => new RegExp(`^gozargah_quota_used_ratio\\{binding="clients/trial",client="trial-client"[^}]*\\} ${value}$`, 'm');

t.test('the compiler starts the usage line at 0/10; a binding without a quota has none', async (t2) => {
  const b = await usageIs(0);
  t2.match(b.status?.usage, { period: quotaLabel('Day', Date.now()), requests: 0, limit: 10, quota: '0/10' });
  t2.equal((await get('unlimited')).status?.usage, undefined);
  t2.equal(await quotaColumn(), '0/10');
});

t.test('what the fleet charged shows in status.usage and the QUOTA column', async (t2) => {
  const before = Date.now();
  await charge(7);
  const b = await usageIs(7);
  const usage = b.status?.usage as Usage;
  t2.match(usage, { period: quotaLabel('Day', Date.now()), requests: 7, limit: 10, quota: '7/10' });
  t2.match(usage.updated, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'updated: RFC 3339, to the second');
  t2.ok(Date.parse(usage.updated as string) >= Math.floor(before / 1000) * 1000, 'updated: when the new figure was read');
  t2.equal(await quotaColumn(), '7/10', 'kubectl get clientbindings: QUOTA 7/10');
  t2.same([...(await events('QuotaNearlyUsed')), ...(await events('QuotaExhausted'))], [], 'no Event below 80%');
  await waitFor(async () => RATIO('0.7').test(await metrics()), 10_000, () => 'gozargah_quota_used_ratio never showed 0.7');
  t2.match(await metrics(), /^gozargah_redis_up\{[^}]*\} 1$/m, 'gozargah_redis_up 1');
});

t.test('crossing 80% and 100%: a Warning Event each, once', async (t2) => {
  await charge(1);
  await usageIs(8);
  await waitFor(async () => (await events('QuotaNearlyUsed')).length > 0, 10_000, () => 'no QuotaNearlyUsed Event');
  await charge(1);
  await usageIs(9);
  await charge(1);
  const b = await usageIs(10);
  t2.equal(await quotaColumn(), '10/10');
  await waitFor(async () => (await events('QuotaExhausted')).length > 0, 10_000, () => 'no QuotaExhausted Event');
  await charge(2); // past the limit (a replica's last lease): no third Event
  await usageIs(12);
  await sleep(2500 * USAGE_SECONDS);
  const nearly = await events('QuotaNearlyUsed');
  const exhausted = await events('QuotaExhausted');
  t2.equal(nearly.length, 1, 'QuotaNearlyUsed once');
  t2.equal(exhausted.length, 1, 'QuotaExhausted once');
  const period = quotaLabel('Day', Date.now());
  t2.match(nearly[0], { type: 'Warning', involvedObject: { uid: b.metadata.uid } });
  t2.match(nearly[0]?.message, new RegExp(`^ClientBinding clients/trial has used 8/10 requests \\(80%\\) of its quota for ${period}; .*429 quota_exhausted until the period renews at \\d{4}-\\d\\d-\\d\\d 00:00 UTC\\.$`));
  t2.match(exhausted[0], { type: 'Warning', message: new RegExp(`^ClientBinding clients/trial has used 10/10 requests of its quota for ${period}: its calls are refused with 429 quota_exhausted until the period renews at `) });
  const described = await kubectl(['describe', 'clientbinding', '-n', 'clients', 'trial']);
  t2.match(described, /Warning\s+QuotaExhausted\s/, 'kubectl describe shows it');
});

t.test('nothing changed: no status write across several passes', async (t2) => {
  const before = (await get()).metadata.resourceVersion;
  const unlimitedBefore = (await get('unlimited')).metadata.resourceVersion;
  await sleep(4000 * USAGE_SECONDS);
  t2.equal((await get()).metadata.resourceVersion, before, 'the binding with a quota: same resourceVersion');
  t2.equal((await get('unlimited')).metadata.resourceVersion, unlimitedBefore, 'the one without: same resourceVersion');
  t2.match(await metrics(), RATIO('1.2'));
});

t.test('Redis down: the statuses stay, the operator stays ready and goes on reconciling; back: usage goes on', async (t2) => {
  await redis.stop();
  await waitFor(async () => /^gozargah_redis_up\{[^}]*\} 0$/m.test(await metrics()), 10_000, () => `gozargah_redis_up never 0:\n${operator.logs().slice(-2000)}`);
  await sleep(3000 * USAGE_SECONDS); // several failing passes
  t2.match((await get()).status?.usage, { requests: 12, limit: 10, quota: '12/10' }, 'the last figure is kept, not zeroed');
  const state = await fetch(`${operator.adminUrl}/readyz`);
  t2.equal(state.status, 200, '/readyz does not fail for Redis');
  const body = (await state.json()) as { ready: boolean; usage: { redis: string; state: string; lastError: string | null } };
  t2.match(body, { ready: true, usage: { redis: redis.url.replace(/\/?$/, ''), state: 'down' } }, "/readyz's detail says Redis is down");
  t2.type(body.usage.lastError, 'string');
  t2.match(await metrics(), RATIO('1.2'), 'the last ratio is kept');
  // The operator's main job goes on: a change to the binding is compiled and written, usage kept.
  await kubectl(['label', 'clientbinding', '-n', 'clients', 'trial', 'tier=trial']);
  await kubectl(['patch', 'clientbinding', '-n', 'clients', 'trial', '--type=merge', '-p', '{"spec":{"quota":{"requests":20,"period":"Day"}}}']);
  let b = await usageIs(12, 20);
  t2.equal(b.status?.observedGeneration, b.metadata.generation, 'the new generation was reconciled');
  t2.equal(b.status?.usage?.quota, '12/20');
  const logs = operator.logs();
  t2.equal(logs.match(/Redis unreachable: status.usage is kept/g)?.length, 1, 'logged once, not once per pass');
  t2.notMatch(logs, /redis:\/\/[^"]*@/, 'no password in the logs');

  await redis.restart();
  await waitFor(async () => /^gozargah_redis_up\{[^}]*\} 1$/m.test(await metrics()), 10_000, () => `gozargah_redis_up never 1 again:\n${operator.logs().slice(-2000)}`);
  t2.equal(operator.logs().match(/Redis reachable again/g)?.length, 1, 'the return logged once');
  await charge(4);
  b = await usageIs(16, 20);
  t2.equal(await quotaColumn(), '16/20');
  await waitFor(async () => (await events('QuotaNearlyUsed')).length === 2, 10_000, () => 'the lowered share (16/20 after 12/20) crossed 80% again');
  t2.equal((await events('QuotaExhausted')).length, 1);
});

t.test('a restarted operator says nothing again', async (t2) => {
  await operator.stop();
  operator = await start('operator-1');
  await waitFor(async () => (await operator.state()).leader, 20_000, () => `operator-1 never led:\n${operator.logs()}`);
  await waitFor(async () => RATIO('0.8').test(await metrics()), 10_000, () => `no pass of the usage loop:\n${operator.logs()}`);
  const before = (await get()).metadata.resourceVersion;
  await sleep(2500 * USAGE_SECONDS);
  t2.equal((await get()).metadata.resourceVersion, before, 'the stored usage is the fleet\'s: no write');
  t2.equal((await events('QuotaNearlyUsed')).length, 2);
  t2.equal((await events('QuotaExhausted')).length, 1);
});

t.test('a status compiled from an older copy does not put back an older count', async (t2) => {
  await operator.stop(); // this test plays both writers itself
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const api = kc.makeApiClient(CustomObjectsApi);
  const recorder = eventRecorder(kc.makeApiClient(CoreV1Api), { component: 'gozargah-operator' });
  await kubectl(['patch', 'clientbinding', '-n', 'clients', 'trial', '--type=merge', '-p', '{"spec":{"rateLimit":{"requestsPerSecond":5}}}']);
  // The reconcile's view: everything as it was when it listed.
  const list = async (what: string): Promise<unknown[]> => (JSON.parse(await kubectl(['get', what, '-A', '-o', 'json'])) as { items: unknown[] }).items;
  const objects = await list('serviceproviders,inquiryroutes,clientbindings,secrets,namespaces');
  const stale = (await get()) as unknown as Stored;
  const entry = compile({ objects, now: new Date().toISOString(), trustSchema: true }).statuses.find((e) => e.kind === 'ClientBinding' && e.metadata.name === 'trial');
  t2.match(entry?.status['usage'], { requests: 16, limit: 20 });
  // Meanwhile the usage loop writes 17.
  const counted = { ...(stale.status?.usage as Usage), requests: 17, quota: '17/20' };
  t2.equal(await writeStatus(api, { apiVersion: 'gozargah.io/v1alpha1', kind: 'ClientBinding', metadata: { namespace: 'clients', name: 'trial' }, status: { ...(stale.status as ObjectStatus), usage: counted } }, recorder, stale), 'written');
  // The reconcile writes from the stale copy: 409, read again, the count kept.
  if (entry === undefined) throw new Error('no status for clients/trial');
  t2.equal(await writeStatus(api, entry, recorder, stale, (current) => keepCountedUsage(current, entry.status)), 'written');
  const b = await get();
  t2.equal(b.status?.observedGeneration, b.metadata.generation, "the reconcile's status was written");
  t2.match(b.status?.usage, { requests: 17, limit: 20, quota: '17/20' }, 'with the newer count');
  await recorder.flush();
});

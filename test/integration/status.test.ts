// The one status writer against a real kube-apiserver: the compiler's statuses for examples/
// land on every object (printer columns fill in), a second run writes nothing, a change that
// breaks a binding shows as a condition at its new generation and as a Warning Event in
// `kubectl describe`, and an object deleted meanwhile is 'gone', not an error.
import t from 'tap';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { compile } from '../../compiler/index.ts';
import type { StatusEntry } from '../../compiler/types.ts';
import { eventRecorder } from '../../operator/events.ts';
import { writeStatus, type WriteResult } from '../../operator/status.ts';
import { installCrds, startCluster } from '../helpers/cluster.ts';
import { ROOT } from '../helpers/dataplane.ts';

const NOW = '2026-11-23T10:00:00Z';
const LATER = '2026-11-23T10:05:00Z';
const KINDS = 'serviceproviders,inquiryroutes,clientbindings';

const cluster = await startCluster();
t.teardown(() => cluster.stop());
const kubectl = cluster.run;
await installCrds(cluster);
await kubectl(['apply', '-f', join(ROOT, 'examples')]);

const kc = new KubeConfig();
kc.loadFromFile(cluster.kubeconfig);
const api = kc.makeApiClient(CustomObjectsApi);
const recorder = eventRecorder(kc.makeApiClient(CoreV1Api), { component: 'gozargah-operator', onError: (err) => t.fail(`event not recorded: ${String(err)}`) });

interface Item {
  kind: string;
  metadata: { namespace?: string; name: string; generation?: number; resourceVersion: string };
  status?: { observedGeneration?: number; conditions?: { type: string; status: string; reason: string; observedGeneration?: number }[] };
}
const list = async (what: string): Promise<Item[]> => (JSON.parse(await kubectl(['get', what, '-A', '-o', 'json'])) as { items: Item[] }).items;

/** Reads everything from the cluster, as the operator would, and compiles it. */
async function compileCluster(now: string): Promise<StatusEntry[]> {
  const objects = await list(`${KINDS},secrets,namespaces`);
  return compile({ objects, now, trustSchema: true }).statuses;
}
async function writeAll(entries: StatusEntry[]): Promise<Map<string, WriteResult>> {
  const results = new Map<string, WriteResult>();
  for (const e of entries) results.set(`${e.kind}/${e.metadata.namespace}/${e.metadata.name}`, await writeStatus(api, e, recorder));
  await recorder.flush(); // Events are sent in the background
  return results;
}

let first: StatusEntry[] = [];

t.test('every object gets its status, and the printer columns fill in', async (t2) => {
  first = await compileCluster(NOW);
  const objects = await list(KINDS);
  t2.equal(first.length, objects.length, 'one status per object');
  t2.same(new Set((await writeAll(first)).values()), new Set(['written']));
  for (const o of await list(KINDS)) t2.ok((o.status?.conditions?.length ?? 0) > 0, `${o.kind} ${o.metadata.name} has conditions`);
  const routes = await kubectl(['get', 'inquiryroutes', '-A']);
  t2.match(routes, /person-by-national-id\s+civil-registry\s+\S+\s+[a-z,-]+\s+\d+\s+False/, 'BUSES and CLIENTS shown');
  t2.notMatch(routes, /<none>/);
  t2.match(await kubectl(['get', 'cb', '-A']), /snapp-driver-onboarding\s+snapp\s+2\/2\s/, 'ROUTES granted/requested');
});

t.test('compiling and writing again writes nothing', async (t2) => {
  const before = new Map((await list(KINDS)).map((o) => [o.metadata.name, o.metadata.resourceVersion]));
  // A later clock too: lastTransitionTime is kept when nothing flips, so nothing differs.
  t2.same(new Set((await writeAll(await compileCluster(LATER))).values()), new Set(['unchanged']));
  const after = new Map((await list(KINDS)).map((o) => [o.metadata.name, o.metadata.resourceVersion]));
  t2.same(after, before, 'no resourceVersion moved');
});

const brokenBinding = `apiVersion: gozargah.io/v1alpha1
kind: ClientBinding
metadata: { name: snapp-driver-onboarding, namespace: snapp }
spec:
  client: { id: snapp, displayName: Snapp (ride-hailing) }
  bus: public
  credentials: { apiKeys: { secretRef: { name: snapp-api-keys } } }
  routes:
    - { namespace: civil-registry, name: person-by-national-id }
    - { namespace: national-post, name: address-by-postal-code }
    - { namespace: national-post, name: no-such-route }
  rateLimit: { requestsPerSecond: 50, burst: 100 }
  quota: { requests: 1000000, period: Month }
  validity: { notBefore: "2026-01-01T00:00:00Z", notAfter: "2027-12-31T23:59:59Z" }
`;

t.test('a binding asking for a missing route: RouteNotFound at its new generation, and a Warning Event', async (t2) => {
  await kubectl(['apply', '-f', '-'], brokenBinding);
  const results = await writeAll(await compileCluster(LATER));
  t2.equal(results.get('ClientBinding/snapp/snapp-driver-onboarding'), 'written');
  const cb = JSON.parse(await kubectl(['get', 'cb', '-n', 'snapp', 'snapp-driver-onboarding', '-o', 'json'])) as Item;
  t2.equal(cb.metadata.generation, 2);
  const resolved = cb.status?.conditions?.find((c) => c.type === 'ResolvedRefs');
  t2.match(resolved, { status: 'False', reason: 'RouteNotFound', observedGeneration: 2 });
  t2.equal(cb.status?.observedGeneration, 2);
  const described = await kubectl(['describe', 'clientbinding', '-n', 'snapp', 'snapp-driver-onboarding']);
  t2.match(described, /Warning\s+RouteNotFound\s+.*Requested routes not found/);
  t2.match(described, /Normal\s+Accepted\s/, 'the first transitions are there too');
});

t.test('writing the status of an object deleted meanwhile returns gone', async (t2) => {
  const entry = first.find((e) => e.kind === 'InquiryRoute' && e.metadata.name === 'person-by-national-id') as StatusEntry;
  await kubectl(['delete', 'inquiryroute', '-n', entry.metadata.namespace, entry.metadata.name]);
  t2.equal(await writeStatus(api, entry, recorder), 'gone');
});

// Sidecar mode on a real dataplane process: --provider serves one provider's routes of the bus,
// --upstream-override sends them to the agency on loopback (not to the provider's URL, which
// is a decoy here), with the provider's path prefix. The other routes are absent; a --provider
// the bus lacks is a warning in /readyz, not a crash; /config says what is served.
import t from 'tap';
import { startAgency } from '../helpers/agency.ts';
import { auditCount, startDataplane } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const BOTH = 'demo-only-sidecar-dp-both-0123';
const POST_ONLY = 'demo-only-sidecar-dp-post-0123';
const agency = await startAgency();
const decoy = await startAgency();
const post = await startAgency();
t.teardown(() => Promise.all([agency.close(), decoy.close(), post.close()]));

const dir = manifestDir([
  provider('registry', `${decoy.url}/inquiry/v2`),
  provider('post', post.url),
  route('person', 'registry', '/registry/v1/persons/{id}', { upstreamPath: '/persons/{id}' }),
  route('address', 'post', '/post/v1/addresses/{code}', { upstreamPath: '/addresses/{code}' }),
  keySecret('both-keys', { k: BOTH }),
  keySecret('post-only-keys', { k: POST_ONLY }),
  binding('both', 'both', [{ namespace: 'gov', name: 'person' }, { namespace: 'gov', name: 'address' }]),
  binding('post-only', 'post-only', [{ namespace: 'gov', name: 'address' }]),
]);
const dp = await startDataplane(['--manifests', dir, '--provider', 'gov/registry', '--provider', 'gov/registri', '--upstream-override', agency.url]);
t.teardown(() => dp.stop());

const call = async (path: string, key: string): Promise<{ status: number; code: string | null; body: Record<string, unknown> }> => {
  const res = await fetch(`${dp.url}${path}`, { headers: { 'x-api-key': key } });
  return { status: res.status, code: res.headers.get('x-gozargah-error'), body: (await res.json()) as Record<string, unknown> };
};

t.test("the provider's route goes to the override origin, with the provider's path prefix", async (t2) => {
  const got = await call('/registry/v1/persons/7', BOTH);
  t2.same([got.status, got.code, got.body['url']], [200, null, '/inquiry/v2/persons/7'], 'the agency on loopback answered');
  t2.same(agency.seen.map((r) => r.url), ['/inquiry/v2/persons/7']);
  t2.equal(decoy.seen.length, 0, "the provider's own URL was never called");
  const records = await auditCount(dp, 1);
  t2.match(records[0], { provider: 'gov/registry', route: 'gov/person', status: 200, binding: 'clients/both' }, 'the audit record names the provider');
});

t.test("another provider's route is absent: 404 route_not_found, and its agency never called", async (t2) => {
  const got = await call('/post/v1/addresses/1', BOTH);
  t2.same([got.status, got.code, got.body['code']], [404, 'route_not_found', 'route_not_found']);
  t2.equal(post.seen.length, 0);
  t2.equal(agency.seen.length, 1, 'nothing more reached the agency either');
});

t.test('a binding granted only the other route: 403 route_not_granted, as on the shared replicas', async (t2) => {
  const got = await call('/registry/v1/persons/8', POST_ONLY);
  t2.same([got.status, got.code], [403, 'route_not_granted']);
});

t.test('/readyz: ready, with a warning naming the --provider the bus lacks; /config: the part served', async (t2) => {
  const readyz = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { ready: boolean; warnings: string[] };
  t2.equal(readyz.ready, true);
  t2.match(readyz.warnings, [/^--provider gov\/registri is not in bus default's snapshot/]);
  t2.equal(dp.logs().split('--provider gov/registri is not').length - 1, 1, 'logged once');
  const config = (await (await fetch(`${dp.adminUrl}/config`)).json()) as Record<string, unknown>;
  t2.same(config['sidecar'], { providers: ['gov/registry', 'gov/registri'], upstreamOverride: agency.url, missing: ['gov/registri'] });
  t2.same(config['providers'], [{ id: 'gov/registry', url: `${agency.url}/inquiry/v2`, tls: false, maxConcurrent: null, maxRequestsPerSecond: null }]);
  t2.same((config['routes'] as { id: string }[]).map((r) => r.id), ['gov/person']);
  t2.same((config['bindings'] as { id: string; routes: string[] }[]).map((b) => [b.id, b.routes]), [['clients/both', ['gov/person']], ['clients/post-only', []]]);
});

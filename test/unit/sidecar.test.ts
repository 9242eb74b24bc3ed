// Sidecar mode's cut of a bus snapshot (dataplane/sidecar.ts) and its flags, on a snapshot the
// real compiler produced: the providers named, their routes, every binding with its grants cut.
import t from 'tap';
import { compile } from '../../compiler/index.ts';
import { ArgsError, parseDataplaneArgs } from '../../dataplane/args.ts';
import { missingWarnings, overrideOrigin, sidecarSnapshot } from '../../dataplane/sidecar.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';

const NOW = '2026-11-23T10:00:00Z';
const objects = [
  provider('registry', 'https://registry.example/inquiry/v2', { upstream: { url: 'https://registry.example/inquiry/v2', tls: { serverName: 'registry.example' } } }),
  provider('post', 'http://post.example:8080'),
  route('person', 'registry', '/registry/v1/persons/{id}', { buses: ['public'] }),
  route('address', 'post', '/post/v1/addresses/{code}', { buses: ['public'] }),
  keySecret('both-keys', { k: 'demo-only-sidecar-key-both-0123' }),
  keySecret('post-only-keys', { k: 'demo-only-sidecar-key-post-0123' }),
  binding('both', 'both', [{ namespace: 'gov', name: 'person' }, { namespace: 'gov', name: 'address' }], { bus: 'public' }),
  binding('post-only', 'post-only', [{ namespace: 'gov', name: 'address' }], { bus: 'public' }),
];
const compiled = compile({ objects, now: NOW }).snapshots['public'];
if (compiled === undefined) throw new Error('the compiler produced no public snapshot');
const bus = compiled;

t.test('only the named provider, its routes, and the grants to them; the hash stays the bus snapshot', async (t2) => {
  t2.same(bus.providers.map((p) => p.id), ['gov/post', 'gov/registry'], 'the fixture has two providers');
  const { snapshot, missing } = sidecarSnapshot(bus, { providers: ['gov/registry'], upstreamOverride: null });
  t2.same(missing, []);
  t2.same(snapshot.providers.map((p) => [p.id, p.url, p.tls?.serverName]), [['gov/registry', 'https://registry.example/inquiry/v2', 'registry.example']], 'its own URL and TLS without an override');
  t2.same(snapshot.routes.map((r) => r.id), ['gov/person']);
  t2.same(snapshot.bindings.map((b) => [b.id, b.routes]), [['clients/both', ['gov/person']], ['clients/post-only', []]], 'every binding stays, granted only served routes');
  t2.equal(snapshot.hash, bus.hash, 'the bus snapshot it was cut from');
  t2.same(bus.routes.map((r) => r.id), ['gov/address', 'gov/person'], 'the bus snapshot itself is untouched');
  t2.same(bus.bindings[0]?.routes, ['gov/address', 'gov/person']);
});

t.test('an http:// override: the origin replaced, the path prefix kept, upstream TLS dropped', async (t2) => {
  const { snapshot } = sidecarSnapshot(bus, { providers: ['gov/registry', 'gov/post'], upstreamOverride: 'http://127.0.0.1:8081' });
  t2.same(snapshot.providers.map((p) => [p.id, p.url, p.tls]), [['gov/post', 'http://127.0.0.1:8081', null], ['gov/registry', 'http://127.0.0.1:8081/inquiry/v2', null]]);
  t2.same(snapshot.routes.map((r) => r.id), ['gov/address', 'gov/person'], 'both providers named: both routes');
  const https = sidecarSnapshot(bus, { providers: ['gov/registry'], upstreamOverride: 'https://localhost:8443' }).snapshot.providers[0];
  t2.same([https?.url, https?.tls?.serverName], ['https://localhost:8443/inquiry/v2', 'registry.example'], 'https:// keeps the provider TLS settings');
  t2.equal(overrideOrigin('https://a.example/', 'http://127.0.0.1:9'), 'http://127.0.0.1:9');
});

t.test('a provider the snapshot lacks serves nothing and is reported, not thrown', async (t2) => {
  const { snapshot, missing } = sidecarSnapshot(bus, { providers: ['gov/registry', 'gov/registri'], upstreamOverride: null });
  t2.same(missing, ['gov/registri']);
  t2.same(snapshot.routes.map((r) => r.id), ['gov/person'], 'the one that exists is served');
  t2.match(missingWarnings('public', missing), [/^--provider gov\/registri is not in bus public's snapshot: no route of this bus uses that ServiceProvider \(or it is misspelt\)/]);
  const none = sidecarSnapshot(bus, { providers: ['other/x'], upstreamOverride: null }).snapshot;
  t2.same([none.providers, none.routes, none.bindings.flatMap((b) => b.routes)], [[], [], []]);
});

t.test('flags: --provider repeatable, --upstream-override with it', async (t2) => {
  t2.equal(parseDataplaneArgs(['--snapshot', 'f']).sidecar, null, 'no --provider: the whole bus');
  const set = parseDataplaneArgs(['--namespace', 'gozargah-system', '--bus', 'public', '--provider', 'gov/registry', '--provider', 'gov/post', '--provider', 'gov/registry', '--upstream-override', 'http://127.0.0.1:8081']);
  t2.same(set.sidecar, { providers: ['gov/registry', 'gov/post'], upstreamOverride: 'http://127.0.0.1:8081' }, 'duplicates collapsed');
  t2.same(parseDataplaneArgs(['--snapshot', 'f', '--provider', 'gov/a']).sidecar, { providers: ['gov/a'], upstreamOverride: null }, 'without an override: the provider URL');
  const refused: [string[], RegExp][] = [
    [['--provider', 'registry'], /--provider must be NAMESPACE\/NAME of a ServiceProvider, got registry/],
    [['--provider', 'Gov/registry'], /--provider Gov\/registry: the namespace "Gov" is not a DNS label/],
    [['--provider', 'gov/a/b'], /--provider must be NAMESPACE\/NAME/],
    [['--provider', 'gov/Reg_istry'], /the name "Reg_istry" is not a DNS subdomain/],
    [['--upstream-override', 'http://127.0.0.1:8081'], /--upstream-override goes with --provider NAMESPACE\/NAME/],
    [['--provider', 'gov/a', '--upstream-override', '127.0.0.1:8081'], /--upstream-override must (be a URL|start with http)/],
    [['--provider', 'gov/a', '--upstream-override', 'ftp://127.0.0.1'], /--upstream-override must start with http:\/\/ or https:\/\/, got ftp:\/\/127\.0\.0\.1/],
    [['--provider', 'gov/a', '--upstream-override', 'http://127.0.0.1:8081/v2'], /--upstream-override is an origin only .* the path prefix is the ServiceProvider's upstream\.url's/],
    [['--provider', 'gov/a', '--upstream-override', 'http://u:p@127.0.0.1:8081'], /--upstream-override must not carry credentials/],
  ];
  for (const [argv, message] of refused) t2.throws(() => parseDataplaneArgs(['--snapshot', 'f', ...argv]), { constructor: ArgsError, message }, argv.join(' '));
});

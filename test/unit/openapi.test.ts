// The OpenAPI document from a compiled snapshot, without a dataplane: the security schemes follow
// the client's credentials (API key, token, certificate), and routes sharing a path shape stay
// one valid path.
import t from 'tap';
import { openApiOf } from '../../api/catalogue/index.ts';
import { compile } from '../../compiler/index.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';
import { openApiProblems } from '../helpers/openapi.ts';

const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', kid: 'k1', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] };
const { snapshots } = compile({
  now: '2026-11-23T10:00:00Z',
  objects: [
    provider('agency', 'http://agency.internal'),
    route('by-id', 'agency', '/things/v1/items/{id}', { methods: ['GET'] }),
    // The same shape with another parameter name, on another method: one OpenAPI path.
    route('update', 'agency', '/things/v1/items/{itemId}', { methods: ['PUT'], requestSchema: { type: 'object' } }),
    keySecret('keyed-keys', { k: 'demo-only-keyed-0123456789abcdef' }),
    binding('keyed', 'keyed', [{ namespace: 'gov', name: 'by-id' }, { namespace: 'gov', name: 'update' }]),
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'idp-jwks', namespace: 'clients', labels: { 'gozargah.io/credentials': 'true' } }, stringData: { 'jwks.json': JSON.stringify(jwks) } },
    binding('tokened', 'tokened', [{ namespace: 'gov', name: 'by-id' }], {
      credentials: { jwt: { issuer: 'https://idp.example.gov', audiences: ['bus'], jwks: { secretRef: { name: 'idp-jwks' } } } },
    }),
  ],
});
const snapshot = snapshots['default'];

t.test('a token client gets the bearer scheme; an API-key client the apiKey scheme', async (t2) => {
  if (snapshot === undefined) throw new Error('no snapshot of bus default');
  const tokened = snapshot.bindings.filter((b) => b.clientId === 'tokened');
  t2.equal(tokened.length, 1, 'the token binding compiled');
  const doc = openApiOf(snapshot, tokened, { now: Date.parse('2026-11-23T10:00:00Z') });
  t2.same(await openApiProblems(doc), []);
  t2.same(doc['security'], [{ bearer: [] }]);
  const schemes = (doc['components'] as Record<string, Record<string, unknown>>)['securitySchemes'] ?? {};
  t2.same(Object.keys(schemes), ['bearer'], 'only the scheme the client can use');
  t2.match(schemes['bearer'], { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  const keyed = openApiOf(snapshot, snapshot.bindings.filter((b) => b.clientId === 'keyed'), { now: 0 });
  t2.same(keyed['security'], [{ apiKey: [] }]);
});

t.test('routes sharing a path shape on different methods are one path, with the first template\'s names', async (t2) => {
  if (snapshot === undefined) throw new Error('no snapshot of bus default');
  const doc = openApiOf(snapshot, snapshot.bindings.filter((b) => b.clientId === 'keyed'), { now: 0 });
  t2.same(await openApiProblems(doc), []);
  const paths = doc['paths'] as Record<string, Record<string, { parameters: { name: string }[]; 'x-gozargah-route': string }>>;
  t2.same(Object.keys(paths), ['/things/v1/items/{id}']);
  t2.same(Object.keys(paths['/things/v1/items/{id}'] ?? {}).sort(), ['get', 'put']);
  t2.equal(paths['/things/v1/items/{id}']?.['put']?.parameters[0]?.name, 'id');
  t2.equal(paths['/things/v1/items/{id}']?.['put']?.['x-gozargah-route'], 'gov/update');
});

t.test('the whole bus offers every scheme', async (t2) => {
  if (snapshot === undefined) throw new Error('no snapshot of bus default');
  const doc = openApiOf(snapshot, [], { now: 0 });
  t2.same(await openApiProblems(doc), []);
  t2.same(Object.keys((doc['components'] as { securitySchemes: object }).securitySchemes).sort(), ['apiKey', 'bearer', 'mutualTLS']);
});

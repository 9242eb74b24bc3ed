// validateObject: the schema the CRDs carry, the defaults the apiserver applies, and every CEL
// rule through its predicate, with the message the apiserver would give.
import t from 'tap';
import { validateObject, type SchemaError } from '../../api/v1alpha1/index.ts';

type Obj = Record<string, unknown> & { kind: string; spec: Record<string, unknown> };

const provider = (spec: Record<string, unknown> = {}): Obj => ({
  apiVersion: 'gozargah.io/v1alpha1',
  kind: 'ServiceProvider',
  metadata: { name: 'registry', namespace: 'agency' },
  spec: { upstream: { url: 'https://registry.agency.internal/v2' }, ...spec },
});

const route = (spec: Record<string, unknown> = {}): Obj => ({
  apiVersion: 'gozargah.io/v1alpha1',
  kind: 'InquiryRoute',
  metadata: { name: 'person', namespace: 'agency' },
  spec: { providerRef: { name: 'registry' }, path: '/registry/v1/persons/{id}', ...spec },
});

const binding = (spec: Record<string, unknown> = {}): Obj => ({
  apiVersion: 'gozargah.io/v1alpha1',
  kind: 'ClientBinding',
  metadata: { name: 'shop', namespace: 'client' },
  spec: {
    client: { id: 'shop', displayName: 'Shop' },
    credentials: { apiKeys: { secretRef: { name: 'shop-keys' } } },
    routes: [{ namespace: 'agency', name: 'person' }],
    ...spec,
  },
});

const messages = (errors: SchemaError[]): string[] => errors.map((e) => `${e.path}: ${e.message}`);

t.test('a valid object of each kind is accepted', async (t) => {
  t.same(validateObject(provider()), []);
  t.same(
    validateObject(
      provider({
        displayName: 'Civil registry',
        upstream: {
          url: 'https://registry.agency.internal',
          tls: { caSecretRef: { name: 'ca', key: 'bundle.pem' }, clientCertificateSecretRef: { name: 'client' }, serverName: 'registry' },
        },
        timeout: '3s',
        protection: { maxConcurrent: 100, maxRequestsPerSecond: 500 },
        circuitBreaker: { consecutiveFailures: 3, openFor: '30s' },
      }),
    ),
    [],
  );
  t.same(validateObject(route()), []);
  t.same(
    validateObject(
      route({
        methods: ['GET', 'HEAD'],
        upstreamPath: '/inquiry/{id}',
        timeout: '2s',
        retries: { attempts: 2, perTryTimeout: '500ms' },
        maxBodyBytes: 4096,
        requestSchema: { type: 'object', properties: { id: { type: 'string' } } },
        privacy: { dropResponseFields: ['person.fatherName', 'items.*.phone'], neverLog: ['person.birthDate'] },
        buses: ['internal', 'public'],
        access: { namespaces: { from: 'Selector', selector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] } }, clients: ['snapp'] },
      }),
    ),
    [],
  );
  t.same(validateObject(binding()), []);
  t.same(
    validateObject(
      binding({
        bus: 'public',
        credentials: { certificates: { fingerprints: ['AB'.repeat(32)], subjects: ['CN=shop'] } },
        routes: [{ selector: { matchLabels: { category: 'identity' } } }, { name: 'person' }],
        rateLimit: { requestsPerSecond: 10, burst: 10 },
        quota: { requests: 1000, period: 'Month' },
        sourceCIDRs: ['10.0.0.0/8', 'fd00::/8'],
        validity: { notBefore: '2026-01-01T00:00:00Z', notAfter: '2027-01-01T00:00:00Z' },
      }),
    ),
    [],
  );
});

t.test('defaults are applied in place, as the apiserver does', async (t) => {
  const r = route({ access: { namespaces: {} }, retries: {} });
  t.same(validateObject(r), []);
  t.same(r.spec['methods'], ['GET'], 'methods default to [GET]');
  t.same(r.spec['buses'], ['default'], 'buses default to [default]');
  t.same(r.spec['access'], { namespaces: { from: 'Same' } }, 'access.namespaces.from defaults to Same');
  t.same(r.spec['retries'], { attempts: 0 }, 'retries.attempts defaults to 0');

  const b = binding();
  t.same(validateObject(b), []);
  t.equal(b.spec['bus'], 'default', 'bus defaults to default');

  const j = binding({ credentials: { jwt: { issuer: 'https://idp', audiences: ['bus'], jwksURL: 'https://idp/jwks' } } });
  t.same(validateObject(j), []);
  const jwt = (j.spec['credentials'] as { jwt: Record<string, unknown> }).jwt;
  t.same([jwt['claim'], jwt['algorithms']], ['sub', ['RS256', 'PS256', 'ES256', 'EdDSA']], 'jwt claim defaults to sub, algorithms to RS256, PS256, ES256, EdDSA');

  const p = provider({ circuitBreaker: {} });
  t.same(validateObject(p), []);
  t.same(p.spec['circuitBreaker'], { consecutiveFailures: 5 }, 'circuitBreaker.consecutiveFailures defaults to 5');

  const given = route({ methods: ['POST'], buses: ['internal'] });
  validateObject(given);
  t.same([given.spec['methods'], given.spec['buses']], [['POST'], ['internal']], 'given values are kept');
});

t.test('CEL rules, each with its own message', async (t) => {
  const cases: [string, Obj, string][] = [
    ['path must start with /', route({ path: 'registry/v1/persons' }), 'spec: path must start with /'],
    ['no .. segment in path', route({ path: '/registry/../admin' }), 'spec: path and upstreamPath must not contain . or .. segments'],
    ['no . segment in upstreamPath', route({ upstreamPath: '/inquiry/./{id}' }), 'spec: path and upstreamPath must not contain . or .. segments'],
    ['a trailing .. segment', route({ path: '/registry/v1/..' }), 'spec: path and upstreamPath must not contain . or .. segments'],
    ['a parameter used twice', route({ path: '/a/{id}/b/{id}' }), 'spec: each path template parameter may appear only once'],
    ['more than 8 parameters', route({ path: '/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}' }), 'spec: path may declare at most 8 template parameters'],
    ['upstreamPath uses an undeclared parameter', route({ upstreamPath: '/inquiry/{nationalId}' }), 'spec: upstreamPath may only use parameters that path declares'],
    ['from: Selector requires selector', route({ access: { namespaces: { from: 'Selector' } } }), 'spec.access.namespaces: from: Selector requires selector'],
    ['from: List requires names', route({ access: { namespaces: { from: 'List' } } }), 'spec.access.namespaces: from: List requires at least one name in names'],
    ['from: List with no names', route({ access: { namespaces: { from: 'List', names: [] } } }), 'spec.access.namespaces: from: List requires at least one name in names'],
    ['credentials are required', binding({ credentials: {} }), 'spec.credentials: credentials need apiKeys, jwt, or at least one certificate fingerprint or subject'],
    ['empty certificate lists are no credential', binding({ credentials: { certificates: { fingerprints: [], subjects: [] } } }), 'spec.credentials: credentials need apiKeys, jwt, or at least one certificate fingerprint or subject'],
    ['jwt with neither jwks nor jwksURL', binding({ credentials: { jwt: { issuer: 'https://idp', audiences: ['bus'] } } }), 'spec.credentials.jwt: jwt needs exactly one of jwks (a Secret) or jwksURL'],
    ['HS256 among the jwt algorithms', binding({ credentials: { jwt: { issuer: 'https://idp', audiences: ['bus'], jwksURL: 'https://idp/jwks', algorithms: ['RS256', 'HS256'] } } }), `spec.credentials.jwt.algorithms.1: must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519: HS256, HS384, HS512 (shared secrets) and none are never accepted, since anyone holding the published keys could then sign`],
    ['a route entry with neither name nor selector', binding({ routes: [{ namespace: 'agency' }] }), 'spec.routes.0: each route entry needs exactly one of name or selector'],
    ['a route entry with both name and selector', binding({ routes: [{ name: 'person' }, { name: 'x', selector: {} }] }), 'spec.routes.1: each route entry needs exactly one of name or selector'],
    ['burst below requestsPerSecond', binding({ rateLimit: { requestsPerSecond: 100, burst: 99 } }), 'spec.rateLimit: burst must be at least requestsPerSecond'],
    ['notAfter before notBefore', binding({ validity: { notBefore: '2026-06-01T00:00:00Z', notAfter: '2026-01-01T00:00:00Z' } }), 'spec.validity: notAfter must be later than notBefore'],
    ['notAfter equal to notBefore', binding({ validity: { notBefore: '2026-06-01T00:00:00Z', notAfter: '2026-06-01T00:00:00Z' } }), 'spec.validity: notAfter must be later than notBefore'],
    ['a validated body larger than 1 MiB', route({ requestSchema: { type: 'object' }, maxBodyBytes: 1_048_577 }), 'spec: maxBodyBytes may be at most 1048576 (1 MiB) on a route with a requestSchema: the dataplane parses the body to validate it'],
    ['tls requires an https upstream', provider({ upstream: { url: 'http://registry.internal', tls: { serverName: 'registry' } } }), 'spec: upstream.tls requires an https:// upstream.url'],
  ];
  for (const [name, obj, expected] of cases) {
    const found = messages(validateObject(obj));
    t.ok(found.includes(expected), name, { found, expected });
  }

  // The other side of each rule: the closest valid object passes.
  const passing: [string, Obj][] = [
    ['a dot inside a segment is fine', route({ path: '/registry/v1.2/persons/{id}', upstreamPath: '/a.b/{id}' })],
    ['upstreamPath may reuse a subset of the parameters', route({ path: '/a/{x}/b/{y}', upstreamPath: '/y/{y}' })],
    ['from: Selector with a selector', route({ access: { namespaces: { from: 'Selector', selector: { matchLabels: { a: 'b' } } } } })],
    ['from: List with a name', route({ access: { namespaces: { from: 'List', names: ['client'] } } })],
    ['a subject alone is a credential', binding({ credentials: { certificates: { subjects: ['CN=shop'] } } })],
    ['burst equal to requestsPerSecond', binding({ rateLimit: { requestsPerSecond: 100, burst: 100 } })],
    ['only notAfter', binding({ validity: { notAfter: '2026-01-01T00:00:00Z' } })],
    ['a validated body of 1 MiB', route({ requestSchema: { type: 'object' }, maxBodyBytes: 1_048_576 })],
    ['an unvalidated body of 10 MiB', route({ maxBodyBytes: 10_485_760 })],
    ['tls with https', provider({ upstream: { url: 'https://registry.internal', tls: {} } })],
  ];
  for (const [name, obj] of passing) t.same(validateObject(obj), [], name);
});

t.test('a rule is not reported when its object already fails its schema', async (t) => {
  // The predicates read required fields; without them the schema says what is wrong.
  t.same(messages(validateObject(route({ path: undefined }))), ['spec.path: required field is missing']);
  t.same(messages(validateObject(route({ path: 42 }))), ['spec.path: must be string']);
  t.same(messages(validateObject(provider({ upstream: { tls: {} } }))), ['spec.upstream.url: required field is missing']);
});

t.test('unknown fields are refused at every depth', async (t) => {
  const unknown: [string, Obj, string][] = [
    ['top level', { ...route(), extra: true }, 'extra: unknown field'],
    ['spec', route({ pathh: '/x' }), 'spec.pathh: unknown field'],
    ['spec.upstream', provider({ upstream: { url: 'https://a.internal', insecure: true } }), 'spec.upstream.insecure: unknown field'],
    ['spec.upstream.tls.caSecretRef', provider({ upstream: { url: 'https://a.internal', tls: { caSecretRef: { name: 'ca', namespace: 'x' } } } }), 'spec.upstream.tls.caSecretRef.namespace: unknown field'],
    ['spec.access.namespaces', route({ access: { namespaces: { from: 'All', except: ['x'] } } }), 'spec.access.namespaces.except: unknown field'],
    ['spec.routes[].selector', binding({ routes: [{ selector: { matchLabel: {} } }] }), 'spec.routes.0.selector.matchLabel: unknown field'],
    ['spec.credentials.apiKeys.secretRef', binding({ credentials: { apiKeys: { secretRef: { name: 'k', key: 'x' } } } }), 'spec.credentials.apiKeys.secretRef.key: unknown field'],
    ['status', { ...binding(), status: { usage: { period: '2026-11', requests: 1, quota: '1/2', extra: 1 } } }, 'status.usage.extra: unknown field'],
  ];
  for (const [name, obj, expected] of unknown) t.same(messages(validateObject(obj)), [expected], name);

  const free = route();
  (free['metadata'] as Record<string, unknown>)['resourceVersion'] = '4711';
  t.same(validateObject(free), [], 'metadata belongs to the apiserver: its other fields pass');
  t.same(validateObject(route({ requestSchema: { type: 'object', 'x-anything': { deep: true } } })), [], 'a JSON Schema document keeps its own fields');
});

t.test('messages name the field and say what is allowed', async (t) => {
  t.same(messages(validateObject(binding({ quota: { requests: 10, period: 'Week' } }))), ['spec.quota.period: must be one of Day, Month']);
  t.same(messages(validateObject(route({ methods: ['GET', 'TRACE'] }))), ['spec.methods.1: must be one of GET, HEAD, POST, PUT, PATCH, DELETE']);
  t.same(messages(validateObject(binding({ client: { id: 'Shop_1', displayName: 'Shop' } }))), ['spec.client.id: must match pattern "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"']);
  t.same(messages(validateObject(provider({ timeout: '5 seconds' }))), ['spec.timeout: must match pattern "^[0-9]+(ms|s|m|h)$"']);
  t.same(messages(validateObject(route({ providerRef: undefined }))), ['spec.providerRef: required field is missing']);
  t.same(messages(validateObject({ kind: 'Gateway' })), ['kind: unknown kind Gateway']);
  // Conflicts are settled by age; a time that does not parse would make that order arbitrary.
  const undated = route();
  (undated['metadata'] as Record<string, unknown>)['creationTimestamp'] = 'yesterday';
  t.same(messages(validateObject(undated)), ['metadata.creationTimestamp: must match format "date-time"']);
});

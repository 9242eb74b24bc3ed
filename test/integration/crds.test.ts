// crds/ on a real kube-apiserver: they install, examples/ apply, kubectl prints the printer
// columns, and what can never be valid is refused at apply time with the schema's or the CEL
// rule's own message.
import t from 'tap';
import { join } from 'node:path';
import { CRD_NAMES, established, startCluster } from '../helpers/cluster.ts';
import { ROOT } from '../helpers/dataplane.ts';

const cluster = await startCluster();
t.teardown(() => cluster.stop());

t.test('crds/ install and become Established', async (t2) => {
  const applied = await cluster.kubectl(['apply', '-f', join(ROOT, 'crds')]);
  t2.equal(applied.code, 0, applied.stderr);
  await t2.resolves(established(cluster, CRD_NAMES), 'Established');
});

t.test('examples/ apply and kubectl shows the printer columns and the category', async (t2) => {
  const applied = await cluster.kubectl(['apply', '-f', join(ROOT, 'examples')]);
  t2.equal(applied.code, 0, applied.stderr);
  t2.match(applied.stdout, /inquiryroute.gozargah.io\/person-by-national-id created/);
  const routes = await cluster.kubectl(['get', 'inquiryroutes', '-A']);
  t2.match(routes.stdout.split('\n')[0], /NAMESPACE\s+NAME\s+PROVIDER\s+PATH\s+BUSES\s+CLIENTS\s+PROGRAMMED\s+AGE/);
  t2.match(routes.stdout, /civil-registry\s+person-by-national-id\s+civil-registry\s+\/civil-registry\/v1\/persons\/\{nationalId\}/);
  const bindings = await cluster.kubectl(['get', 'cb', '-A']);
  t2.match(bindings.stdout.split('\n')[0], /NAMESPACE\s+NAME\s+CLIENT\s+ROUTES\s+RATE\s+QUOTA\s+READY\s+AGE/);
  t2.match(bindings.stdout, /snapp\s+snapp-driver-onboarding\s+snapp\s+50/);
  const providers = await cluster.kubectl(['get', 'sp', '-A']);
  t2.match(providers.stdout.split('\n')[0], /NAMESPACE\s+NAME\s+UPSTREAM\s+ROUTES\s+READY\s+AGE/);
  const all = await cluster.kubectl(['get', 'gozargah', '-A', '-o', 'name']);
  t2.equal(all.stdout.trim().split('\n').length, 12, 'kubectl get gozargah lists the 12 objects of examples/');
});

const route = (spec: string): string => `apiVersion: gozargah.io/v1alpha1
kind: InquiryRoute
metadata: { name: bad, namespace: default }
spec: { providerRef: { name: p }, ${spec} }
`;
const binding = (spec: string): string => `apiVersion: gozargah.io/v1alpha1
kind: ClientBinding
metadata: { name: bad, namespace: default }
spec: { client: { id: a, displayName: A }, routes: [{ name: r }], ${spec} }
`;

const refused: [string, string, RegExp][] = [
  ['a path not starting with /', route('path: "civil/v1"'), /path must start with \//],
  ['a template parameter used twice', route('path: "/a/{id}/b/{id}"'), /each path template parameter may appear only once/],
  ['an upstream path naming an undeclared parameter', route('path: "/a/{id}", upstreamPath: "/x/{other}"'), /upstreamPath may only use parameters that path declares/],
  ['a .. segment', route('path: "/a/../b"'), /must not contain \. or \.\. segments/],
  ['burst below rate', binding('credentials: { apiKeys: { secretRef: { name: k } } }, rateLimit: { requestsPerSecond: 10, burst: 5 }'), /burst must be at least requestsPerSecond/],
  ['notAfter before notBefore', binding('credentials: { apiKeys: { secretRef: { name: k } } }, validity: { notBefore: "2027-01-01T00:00:00Z", notAfter: "2026-01-01T00:00:00Z" }'), /notAfter must be later than notBefore/],
  ['a binding with no credentials', binding('credentials: {}'), /credentials need apiKeys, jwt, or at least one certificate/],
  ['HS256 or none among the jwt algorithms', binding('credentials: { jwt: { issuer: i, audiences: [a], jwksURL: "https://idp.example.gov/jwks", algorithms: [RS256, HS256] } }'), /HS256, HS384, HS512 \(shared secrets\) and none are never accepted/],
  ['jwt with both jwks and jwksURL', binding('credentials: { jwt: { issuer: i, audiences: [a], jwksURL: "https://idp.example.gov/jwks", jwks: { secretRef: { name: k } } } }'), /jwt needs exactly one of jwks \(a Secret\) or jwksURL/],
  ['an unknown field', route('path: "/a", colour: red'), /unknown field "spec.colour"/],
  ['a method that does not exist', route('path: "/a", methods: [FETCH]'), /Unsupported value: "FETCH"/],
];

for (const [what, manifest, message] of refused) {
  t.test(`kubectl apply refuses ${what}`, async (t2) => {
    const out = await cluster.kubectl(['apply', '-f', '-'], manifest);
    t2.not(out.code, 0, 'kubectl apply fails');
    t2.match(out.stderr, message);
  });
}

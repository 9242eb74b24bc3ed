// `gozargah catalogue`, run as a process: the documents a client's developer gets without a
// cluster, from the project's examples; the OpenAPI ones checked by a maintained validator.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { NODE, ROOT } from '../helpers/dataplane.ts';
import { openApiProblems } from '../helpers/openapi.ts';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function gozargah(...args: string[]): Run {
  const run = spawnSync(NODE, ['cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (run.error !== undefined) throw run.error;
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** The routes the compiler granted a client's bindings on a bus, from `gozargah compile`. */
function grantedBy(client: string, bus: string): string[] {
  const out = JSON.parse(gozargah('compile', '-f', 'examples').stdout) as { snapshots: Record<string, { bindings: { clientId: string; routes: string[] }[] }> };
  return (out.snapshots[bus]?.bindings ?? []).filter((b) => b.clientId === client).flatMap((b) => b.routes).sort();
}

const operationRoutes = (doc: Record<string, unknown>): string[] =>
  Object.values(doc['paths'] as Record<string, Record<string, { 'x-gozargah-route': string }>>)
    .flatMap((item) => Object.values(item).map((op) => op['x-gozargah-route']))
    .sort();

t.test('-o openapi: a valid OpenAPI 3.1 document of exactly the client\'s grants', async (t2) => {
  for (const [client, bus] of [['snapp', 'public'], ['novin-pay', 'public'], ['ministry-of-education', 'internal'], ['bank-melli', 'internal']] as const) {
    const run = gozargah('catalogue', '-f', 'examples', '--bus', bus, '--client', client, '-o', 'openapi');
    t2.equal(run.status, 0, run.stderr);
    const doc = JSON.parse(run.stdout) as Record<string, unknown>;
    t2.same(await openApiProblems(doc), [], `${client}'s document validates`);
    const expected = grantedBy(client, bus);
    t2.not(expected.length, 0, `${client} is granted something on ${bus}`);
    t2.same([...new Set(operationRoutes(doc))], expected, `${client} on ${bus}: its grants, no more`);
  }
});

t.test('without --client: every inquiry of the bus', async (t2) => {
  const run = gozargah('catalogue', '-f', 'examples', '--bus', 'internal', '-o', 'json');
  t2.equal(run.status, 0, run.stderr);
  const catalogue = JSON.parse(run.stdout) as { client: unknown; inquiries: { route: string }[] };
  t2.equal(catalogue.client, null);
  const out = JSON.parse(gozargah('compile', '-f', 'examples').stdout) as { snapshots: Record<string, { routes: { id: string }[] }> };
  t2.same(catalogue.inquiries.map((i) => i.route).sort(), (out.snapshots['internal']?.routes ?? []).map((r) => r.id).sort());
});

t.test('-o markdown (the default) reads as documentation', async (t2) => {
  const run = gozargah('catalogue', '-f', 'examples', '--bus', 'public', '--client', 'snapp');
  t2.equal(run.status, 0, run.stderr);
  t2.match(run.stdout, /^# Bus public: the inquiries of .* \(snapp\)/);
  t2.match(run.stdout, /\| Is this national ID valid, and whose is it \| GET \| `\/civil-registry\/v1\/persons\/\{nationalId\}` \| identity \|/);
  t2.match(run.stdout, /deprecated, sunset 2027-06-30T00:00:00Z/);
  t2.match(run.stdout, /answers 410 route_sunset from 2027-06-30T00:00:00Z; see https:\/\/post\.example\/api\/v1-retirement/);
  t2.match(run.stdout, /requests\/s \(burst \d+\)/);
});

t.test('mistakes are named, exit 2', async (t2) => {
  const bus = gozargah('catalogue', '-f', 'examples', '--bus', 'pubilc');
  t2.equal(bus.status, 2);
  t2.match(bus.stderr, /bus pubilc has no route or binding in the manifests; the buses there are internal, public/);
  const client = gozargah('catalogue', '-f', 'examples', '--bus', 'public', '--client', 'snap');
  t2.equal(client.status, 2);
  t2.match(client.stderr, /client snap has no accepted binding on bus public; the clients there are .*snapp/);
  const format = gozargah('catalogue', '-f', 'examples', '--bus', 'public', '-o', 'yaml');
  t2.equal(format.status, 2);
  t2.match(format.stderr, /-o must be markdown, openapi, json, not yaml/);
  const help = gozargah('catalogue', '--help');
  t2.equal(help.status, 0);
  t2.match(help.stdout, /Usage: gozargah catalogue/);
});

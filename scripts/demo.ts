// make demo: the whole system on one machine. A real control plane (etcd + kube-apiserver on
// loopback, built on first use), crds/ and deploy/rbac installed, the operator and one dataplane
// per bus running as their ServiceAccounts, stand-in agencies on loopback; examples/ applied
// and waited on until everything is Programmed; sample inquiries from three clients; what
// kubectl shows, and the metering counts. Then everything stops, or, with --keep
// (make demo-up), stays up for a person to explore until Ctrl-C.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { installCrds, startCluster, type Cluster } from '../test/helpers/cluster.ts';
import { startDataplane, type RunningDataplane } from '../test/helpers/dataplane.ts';
import { installRbac, startOperator, SYSTEM_NS, type RunningOperator } from '../test/helpers/operator.ts';
import { startAgencies } from './demo/agencies.ts';

const ROOT = resolve(import.meta.dirname, '..');
const KEEP = process.argv.includes('--keep');
// DEMO ONLY keys, published in examples/.
const SNAPP = 'demo-only-snapp-2026-11-Vb7tRz4Hn8';
const BANK = 'demo-only-bankmelli-Hc4Wq7Ns1Xe6';
const EDUCATION = 'demo-only-education-Qm5Zt8Lk2Pw9';

interface Bus {
  name: string;
  url: string;
  admin: string;
  dp: RunningDataplane;
}

const say = (text: string): void => void process.stdout.write(text);

async function ask(bus: Bus, who: string, method: string, path: string, key: string | null, body?: unknown): Promise<number> {
  const headers: Record<string, string> = {};
  if (key !== null) headers['x-api-key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${bus.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const refusal = res.headers.get('x-gozargah-error');
  const from = refusal === null ? 'agency' : `bus refused: ${refusal}`;
  say(`\n[${bus.name}] ${who}: ${method} ${path}\n  -> ${res.status} (${from}) ${text.length > 220 ? `${text.slice(0, 220)}...` : text}\n`);
  return res.status;
}

async function startBus(name: string, kubeconfig: string): Promise<Bus> {
  const dp = await startDataplane(['--kubeconfig', kubeconfig, '--namespace', SYSTEM_NS, '--bus', name, '--replica', `demo-${name}-0`]);
  return { name, url: dp.url, admin: dp.adminUrl, dp };
}

async function inquiries(pub: Bus, internal: Bus): Promise<void> {
  say('\n=== Allowed: Snapp (ride-hailing, public bus) checks a driver ===');
  await ask(pub, 'snapp', 'GET', '/civil-registry/v1/persons/0012345678', SNAPP);
  await ask(pub, 'snapp', 'GET', '/post/v1/addresses/1591634311', SNAPP);

  say('\n\n=== Refused: what the bus says, and why ===');
  await ask(pub, 'snapp', 'GET', '/health-insurance/v1/booklets/B-77/validity', SNAPP);
  await ask(pub, 'an unknown caller', 'GET', '/civil-registry/v1/persons/0012345678', 'demo-only-not-a-real-key-000000');
  await ask(pub, 'a caller with no key', 'GET', '/civil-registry/v1/persons/0012345678', null);
  await ask(internal, 'bank-melli', 'GET', '/health-insurance/v1/booklets/B-77/validity', BANK);
  await ask(internal, 'bank-melli', 'POST', '/education/v1/literacy-inquiries', BANK, { nationalId: '12' });

  say('\n\n=== Allowed on the internal bus ===');
  await ask(internal, 'ministry-of-education', 'GET', '/health-insurance/v1/booklets/B-77/validity', EDUCATION);
  await ask(internal, 'bank-melli', 'POST', '/education/v1/literacy-inquiries', BANK, { nationalId: '0012345678' });

  say('\n\n=== Rate-limited: bank-melli sends 60 inquiries at once (20/s, burst 40) ===\n');
  const statuses = await Promise.all(
    Array.from({ length: 60 }, () => fetch(`${internal.url}/civil-registry/v1/persons/0012345678`, { headers: { 'x-api-key': BANK } }).then(async (r) => (await r.arrayBuffer(), r.status))),
  );
  const tally = new Map<number, number>();
  for (const s of statuses) tally.set(s, (tally.get(s) ?? 0) + 1);
  say(`  -> ${[...tally].map(([s, n]) => `${n} x ${s}`).join(', ')}\n`);
  await ask(internal, 'bank-melli', 'GET', '/civil-registry/v1/persons/0012345678', BANK);
}

async function metering(buses: Bus[]): Promise<void> {
  say('\n=== Metering: gozargah_requests_total per bus ===\n');
  for (const bus of buses) {
    const metrics = await (await fetch(`${bus.admin}/metrics`)).text();
    for (const line of metrics.split('\n').filter((l) => l.startsWith('gozargah_requests_total{'))) {
      const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
      say(`  [${bus.name}] client=${labels['client'] || '-'} route=${labels['route'] || '-'} code=${labels['code']}: ${line.slice(line.lastIndexOf(' ') + 1)}\n`);
    }
  }
}

async function main(): Promise<void> {
  const stops: (() => Promise<unknown>)[] = [];
  let cluster: Cluster | null = null;
  let operator: RunningOperator | null = null;
  const buses: Bus[] = [];
  try {
    say('=== A local control plane: etcd + kube-apiserver on loopback ===\n');
    cluster = await startCluster();
    stops.push(() => (cluster as Cluster).stop());
    await installCrds(cluster);
    const credentials = await installRbac(cluster);
    say(`  kubeconfig: ${cluster.kubeconfig}\n  crds/ installed; ServiceAccounts with deploy/rbac's roles in ${SYSTEM_NS}\n`);

    const agencies = await startAgencies();
    stops.push(async () => {
      for (const a of agencies) a.close();
    });
    operator = await startOperator(credentials.operator, 'demo-operator-0');
    stops.push(() => (operator as RunningOperator).stop());
    say('\n=== kubectl apply -f examples/ ===\n');
    say(await cluster.run(['apply', '-f', join(ROOT, 'examples')]));
    // One dataplane process per bus, with the arguments (and the rights) a pod would have.
    for (const name of ['public', 'internal']) {
      const bus = await startBus(name, credentials.dataplane);
      buses.push(bus);
      stops.push(() => bus.dp.stop());
    }
    say('\n=== Waiting until every object is Ready (accepted, resolved, served by its bus) ===\n');
    await cluster.run(['wait', '--for=condition=Ready', '--timeout=90s', '-A', '--all', 'serviceproviders,inquiryroutes,clientbindings']);
    say(await cluster.run(['get', 'gozargah', '-A']));

    const [pub, internal] = buses as [Bus, Bus];
    await inquiries(pub, internal);
    await metering(buses);
    if (KEEP) {
      say(`\n=== Up. Explore it; Ctrl-C stops everything ===
  export KUBECONFIG=${cluster.kubeconfig} PATH=${join(cluster.dir, 'bin')}:$PATH
  kubectl get gozargah -A
  kubectl describe inquiryroute -n civil-registry person-by-national-id
  curl -H 'x-api-key: ${SNAPP}' ${pub.url}/civil-registry/v1/persons/0012345678
  public bus ${pub.url} (admin ${pub.admin}), internal bus ${internal.url} (admin ${internal.admin}), operator admin ${operator.adminUrl}
  (the keys are DEMO ONLY, published in examples/)\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
  const records = buses.map((b) => readFileSync(b.dp.auditPath, 'utf8').split('\n').filter((l) => l.length > 0).length);
  if (records.length === 2) say(`\nAudit log: ${records[0]} records on the public bus, ${records[1]} on the internal bus (one per transaction)\n`);
  say('Demo done. Everything was stopped cleanly.\n');
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});

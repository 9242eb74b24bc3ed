// make demo: the whole system on one machine. A real control plane (etcd + kube-apiserver on
// loopback, built on first use), crds/ and deploy/rbac installed, a real redis-server where the
// fleet counts, the operator and the dataplanes (two replicas of the public bus, one of the
// internal bus) running as their ServiceAccounts, stand-in agencies on loopback; examples/
// applied and waited on until everything is Programmed; sample inquiries from four clients; one
// quota held across both replicas and the QUOTA column moving; what kubectl shows, the metering
// counts, the month's report, and the audit evidence: every replica's audit files verified
// against the signing key, and who looked up one national ID. Then everything stops, or, with
// --keep (make demo-up), stays up for a person to explore until Ctrl-C.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { installCrds, kubectlWait, startCluster, type Cluster } from '../test/helpers/cluster.ts';
import { NODE, startDataplane, waitFor, type RunningDataplane } from '../test/helpers/dataplane.ts';
import { startRedis, type RunningRedis } from '../test/helpers/redis.ts';
import { installRbac, startOperator, SYSTEM_NS, type RunningOperator } from '../test/helpers/operator.ts';
import { startAgencies } from './demo/agencies.ts';

const ROOT = resolve(import.meta.dirname, '..');
const KEEP = process.argv.includes('--keep');
// DEMO ONLY keys, published in examples/.
const SNAPP = 'demo-only-snapp-2026-11-Vb7tRz4Hn8';
const BANK = 'demo-only-bankmelli-Hc4Wq7Ns1Xe6';
const EDUCATION = 'demo-only-education-Qm5Zt8Lk2Pw9';
const NOVIN = 'demo-only-novin-pay-trial-Rw3Ks8Yd5Tq1';

interface Bus {
  name: string;
  url: string;
  admin: string;
  /** the bus's replicas; the first one takes the sample inquiries */
  replicas: RunningDataplane[];
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
  const retiring = res.headers.get('deprecation') === null ? '' : `  Deprecation: ${res.headers.get('deprecation')}, Sunset: ${res.headers.get('sunset')}\n`;
  say(`\n[${bus.name}] ${who}: ${method} ${path}\n  -> ${res.status} (${from}) ${text.length > 220 ? `${text.slice(0, 220)}...` : text}\n${retiring}`);
  return res.status;
}

/** DEMO ONLY audit keys, made fresh for each run: the signing key, its public half, the pseudonym key. */
interface AuditKeys {
  signing: string;
  publicKey: string;
  pseudonym: string;
}

function auditKeys(): AuditKeys {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-demo-keys-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keys = { signing: join(dir, 'audit-signing.pem'), publicKey: join(dir, 'audit-signing.pub.pem'), pseudonym: join(dir, 'audit-pseudonym.key') };
  writeFileSync(keys.signing, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(keys.publicKey, publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(keys.pseudonym, randomBytes(32).toString('hex'));
  return keys;
}

async function startBus(name: string, replicas: number, kubeconfig: string, redis: RunningRedis, keys: AuditKeys): Promise<Bus> {
  const started: RunningDataplane[] = [];
  for (let i = 0; i < replicas; i++) {
    started.push(
      await startDataplane(['--kubeconfig', kubeconfig, '--namespace', SYSTEM_NS, '--bus', name, '--replica', `demo-${name}-${i}`, '--redis', redis.url, '--audit-signing-key', keys.signing, '--audit-pseudonym-key', keys.pseudonym]),
    );
  }
  const first = started[0] as RunningDataplane;
  return { name, url: first.url, admin: first.adminUrl, replicas: started };
}

async function quotaColumn(cluster: Cluster): Promise<string> {
  return cluster.run(['get', 'clientbindings', '-A']);
}

/** novin-pay may make 10 inquiries a day: sent alternately to both replicas, the 11th is refused. */
async function fleetQuota(cluster: Cluster, pub: Bus): Promise<void> {
  say(`\n\n=== One quota across two replicas: novin-pay may make 10 inquiries a day ===\n${await quotaColumn(cluster)}`);
  const served = [0, 0];
  let sent = 0;
  const send = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++, sent++) {
      const replica = sent % 2;
      const res = await fetch(`${(pub.replicas[replica] as RunningDataplane).url}/civil-registry/v1/persons/0012345678`, { headers: { 'x-api-key': NOVIN } });
      await res.arrayBuffer();
      if (res.status === 200) served[replica] = (served[replica] ?? 0) + 1;
      else say(`  request ${sent + 1} on replica demo-public-${replica}: ${res.status} ${res.headers.get('x-gozargah-error')}, Retry-After ${res.headers.get('retry-after')} s\n`);
    }
  };
  await send(8);
  say('  8 inquiries sent, alternately to demo-public-0 and demo-public-1; the operator writes the fleet\'s count into status.usage (every 2 s here, 15 s by default):\n');
  await waitFor(async () => (await quotaColumn(cluster)).includes('8/10'), 30_000, () => 'status.usage never reached 8/10');
  say(await quotaColumn(cluster));
  await send(6);
  say(`  -> served ${served[0]} on demo-public-0 and ${served[1]} on demo-public-1: 10 in all, not 10 each (Redis holds the count)\n`);
  await waitFor(async () => (await quotaColumn(cluster)).includes('10/10'), 30_000, () => 'status.usage never reached 10/10');
  say(await quotaColumn(cluster));
  const events = await cluster.run(['get', 'events', '-n', 'novin-pay', '--field-selector', 'type=Warning', '--sort-by', '.lastTimestamp', '-o', 'custom-columns=REASON:.reason,MESSAGE:.message']);
  say(`  Warning Events at 80% and 100%:\n${events.split('\n').filter((l) => l.startsWith('REASON') || l.startsWith('Quota')).join('\n')}\n`);
}

/** The month's publication, from the counts in Redis. */
function report(redis: RunningRedis): void {
  const month = new Date().toISOString().slice(0, 7);
  say(`\n=== gozargah report --redis ${redis.url} --month ${month} ===\n`);
  const run = spawnSync(NODE, [join(ROOT, 'cli/main.ts'), 'report', '--redis', redis.url, '--month', month], { encoding: 'utf8' });
  say(run.stdout);
  if (run.status !== 0) throw new Error(`gozargah report failed: ${run.stderr}`);
}

/** The audit files of every replica verified against the public key, and who asked for one national ID. */
function evidence(buses: Bus[], keys: AuditKeys): void {
  const files = buses.flatMap((b) => b.replicas.map((dp) => dp.auditPath));
  say('\n=== gozargah audit verify --public-key audit-signing.pub.pem (every replica\'s audit file) ===\n');
  const verify = spawnSync(NODE, [join(ROOT, 'cli/main.ts'), 'audit', 'verify', '--public-key', keys.publicKey, ...files], { encoding: 'utf8' });
  say(verify.stdout);
  if (verify.status !== 0) throw new Error(`gozargah audit verify failed: ${verify.stdout}${verify.stderr}`);
  say('\n=== echo 0012345678 | gozargah audit search --param nationalId: who looked up this person (the ID itself is in no log) ===\n');
  const search = spawnSync(NODE, [join(ROOT, 'cli/main.ts'), 'audit', 'search', '--param', 'nationalId', '--pseudonym-key', keys.pseudonym, ...files], { encoding: 'utf8', input: '0012345678\n' });
  if (search.status !== 0) throw new Error(`gozargah audit search failed: ${search.stderr}`);
  // The table's head, its first rows (a burst test made many more), and its summary line.
  const rows = search.stdout.trimEnd().split('\n');
  say(`${rows.length > 12 ? [...rows.slice(0, 9), `  ... ${rows.length - 11} more rows ...`, ...rows.slice(-2)].join('\n') : rows.join('\n')}\n`);
}

/** What a client learns from the bus itself: its catalogue and its OpenAPI document. */
async function discover(pub: Bus): Promise<void> {
  say('\n=== Snapp asks the bus what it may call: GET /.well-known/gozargah/catalogue ===\n');
  const catalogue = (await (await fetch(`${pub.url}/.well-known/gozargah/catalogue`, { headers: { 'x-api-key': SNAPP } })).json()) as {
    inquiries: { methods: string[]; path: string; summary: string | null; sunset: string | null }[];
    bindings: { rateLimit: unknown; quota: unknown }[];
    usage: unknown;
  };
  for (const i of catalogue.inquiries) say(`  ${i.methods.join(',')} ${i.path}  ${i.summary ?? ''}${i.sunset === null ? '' : `  (sunset ${i.sunset})`}\n`);
  say(`  limits ${JSON.stringify(catalogue.bindings[0])}, usage ${JSON.stringify(catalogue.usage)}\n`);
  const openapi = (await (await fetch(`${pub.url}/.well-known/gozargah/openapi.json`, { headers: { 'x-api-key': SNAPP } })).json()) as { openapi: string; paths: object };
  say(`  GET /.well-known/gozargah/openapi.json: OpenAPI ${openapi.openapi}, ${Object.keys(openapi.paths).length} paths, the problem codes of each operation\n`);
}

async function inquiries(pub: Bus, internal: Bus): Promise<void> {
  await discover(pub);
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
  say('\n=== Metering: gozargah_requests_total per bus (the first replica of each; the report below is the fleet\'s) ===\n');
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
    say('\n=== Redis: where the fleet counts quotas, rate limits and usage (redis-server, append-only file) ===\n');
    const keys = auditKeys();
    const redis = await startRedis({ aof: true });
    stops.push(() => redis.close());
    say(`  ${redis.url}\n`);
    operator = await startOperator(credentials.operator, 'demo-operator-0', ['--redis', redis.url, '--usage-seconds', '2']);
    stops.push(() => (operator as RunningOperator).stop());
    say('\n=== kubectl apply -f examples/ ===\n');
    say(await cluster.run(['apply', '-f', join(ROOT, 'examples')]));
    // Dataplane processes with the arguments (and the rights) a pod would have: two replicas of
    // the public bus, one of the internal bus, all counting in Redis.
    for (const [name, replicas] of [['public', 2], ['internal', 1]] as const) {
      const bus = await startBus(name, replicas, credentials.dataplane, redis, keys);
      buses.push(bus);
      stops.push(async () => {
        for (const dp of bus.replicas) await dp.stop();
      });
    }
    say('\n=== Waiting until every object is Ready (accepted, resolved, served by its bus) ===\n');
    await kubectlWait(cluster, ['--for=condition=Ready', '-A', '--all', 'serviceproviders,inquiryroutes,clientbindings']);
    say(await cluster.run(['get', 'gozargah', '-A']));

    const [pub, internal] = buses as [Bus, Bus];
    await inquiries(pub, internal);
    await fleetQuota(cluster, pub);
    await metering(buses);
    if (KEEP) {
      say(`\n=== Up. Explore it; Ctrl-C stops everything ===
  export KUBECONFIG=${cluster.kubeconfig} PATH=${join(cluster.dir, 'bin')}:$PATH
  kubectl get gozargah -A
  kubectl describe inquiryroute -n civil-registry person-by-national-id
  curl -H 'x-api-key: ${SNAPP}' ${pub.url}/civil-registry/v1/persons/0012345678
  node cli/main.ts report --redis ${redis.url} --month ${new Date().toISOString().slice(0, 7)}
  public bus ${pub.replicas.map((r) => r.url).join(' and ')} (admin ${pub.admin}), internal bus ${internal.url} (admin ${internal.admin}), operator admin ${operator.adminUrl}
  (the keys are DEMO ONLY, published in examples/)\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
    }
    // The dataplanes stop first: their last counts reach Redis before the report reads it.
    for (const bus of buses) for (const dp of bus.replicas) await dp.stop();
    report(redis);
    evidence(buses, keys);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
  // Transactions: the chain's own lines (its start and checkpoints) begin {"type":
  const records = buses.map((b) => b.replicas.reduce((n, dp) => n + readFileSync(dp.auditPath, 'utf8').split('\n').filter((l) => l.startsWith('{"requestId"')).length, 0));
  if (records.length === 2) say(`\nAudit log: ${records[0]} records on the public bus, ${records[1]} on the internal bus (one per transaction)\n`);
  say('Demo done. Everything was stopped cleanly.\n');
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});

// make demo: the dataplane in standalone mode on examples/, one process per bus, in front of
// stand-in agencies on loopback; sample inquiries from three clients; the metering counts.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startAgencies } from './demo/agencies.ts';

const ROOT = resolve(import.meta.dirname, '..');
// DEMO ONLY keys, published in examples/.
const SNAPP = 'demo-only-snapp-2026-11-Vb7tRz4Hn8';
const BANK = 'demo-only-bankmelli-Hc4Wq7Ns1Xe6';
const EDUCATION = 'demo-only-education-Qm5Zt8Lk2Pw9';

interface Bus {
  name: string;
  url: string;
  admin: string;
  child: ChildProcess;
  audit: string;
}

async function startBus(name: string, dir: string): Promise<Bus> {
  const audit = join(dir, `audit-${name}.jsonl`);
  const child = spawn(process.execPath, [join(ROOT, 'dataplane/main.ts'), '--manifests', join(ROOT, 'examples'), '--bus', name, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--audit-log', audit], {
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let log = '';
  const listening = await new Promise<{ listen: string; admin: string }>((res, rej) => {
    child.stderr?.on('data', (c: Buffer) => {
      log += c.toString();
      const line = log.split('\n').find((l) => l.includes('"listening"'));
      if (line !== undefined) res(JSON.parse(line) as { listen: string; admin: string });
    });
    child.once('exit', (code) => rej(new Error(`the ${name} dataplane exited (${code}):\n${log}`)));
  });
  return { name, url: `http://${listening.listen}`, admin: `http://${listening.admin}`, child, audit };
}

async function ask(bus: Bus, who: string, method: string, path: string, key: string | null, body?: unknown): Promise<number> {
  const headers: Record<string, string> = {};
  if (key !== null) headers['x-api-key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${bus.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const refusal = res.headers.get('x-gozargah-error');
  const from = refusal === null ? 'agency' : `bus refused: ${refusal}`;
  process.stdout.write(`\n[${bus.name}] ${who}: ${method} ${path}\n  -> ${res.status} (${from}) ${text.length > 220 ? `${text.slice(0, 220)}...` : text}\n`);
  return res.status;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-demo-'));
  const agencies = await startAgencies();
  const buses = await Promise.all([startBus('public', dir), startBus('internal', dir)]);
  const [pub, internal] = buses as [Bus, Bus];
  try {
    process.stdout.write('\n=== Allowed: Snapp (ride-hailing, public bus) checks a driver ===');
    await ask(pub, 'snapp', 'GET', '/civil-registry/v1/persons/0012345678', SNAPP);
    await ask(pub, 'snapp', 'GET', '/post/v1/addresses/1591634311', SNAPP);

    process.stdout.write('\n\n=== Refused: what the bus says, and why ===');
    await ask(pub, 'snapp', 'GET', '/health-insurance/v1/booklets/B-77/validity', SNAPP);
    await ask(pub, 'an unknown caller', 'GET', '/civil-registry/v1/persons/0012345678', 'demo-only-not-a-real-key-000000');
    await ask(pub, 'a caller with no key', 'GET', '/civil-registry/v1/persons/0012345678', null);
    await ask(internal, 'bank-melli', 'GET', '/health-insurance/v1/booklets/B-77/validity', BANK);
    await ask(internal, 'bank-melli', 'POST', '/education/v1/literacy-inquiries', BANK, { nationalId: '12' });

    process.stdout.write('\n\n=== Allowed on the internal bus ===');
    await ask(internal, 'ministry-of-education', 'GET', '/health-insurance/v1/booklets/B-77/validity', EDUCATION);
    await ask(internal, 'bank-melli', 'POST', '/education/v1/literacy-inquiries', BANK, { nationalId: '0012345678' });

    process.stdout.write('\n\n=== Rate-limited: bank-melli sends 60 inquiries at once (20/s, burst 40) ===\n');
    const statuses = await Promise.all(
      Array.from({ length: 60 }, () => fetch(`${internal.url}/civil-registry/v1/persons/0012345678`, { headers: { 'x-api-key': BANK } }).then(async (r) => (await r.arrayBuffer(), r.status))),
    );
    const tally = new Map<number, number>();
    for (const s of statuses) tally.set(s, (tally.get(s) ?? 0) + 1);
    process.stdout.write(`  -> ${[...tally].map(([s, n]) => `${n} x ${s}`).join(', ')}\n`);
    await ask(internal, 'bank-melli', 'GET', '/civil-registry/v1/persons/0012345678', BANK);

    process.stdout.write('\n=== Metering: gozargah_requests_total per bus ===\n');
    for (const bus of buses) {
      const metrics = await (await fetch(`${bus.admin}/metrics`)).text();
      for (const line of metrics.split('\n').filter((l) => l.startsWith('gozargah_requests_total{'))) {
        const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
        process.stdout.write(`  [${bus.name}] client=${labels['client'] || '-'} route=${labels['route'] || '-'} code=${labels['code']}: ${line.slice(line.lastIndexOf(' ') + 1)}\n`);
      }
    }
  } finally {
    for (const bus of buses) bus.child.kill('SIGTERM');
    await Promise.all(buses.map((b) => new Promise((r) => (b.child.exitCode === null ? b.child.once('exit', r) : r(null)))));
    for (const a of agencies) a.close();
  }
  const records = buses.map((b) => readFileSync(b.audit, 'utf8').split('\n').filter((l) => l.length > 0).length);
  process.stdout.write(`\nAudit log: ${records[0]} records on the public bus, ${records[1]} on the internal bus (one per transaction), in ${dir}\n`);
  process.stdout.write('Demo done. Everything was stopped cleanly.\n');
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});

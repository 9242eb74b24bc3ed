// make bench-memory: resident memory of a dataplane serving the 10,000-route / 5,000-binding
// snapshot, against one serving 10 routes / 10 bindings. Not part of make test.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compile } from '../compiler/index.ts';
import { scaleObjects } from '../test/helpers/scale.ts';
import { IMAGE_NODE_FLAGS } from './processes.ts';

const ROOT = resolve(import.meta.dirname, '..');

async function residentMB(routes: number, bindings: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-mem-'));
  const file = join(dir, 'snapshot.json');
  // The bare snapshot of the bus, as the cluster source delivers it (no statuses).
  writeFileSync(file, JSON.stringify(compile({ objects: scaleObjects(routes, bindings), now: new Date().toISOString() }).snapshots['default']));
  const child = spawn(process.execPath, [...IMAGE_NODE_FLAGS, join(ROOT, 'dataplane/main.ts'), '--snapshot', file, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--audit-log', join(dir, 'audit.jsonl')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((res, rej) => {
    child.stderr?.on('data', (c: Buffer) => {
      log += c.toString();
      if (log.includes('"listening"') && log.includes('"snapshot loaded"')) res();
    });
    child.once('exit', (code) => rej(new Error(`dataplane exited ${code}: ${log}`)));
  });
  await new Promise((r) => setTimeout(r, 1000)); // let the load's garbage be collected
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return Math.round(kb / 1024);
}

const small = await residentMB(10, 10);
const big = await residentMB(10_000, 5_000);
process.stdout.write(`dataplane resident memory: ${small} MB with 10 routes / 10 bindings, ${big} MB with 10,000 routes / 5,000 bindings\n`);

#!/usr/bin/env node
// gozargah-operator: watches the three kinds, compiles them, publishes each bus's snapshot and
// writes status. Every replica watches (a warm standby); only the holder of the leader Lease writes.
import type { AddressInfo } from 'node:net';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { createAdminServer } from './admin.ts';
import { ArgsError, parseOperatorArgs, USAGE, type OperatorArgs } from './args.ts';
import { Controller, type Log } from './controller.ts';
import { LeaderElector } from './leader.ts';
import { OperatorMetrics } from './metrics.ts';

const verbose = process.env.GOZARGAH_LOG_LEVEL === 'debug';
const log: Log = (record) => {
  if (record.level === 'debug' && !verbose) return;
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'operator', ...record })}\n`);
};

async function main(): Promise<void> {
  let args: OperatorArgs;
  try {
    args = parseOperatorArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ArgsError) {
      process.stderr.write(`gozargah-operator: ${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw err;
  }
  const kc = new KubeConfig();
  if (args.kubeconfig === null) kc.loadFromCluster();
  else kc.loadFromFile(args.kubeconfig);

  const metrics = new OperatorMetrics();
  const usage = args.redis === null ? null : { target: args.redis, intervalMs: args.usageSeconds * 1000 };
  const controller = new Controller({
    kc,
    namespace: args.namespace,
    debounceMs: args.debounceMs,
    resyncMs: args.rewatchSeconds * 1000,
    log,
    metrics,
    usage,
    buses: args.buses,
    // A test hook only (test/integration/compile-off-loop.test.ts): a compile made to outlast the Lease.
    compileDelayMs: Number(process.env['GOZARGAH_TEST_COMPILE_DELAY_MS'] ?? 0) || 0,
  });
  const elector = new LeaderElector(kc.makeApiClient(CoordinationV1Api), {
    namespace: args.namespace,
    name: args.leaseName,
    identity: args.identity,
    leaseSeconds: args.leaseSeconds,
    log,
    onStartedLeading: () => {
      metrics.leading = true;
      controller.lead();
    },
    onStoppedLeading: () => {
      // Another replica may be writing already: stop at once, as client-go's controllers do.
      metrics.leading = false;
      process.exit(1);
    },
  });
  const admin = createAdminServer({
    metrics,
    // Redis is not part of ready: without it only status.usage waits; everything else goes on.
    ready: () => controller.synced,
    state: () => ({ leader: elector.leading, identity: args.identity, lastReconcile: controller.lastReconcile, ...(args.redis === null ? {} : { usage: controller.usageState() }) }),
  });
  await new Promise<void>((resolve, reject) => {
    admin.once('error', reject);
    admin.listen(args.adminListen.port, args.adminListen.host, resolve);
  });
  const address = admin.address() as AddressInfo;
  log({ level: 'info', msg: 'started', identity: args.identity, namespace: args.namespace, admin: `${address.address}:${address.port}` });

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log({ level: 'info', msg: 'shutting down', signal });
    await controller.stop();
    await elector.stop(); // hands the Lease over at once instead of making the standby wait it out
    await metrics.shutdown().catch(() => {});
    admin.close();
    admin.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // Watch first (a standby keeps its caches warm), then compete for the Lease.
  await controller.start();
  log({ level: 'info', msg: 'caches synced' });
  if (!stopping) elector.start();
}

void main();

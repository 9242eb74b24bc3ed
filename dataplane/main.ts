#!/usr/bin/env node
// gozargah-dataplane: the proxy every inquiry passes through.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ArgsError, parseDataplaneArgs, USAGE, type DataplaneArgs } from './args.ts';
import { createAdminServer } from './admin.ts';
import { ManifestsSource } from './config/manifests.ts';
import { SnapshotFileSource } from './config/snapshot-file.ts';
import type { ConfigSource } from './config/source.ts';
import { Loader, type Log } from './loader.ts';
import { Metering } from './metering.ts';
import { Pipeline } from './pipeline.ts';

const log: Log = (record) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'dataplane', ...record })}\n`);
};

function trafficServer(args: DataplaneArgs, pipeline: Pipeline): Server {
  if (args.tlsCert === null || args.tlsKey === null) return createHttpServer({ keepAliveTimeout: 65_000 }, pipeline.handle);
  return createHttpsServer(
    {
      cert: readFileSync(args.tlsCert),
      key: readFileSync(args.tlsKey),
      ca: args.clientCa === null ? undefined : readFileSync(args.clientCa),
      // Ask for a certificate, but let API-key clients in; the pipeline decides.
      requestCert: args.clientCa !== null,
      rejectUnauthorized: false,
      keepAliveTimeout: 65_000,
    },
    pipeline.handle,
  );
}

function listen(server: Server, where: { host: string; port: number }): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => resolve(server.address() as AddressInfo));
  });
}

async function main(): Promise<void> {
  let args: DataplaneArgs;
  try {
    args = parseDataplaneArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ArgsError) {
      process.stderr.write(`gozargah-dataplane: ${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw err;
  }
  let draining = false;
  let pipeline: Pipeline | null = null;
  let loader: Loader | null = null;
  const metering: Metering = new Metering({
    bus: args.bus,
    auditLog: args.auditLog,
    gauges: () => ({
      generation: pipeline?.runtime?.generation ?? 0,
      openBreakers: new Map([...(loader?.state.providers.values() ?? [])].map(({ ctx }) => [ctx.id, ctx.breaker.state === 'closed' ? 0 : 1])),
    }),
  });
  pipeline = new Pipeline({ metering });
  loader = new Loader(pipeline, metering, log);
  const source: ConfigSource = args.manifests !== null ? new ManifestsSource(args.manifests, args.bus, log) : new SnapshotFileSource(args.snapshot as string, args.bus);
  source.start(loader.offer, loader.refuse);

  const traffic = trafficServer(args, pipeline);
  const admin = createAdminServer({ bus: args.bus, pipeline, loader, metering, draining: () => draining });
  const served = pipeline;
  const [trafficAddress, adminAddress] = await Promise.all([listen(traffic, args.listen), listen(admin, args.adminListen)]);
  log({ level: 'info', msg: 'listening', bus: args.bus, listen: `${trafficAddress.address}:${trafficAddress.port}`, admin: `${adminAddress.address}:${adminAddress.port}`, tls: args.tlsCert !== null });

  const shutdown = (signal: string): void => {
    if (draining) return;
    draining = true;
    served.drain();
    log({ level: 'info', msg: 'shutting down', signal, inFlight: served.inFlight, graceSeconds: args.graceSeconds });
    traffic.close();
    traffic.closeIdleConnections();
    const deadline = Date.now() + args.graceSeconds * 1000;
    const wait = setInterval(() => {
      if (served.inFlight > 0 && Date.now() < deadline) return;
      clearInterval(wait);
      if (served.inFlight > 0) log({ level: 'warn', msg: 'grace period over; closing connections', inFlight: served.inFlight });
      traffic.closeAllConnections();
      source.stop();
      void metering.shutdown().finally(() => {
        log({ level: 'info', msg: 'stopped', served: metering.served });
        admin.close();
        admin.closeAllConnections();
        process.exit(0);
      });
    }, 20);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

void main();

#!/usr/bin/env node
// gozargah-dataplane: the proxy every inquiry passes through.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import { ArgsError, parseDataplaneArgs, USAGE, type DataplaneArgs } from './args.ts';
import { createAdminServer } from './admin.ts';
import type { ClusterMode } from './config/cluster-mode.ts';
import { ManifestsSource } from './config/manifests.ts';
import { SnapshotFileSource } from './config/snapshot-file.ts';
import type { ConfigSource } from './config/source.ts';
import { AuditKeyError, publicKeyPem, pseudonymKeyId, readPseudonymKey, readSigningKey, type SigningKey } from '../api/audit/index.ts';
import { Accounting } from './accounting.ts';
import { AuditChain, type Checkpoint } from './audit-chain.ts';
import { StateDir } from './state-dir.ts';
import { Loader, type Log } from './loader.ts';
import { DEFAULT_JWKS_OPTIONS, JwksRegistry } from './jwks.ts';
import { Metering, type QuotaUse } from './metering.ts';
import { Pipeline } from './pipeline.ts';

// A reader of stdout or stderr that went away (EPIPE) must not take the process down: the audit
// log counts its own failures (audit-sink.ts), and a log line with nowhere to go is let go.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

/** Past this many bytes waiting for a slow stderr reader, log lines are dropped rather than held in memory. */
const LOG_BACKLOG = 1 << 20;

const log: Log = (record) => {
  if (process.stderr.writableLength > LOG_BACKLOG) return;
  try {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), component: 'dataplane', ...record })}\n`);
  } catch {
    // stderr is a file on a full disk (written synchronously) or closed: nowhere left to say so
  }
};

function trafficServer(args: DataplaneArgs, pipeline: Pipeline): Server {
  const server =
    args.tlsCert === null || args.tlsKey === null
      ? createHttpServer({ keepAliveTimeout: 65_000 }, pipeline.handle)
      : createHttpsServer(
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
  // Expect: 100-continue is answered by the pipeline once it would read the body (Node would
  // send 100 Continue at once, before the client is even authenticated).
  server.on('checkContinue', pipeline.handleContinue);
  return server;
}

/** Cluster mode, loaded only when asked for (see config/cluster-mode.ts). */
async function clusterMode(args: DataplaneArgs): Promise<ClusterMode | null> {
  if (args.namespace === null) return null;
  const { clusterMode: start } = await import('./config/cluster-mode.ts');
  return start({ ...args, namespace: args.namespace }, log);
}

/** args.ts has checked that exactly one source was given. */
function configSource(args: DataplaneArgs, cluster: ClusterMode | null): ConfigSource {
  if (cluster !== null) return cluster.source;
  if (args.manifests !== null) return new ManifestsSource(args.manifests, args.bus, log);
  return new SnapshotFileSource(args.snapshot as string, args.bus);
}

/** The quotas of the bindings in force, for the gozargah_quota_used_ratio gauge (read at scrape time). */
function quotaUse(pipeline: Pipeline | null, accounting: Accounting): QuotaUse[] {
  const snapshot = pipeline?.runtime?.snapshot;
  if (snapshot === undefined) return [];
  const now = Date.now();
  const use: QuotaUse[] = [];
  for (const b of snapshot.bindings) {
    const quota = accounting.quota(b.id);
    if (quota !== undefined) use.push({ binding: b.id, client: b.clientId, ratio: quota.usedRatio(now) });
  }
  return use;
}

interface AuditKeys {
  signing: SigningKey | null;
  pseudonym: Buffer | null;
}

/** The audit keys, read before anything starts: a key that cannot be used stops the start, naming the file. */
function auditKeys(args: DataplaneArgs): AuditKeys {
  try {
    return {
      signing: args.auditSigningKey === null ? null : readSigningKey(args.auditSigningKey),
      pseudonym: args.auditPseudonymKey === null ? null : readPseudonymKey(args.auditPseudonymKey),
    };
  } catch (err) {
    if (!(err instanceof AuditKeyError)) throw err;
    process.stderr.write(`gozargah-dataplane: ${err.message}\n`);
    process.exit(2);
  }
}

/**
 * This run's audit chain, naming the last checkpoint of the previous run when --state-dir kept
 * it; and what happens to a checkpoint once it is in the audit file: its copy in the process
 * log (the external record verify compares with) and the head kept for the next run.
 */
function auditChain(args: DataplaneArgs, keys: AuditKeys): { chain: AuditChain | null; checkpointed: (c: Checkpoint) => void } {
  if (!args.auditEvidence) return { chain: null, checkpointed: () => {} };
  const state = args.stateDir === null ? null : new StateDir(args.stateDir, log);
  const chain = new AuditChain({
    bus: args.bus,
    replica: args.replica,
    signingKey: keys.signing,
    pseudonymKeyId: keys.pseudonym === null ? null : pseudonymKeyId(keys.pseudonym),
    previous: state?.loadAuditHead(args.bus) ?? null,
  });
  log({ level: 'info', msg: 'audit chain started', chain: chain.id, signed: keys.signing !== null, keyId: chain.keyId, pseudonyms: keys.pseudonym !== null });
  const checkpointed = (c: Checkpoint): void => {
    log({ level: 'info', msg: 'audit checkpoint', chain: c.head.chain, seq: c.head.seq, reason: c.reason, line: c.line });
    state?.saveAuditHead(args.bus, c.head, c.reason === 'shutdown');
  };
  return { chain, checkpointed };
}

function listen(server: Server, where: { host: string; port: number }): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => resolve(server.address() as AddressInfo));
  });
}

/** How long idle keep-alive connections are left to their clients at shutdown before they are closed. */
const IDLE_DRAIN_MS = 1_000;

/** The server's open client connections, kept current. */
function openConnections(server: Server): Set<Socket> {
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return open;
}

/**
 * Stops accepting connections but leaves the open ones alone. http.Server#close would also
 * close every idle keep-alive connection at once (Node 19 and later), racing requests that
 * clients are sending on them.
 */
function stopAccepting(server: Server): void {
  NetServer.prototype.close.call(server);
}

/** Resolves when `done()` holds (checked every 20 ms), or after `ms` at the latest. */
function settle(done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve) => {
    const poll = (): void => {
      if (done() || Date.now() >= deadline) resolve();
      else setTimeout(poll, 20);
    };
    poll();
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
  const keys = auditKeys(args);
  const accounting = new Accounting({ bus: args.bus, replica: args.replica, redis: args.redis, redisUnavailable: args.redisUnavailable, stateDir: args.stateDir, log });
  accounting.start();
  const evidence = auditChain(args, keys);
  const metering: Metering = new Metering({
    bus: args.bus,
    auditLog: args.auditLog,
    auditQueueBytes: args.auditQueueBytes,
    auditUnavailable: args.auditUnavailable,
    log,
    gauges: () => ({
      generation: pipeline?.runtime?.generation ?? 0,
      openBreakers: new Map([...(loader?.state.providers.values() ?? [])].map(({ ctx }) => [ctx.id, ctx.breaker.state === 'closed' ? 0 : 1])),
      quotas: quotaUse(pipeline, accounting),
    }),
    accounting,
    ...evidence,
    checkpointMs: args.auditCheckpointMs,
  });
  // SIGHUP (logrotate's postrotate, or a closed terminal) reopens the audit file; Node's default would end the process.
  process.on('SIGHUP', () => {
    log({ level: 'info', msg: 'SIGHUP: reopening the audit log' });
    metering.reopenAudit();
  });
  pipeline = new Pipeline({ metering, accounting, evidence: args.auditEvidence, pseudonymKey: keys.pseudonym });
  const cluster = await clusterMode(args);
  const loaded = pipeline;
  loader = new Loader(args.bus, pipeline, metering, accounting, log, (generation, hash) => {
    // The whole bus snapshot (a sidecar serves part of it): what the cache keeps and reports name.
    const whole = loader?.inForce ?? null;
    if (cluster !== null && loaded.runtime?.snapshot.hash === hash && whole?.hash === hash) cluster.loaded(generation, whole);
  }, new JwksRegistry({ ...DEFAULT_JWKS_OPTIONS, refreshMs: args.jwksRefreshMs, minRefreshMs: args.jwksMinRefreshMs }, log), args.sidecar);
  if (cluster?.cached) loader.offer(cluster.cached);
  const source = configSource(args, cluster);
  source.start(loader.offer, loader.refuse);

  const traffic = trafficServer(args, pipeline);
  const connections = openConnections(traffic);
  const audit = {
    evidence: args.auditEvidence,
    chain: evidence.chain?.id ?? null,
    keyId: keys.signing?.keyId ?? null,
    publicKey: keys.signing === null ? null : publicKeyPem(keys.signing.publicKey),
    pseudonyms: keys.pseudonym !== null,
  };
  const admin = createAdminServer({ bus: args.bus, audit, pipeline, loader, metering, accounting, draining: () => draining });
  const served = pipeline;
  const [trafficAddress, adminAddress] = await Promise.all([listen(traffic, args.listen), listen(admin, args.adminListen)]);
  log({ level: 'info', msg: 'listening', bus: args.bus, listen: `${trafficAddress.address}:${trafficAddress.port}`, admin: `${adminAddress.address}:${adminAddress.port}`, tls: args.tlsCert !== null });

  const shutdown = async (signal: string): Promise<void> => {
    if (draining) return;
    draining = true;
    served.drain();
    // Not ready any more: the operator must stop counting this replica as serving.
    const reported = cluster?.stopReporting();
    log({ level: 'info', msg: 'shutting down', signal, inFlight: served.inFlight, graceSeconds: args.graceSeconds });
    const graceEnds = Date.now() + args.graceSeconds * 1000;
    stopAccepting(traffic);
    // Every answer now says Connection: close, so busy connections end after their next answer
    // without a race. Idle ones are closed only after IDLE_DRAIN_MS: closing a keep-alive
    // connection at once resets any request a client was sending on it at that moment.
    await settle(() => connections.size === 0, Math.min(IDLE_DRAIN_MS, args.graceSeconds * 1000));
    traffic.closeIdleConnections();
    await settle(() => served.inFlight === 0, Math.max(0, graceEnds - Date.now()));
    if (served.inFlight > 0) log({ level: 'warn', msg: 'grace period over; closing connections', inFlight: served.inFlight });
    served.cut();
    traffic.closeAllConnections();
    // A request cut off just now is recorded a few ticks later, once its upstream call has
    // aborted: wait for it (briefly), so every transaction reaches the audit log.
    await settle(() => served.unrecorded <= 0, 1000);
    source.stop();
    await reported;
    await cluster?.flush(); // a snapshot loaded during the grace period is cached too
    // The last counts go to Redis (or the state directory) alongside the last audit records.
    await Promise.all([
      accounting.close().catch((err: unknown) => log({ level: 'error', msg: 'accounting shutdown failed', error: (err as Error).message })),
      metering.shutdown().catch((err: unknown) => log({ level: 'error', msg: 'metering shutdown failed', error: (err as Error).message })),
    ]);
    log({ level: 'info', msg: 'stopped', served: metering.served });
    admin.close();
    admin.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

void main();

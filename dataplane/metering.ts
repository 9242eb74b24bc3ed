// Metering: Prometheus metrics through OpenTelemetry, and one audit record per transaction
// (audit-log.ts). Histograms are by route only (the agency's time by route and provider): per
// client per route would not scale to 5,000 bindings. Every series carries the replica's bus (a
// constant label from the resource), so a Prometheus scraping several buses tells them apart.
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Accounting } from './accounting.ts';
import type { AuditChain, Checkpoint } from './audit-chain.ts';
import { AuditLog, type AuditStatus } from './audit-log.ts';
import { DROP_REASONS } from './audit-queue.ts';
import type { Log } from './loader.ts';

export interface Transaction {
  requestId: string;
  client: string;
  binding: string;
  provider: string;
  route: string;
  method: string;
  status: number;
  /** the bus's error code, `ok` for an agency answer below 500, `upstream_error` for 5xx */
  code: string;
  start: number;
  durationMs: number;
  upstreamMs: number;
  requestBytes: number;
  responseBytes: number;
  params: Record<string, string> | null;
  /** body fields the route marks sensitive, as pseudonyms (only with a pseudonym key) */
  fields: Record<string, string[]> | null;
  /** SHA-256 (hex) of the request body as received; null when it was never read */
  requestHash: string | null;
  /** SHA-256 (hex) of the response body as the client received it */
  responseHash: string | null;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The bus's own time on a forwarded request is mostly well under a millisecond. */
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface MeteringOptions {
  bus: string;
  /** file path, or null for stdout */
  auditLog: string | null;
  /** the audit queue's bound, in bytes */
  auditQueueBytes: number;
  /** while the audit sink cannot take records: keep serving (and count the loss), or refuse calls */
  auditUnavailable: AuditUnavailable;
  log: Log;
  /** called on each metrics collection */
  gauges: () => { generation: number; openBreakers: Map<string, number>; quotas: QuotaUse[] };
  /** counts every transaction for the fleet (usage in Redis); null in tools that only meter */
  accounting: Accounting | null;
  /** the audit hash chain; null with --audit-evidence=off */
  chain: AuditChain | null;
  /** a checkpoint at least this often while records are added */
  checkpointMs: number;
  /** a checkpoint reached the audit file */
  checkpointed: (checkpoint: Checkpoint) => void;
}

export type AuditUnavailable = 'serve' | 'refuse';

/** Bounded wait for the audit queue at shutdown: within the chart's 30 s with the 25 s grace. */
const AUDIT_CLOSE_MS = 3000;

/** A binding's quota as this replica knows it: its own count, or with --redis the fleet's share leased at the last lease. */
export interface QuotaUse {
  binding: string;
  client: string;
  /** used / limit in the current period */
  ratio: number;
}

export class Metering {
  #exporter: PrometheusExporter;
  #provider: MeterProvider;
  /** counted here, read by OTel on collection: one Map lookup per request instead of OTel's attribute hashing */
  #requests = new RequestTally();
  #rejections = new Tally();
  #duration: Histogram;
  #upstreamDuration: Histogram;
  #overhead: Histogram;
  #reloads: Counter;
  #audit: AuditLog;
  #accounting: Accounting | null;
  /** serve mode: auditAvailable() is always true, without asking the audit log */
  #auditServe: boolean;
  /** attribute objects reused per route: OTel hashes them either way, we avoid the garbage */
  #routeAttrs = new Map<string, Attributes>();
  /** route and provider, per route (a route has one provider; a new snapshot may change it) */
  #upstreamAttrs = new Map<string, Attributes>();
  served = 0;

  constructor(options: MeteringOptions) {
    // The resource's bus becomes a label of every series (withResourceConstantLabels).
    this.#exporter = new PrometheusExporter({ preventServerStart: true, withResourceConstantLabels: /^bus$/ });
    this.#provider = new MeterProvider({
      readers: [this.#exporter],
      resource: resourceFromAttributes({ 'service.name': 'gozargah-dataplane', bus: options.bus }),
    });
    const meter = this.#provider.getMeter('gozargah-dataplane');
    const requests = meter.createObservableCounter('gozargah_requests', { description: 'Requests by provider, route, client and outcome code' });
    const rejections = meter.createObservableCounter('gozargah_rejections', { description: 'Requests the bus refused, by reason' });
    this.#duration = meter.createHistogram('gozargah_request_duration_seconds', {
      description: 'Time from request to response, by route',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    });
    this.#upstreamDuration = meter.createHistogram('gozargah_upstream_duration_seconds', {
      description: 'Time the agency took to answer, by route and provider',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    });
    this.#overhead = meter.createHistogram('gozargah_bus_overhead_seconds', {
      description: "The bus's own time on requests that reached the agency (time to response minus the agency's time), by route",
      unit: 's',
      advice: { explicitBucketBoundaries: OVERHEAD_BUCKETS },
    });
    this.#reloads = meter.createCounter('gozargah_snapshot_reloads', { description: 'Snapshot loads by result (loaded, rejected)' });
    const generation = meter.createObservableGauge('gozargah_snapshot_generation', { description: 'Generation of the snapshot in force' });
    const breakers = meter.createObservableGauge('gozargah_circuit_breaker_open', { description: '1 when the circuit breaker toward a provider is open' });
    const quotas = meter.createObservableGauge('gozargah_quota_used_ratio', { description: "Share of a binding's quota used this period, as this replica knows it (the operator's figure is the fleet's)" });
    const redisUp = meter.createObservableGauge('gozargah_redis_up', { description: '1 while the fleet\'s accounting store (Redis) answers, 0 while this replica decides alone; absent without --redis' });
    const redisDown = meter.createObservableCounter('gozargah_redis_unavailable_seconds', { description: 'Seconds this replica has spent without Redis' });
    const localDecisions = meter.createObservableCounter('gozargah_redis_local_decisions', { description: 'Rate and quota decisions taken on per-replica limits while Redis was away' });
    const usagePending = meter.createObservableGauge('gozargah_usage_pending_records', { description: 'Transactions counted and not yet flushed to Redis' });
    const auditWritten = meter.createObservableCounter('gozargah_audit_written_records', { description: 'Audit records the sink has taken' });
    const auditDropped = meter.createObservableCounter('gozargah_audit_dropped_records', { description: 'Audit records lost, by reason (queue_full, write_error, shutdown)' });
    const auditQueued = meter.createObservableGauge('gozargah_audit_queued_records', { description: 'Audit records waiting for the sink' });
    const auditUp = meter.createObservableGauge('gozargah_audit_sink_up', { description: '1 while the audit sink takes writes, 0 while it is down or gone' });
    meter.addBatchObservableCallback(
      (result) => {
        const g = options.gauges();
        result.observe(generation, g.generation);
        for (const [provider, open] of g.openBreakers) result.observe(breakers, open, { provider });
        for (const q of g.quotas) result.observe(quotas, q.ratio, { binding: q.binding, client: q.client });
        this.#requests.observe((count, attrs) => result.observe(requests, count, attrs));
        this.#rejections.observe((count, attrs) => result.observe(rejections, count, attrs));
        const audit = this.#audit.status();
        result.observe(auditWritten, audit.writtenRecords);
        for (const reason of DROP_REASONS) result.observe(auditDropped, audit.droppedRecords[reason], { reason });
        result.observe(auditQueued, audit.queuedRecords);
        result.observe(auditUp, audit.state === 'up' ? 1 : 0);
        const accounting = this.#accounting?.status();
        if (accounting?.redis != null) {
          result.observe(redisUp, accounting.redis.state === 'up' ? 1 : 0);
          result.observe(redisDown, this.#accounting?.unavailableSeconds() ?? 0);
          result.observe(localDecisions, accounting.localDecisions);
          result.observe(usagePending, accounting.pendingRecords);
        }
      },
      [generation, breakers, quotas, requests, rejections, auditWritten, auditDropped, auditQueued, auditUp, redisUp, redisDown, localDecisions, usagePending],
    );
    this.#audit = new AuditLog({ path: options.auditLog, bus: options.bus, maxQueueBytes: options.auditQueueBytes, log: options.log, chain: options.chain, checkpointMs: options.checkpointMs, checkpointed: options.checkpointed });
    this.#accounting = options.accounting;
    this.#auditServe = options.auditUnavailable === 'serve';
  }

  record(t: Transaction): void {
    this.served++;
    this.#requests.add(t);
    let routeAttrs = this.#routeAttrs.get(t.route);
    if (routeAttrs === undefined) this.#routeAttrs.set(t.route, (routeAttrs = { route: t.route }));
    this.#duration.record(t.durationMs / 1000, routeAttrs);
    if (t.upstreamMs >= 0) {
      let upstreamAttrs = this.#upstreamAttrs.get(t.route);
      if (upstreamAttrs?.['provider'] !== t.provider) this.#upstreamAttrs.set(t.route, (upstreamAttrs = { route: t.route, provider: t.provider }));
      this.#upstreamDuration.record(t.upstreamMs / 1000, upstreamAttrs);
      this.#overhead.record(Math.max(0, t.durationMs - t.upstreamMs) / 1000, routeAttrs);
    }
    if (t.code !== 'ok' && t.code !== 'upstream_error') this.#rejections.add(t.code, t, reasonAttrs);
    this.#accounting?.count(t);
    this.#audit.write(t);
  }

  reload(result: 'loaded' | 'rejected'): void {
    this.#reloads.add(1, { result });
  }

  serveMetrics(req: IncomingMessage, res: ServerResponse): void {
    this.#exporter.getMetricsRequestHandler(req, res);
  }

  /**
   * Asked per request: false in refuse mode while the audit sink is down or its queue is nearly
   * full, so the call is refused (audit_unavailable) instead of served unaccounted for.
   */
  auditAvailable(): boolean {
    return this.#auditServe || this.#audit.available;
  }

  auditStatus(): AuditStatus & { unavailable: AuditUnavailable } {
    return { ...this.#audit.status(), unavailable: this.#auditServe ? 'serve' : 'refuse' };
  }

  /** SIGHUP: reopen the audit file (after logrotate's rename, or a deletion). */
  reopenAudit(): void {
    this.#audit.reopen();
  }

  flush(): void {
    this.#audit.flush();
  }

  /** Writes the queued audit records (waiting at most `auditMs`; the rest are counted as dropped) and stops the metrics. */
  async shutdown(auditMs = AUDIT_CLOSE_MS): Promise<void> {
    await Promise.all([this.#audit.close(auditMs), this.#provider.shutdown()]);
  }
}

const reasonAttrs = (t: Transaction): Attributes => ({ reason: t.code });

interface Count {
  attrs: Attributes;
  count: number;
}

/**
 * Requests by provider, route, client and code, in nested Maps keyed by the snapshot's own
 * strings: no key is built per request, and the attributes once per label set.
 */
class RequestTally {
  #byProvider = new Map<string, Map<string, Map<string, Map<string, Count>>>>();

  add(t: Transaction): void {
    const byCode = inner(inner(inner(this.#byProvider, t.provider), t.route), t.client);
    const entry = byCode.get(t.code);
    if (entry !== undefined) entry.count++;
    else byCode.set(t.code, { attrs: { provider: t.provider, route: t.route, client: t.client, code: t.code }, count: 1 });
  }

  observe(each: (count: number, attrs: Attributes) => void): void {
    for (const byRoute of this.#byProvider.values())
      for (const byClient of byRoute.values()) for (const byCode of byClient.values()) for (const { attrs, count } of byCode.values()) each(count, attrs);
  }
}

/** The Map under `key`, added when missing. */
function inner<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = new Map()));
  return value;
}

/** Counts per label set, keyed by a string; the attributes are built once per key. */
class Tally {
  #counts = new Map<string, { attrs: Attributes; count: number }>();

  add(key: string, t: Transaction, attrsOf: (t: Transaction) => Attributes): void {
    const entry = this.#counts.get(key);
    if (entry !== undefined) entry.count++;
    else this.#counts.set(key, { attrs: attrsOf(t), count: 1 });
  }

  observe(each: (count: number, attrs: Attributes) => void): void {
    for (const { attrs, count } of this.#counts.values()) each(count, attrs);
  }
}

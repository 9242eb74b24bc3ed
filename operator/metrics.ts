// The operator's Prometheus metrics, through OpenTelemetry as the dataplane's are: how long a
// reconcile takes, how many objects stand in each condition, what each bus was last published
// as, and what failed. Everything else is read off the objects' status with kubectl.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Counter, Histogram } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { StatusEntry } from '../compiler/types.ts';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class OperatorMetrics {
  #exporter: PrometheusExporter;
  #provider: MeterProvider;
  #reconcileDuration: Histogram;
  #publishErrors: Counter;
  #statusWrites: Counter;
  #statusErrors: Counter;
  /** kind|type|status -> count, from the last reconcile */
  #conditions = new Map<string, number>();
  #published = new Map<string, number>();
  /** binding (namespace/name) -> client and the share of its quota the fleet used, from the usage loop */
  #quotaUsed = new Map<string, { client: string; ratio: number }>();
  leading = false;
  /** whether the usage loop's last read of Redis worked; null: no --redis, or not leading yet */
  redisUp: boolean | null = null;

  constructor() {
    this.#exporter = new PrometheusExporter({ preventServerStart: true });
    this.#provider = new MeterProvider({ readers: [this.#exporter], resource: resourceFromAttributes({ 'service.name': 'gozargah-operator' }) });
    const meter = this.#provider.getMeter('gozargah-operator');
    this.#reconcileDuration = meter.createHistogram('gozargah_operator_reconcile_duration_seconds', {
      description: 'Time to compile everything, publish the snapshots and write the statuses',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.#publishErrors = meter.createCounter('gozargah_operator_publish_errors', { description: 'Snapshot publishes that failed, by bus' });
    this.#statusWrites = meter.createCounter('gozargah_operator_status_writes', { description: 'Status subresource writes, by kind' });
    this.#statusErrors = meter.createCounter('gozargah_operator_status_errors', { description: 'Status writes that failed, by kind' });
    const objects = meter.createObservableGauge('gozargah_operator_objects', { description: 'Objects by kind and condition status' });
    const published = meter.createObservableGauge('gozargah_operator_published_generation', { description: 'Generation of the snapshot last published, by bus' });
    const leader = meter.createObservableGauge('gozargah_operator_leader', { description: '1 on the replica that holds the leader Lease' });
    // The same names as the dataplane's: the dataplane's figure is a replica's, this one the fleet's.
    const quotaUsed = meter.createObservableGauge('gozargah_quota_used_ratio', { description: "Share of a binding's quota the whole fleet used this period (from Redis, on the leader)" });
    const redisUp = meter.createObservableGauge('gozargah_redis_up', { description: "1 while the fleet's counts (Redis) answer the leader's usage loop, 0 while not; absent without --redis and on a standby" });
    // The names prom-client's default metrics use, so existing dashboards and alerts find them.
    const resident = meter.createObservableGauge('process_resident_memory_bytes', { description: 'Resident memory size in bytes' });
    const heapUsed = meter.createObservableGauge('nodejs_heap_size_used_bytes', { description: 'Process heap size used from Node.js in bytes' });
    meter.addBatchObservableCallback(
      (result) => {
        for (const [key, count] of this.#conditions) {
          const [kind, type, status] = key.split('|');
          result.observe(objects, count, { kind, type, status });
        }
        for (const [bus, generation] of this.#published) result.observe(published, generation, { bus });
        result.observe(leader, this.leading ? 1 : 0);
        for (const [binding, { client, ratio }] of this.#quotaUsed) result.observe(quotaUsed, ratio, { binding, client });
        if (this.redisUp !== null) result.observe(redisUp, this.redisUp ? 1 : 0);
        const memory = process.memoryUsage();
        result.observe(resident, memory.rss);
        result.observe(heapUsed, memory.heapUsed);
      },
      [objects, published, leader, quotaUsed, redisUp, resident, heapUsed],
    );
  }

  reconciled(seconds: number, statuses: readonly StatusEntry[]): void {
    this.#reconcileDuration.record(seconds);
    const counts = new Map<string, number>();
    for (const entry of statuses) {
      for (const c of entry.status.conditions) {
        const key = `${entry.kind}|${c.type}|${c.status}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    // Keep a zero for a combination that emptied, so a graph drops to 0 rather than vanishing.
    for (const key of this.#conditions.keys()) if (!counts.has(key)) counts.set(key, 0);
    this.#conditions = counts;
  }

  /** The figures of the last read of Redis (kept while Redis is unreachable). */
  quotaUsed(ratios: Map<string, { client: string; ratio: number }>): void {
    this.#quotaUsed = ratios;
  }

  published(bus: string, generation: number): void {
    this.#published.set(bus, generation);
  }

  publishFailed(bus: string): void {
    this.#publishErrors.add(1, { bus });
  }

  statusWritten(kind: string): void {
    this.#statusWrites.add(1, { kind });
  }

  statusFailed(kind: string): void {
    this.#statusErrors.add(1, { kind });
  }

  serve(req: IncomingMessage, res: ServerResponse): void {
    this.#exporter.getMetricsRequestHandler(req, res);
  }

  shutdown(): Promise<void> {
    return this.#provider.shutdown();
  }
}

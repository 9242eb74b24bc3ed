// Metering: Prometheus metrics through OpenTelemetry, and one audit record per transaction.
// Histograms are by route only: per client per route would not scale to 5,000 bindings.
import { createWriteStream, writeSync, type WriteStream } from 'node:fs';
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { IncomingMessage, ServerResponse } from 'node:http';

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
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MeteringOptions {
  bus: string;
  /** file path, or null for stdout */
  auditLog: string | null;
  /** called on each metrics collection */
  gauges: () => { generation: number; openBreakers: Map<string, number> };
}

export class Metering {
  #exporter: PrometheusExporter;
  #provider: MeterProvider;
  #requests: Counter;
  #rejections: Counter;
  #duration: Histogram;
  #upstreamDuration: Histogram;
  #reloads: Counter;
  #audit: AuditLog;
  /** attribute objects reused per label set: OTel hashes them either way, we avoid the garbage */
  #requestAttrs = new Map<string, Attributes>();
  #routeAttrs = new Map<string, Attributes>();
  #reasonAttrs = new Map<string, Attributes>();
  served = 0;

  constructor(options: MeteringOptions) {
    this.#exporter = new PrometheusExporter({ preventServerStart: true });
    this.#provider = new MeterProvider({
      readers: [this.#exporter],
      resource: resourceFromAttributes({ 'service.name': 'gozargah-dataplane', 'gozargah.bus': options.bus }),
    });
    const meter = this.#provider.getMeter('gozargah-dataplane');
    this.#requests = meter.createCounter('gozargah_requests', { description: 'Requests by provider, route, client and outcome code' });
    this.#rejections = meter.createCounter('gozargah_rejections', { description: 'Requests the bus refused, by reason' });
    this.#duration = meter.createHistogram('gozargah_request_duration_seconds', {
      description: 'Time from request to response, by route',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    });
    this.#upstreamDuration = meter.createHistogram('gozargah_upstream_duration_seconds', {
      description: 'Time the agency took to answer, by route',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    });
    this.#reloads = meter.createCounter('gozargah_snapshot_reloads', { description: 'Snapshot loads by result (loaded, rejected)' });
    const generation = meter.createObservableGauge('gozargah_snapshot_generation', { description: 'Generation of the snapshot in force' });
    const breakers = meter.createObservableGauge('gozargah_circuit_breaker_open', { description: '1 when the circuit breaker toward a provider is open' });
    meter.addBatchObservableCallback(
      (result) => {
        const g = options.gauges();
        result.observe(generation, g.generation, { bus: options.bus });
        for (const [provider, open] of g.openBreakers) result.observe(breakers, open, { provider });
      },
      [generation, breakers],
    );
    this.#audit = new AuditLog(options.auditLog);
  }

  record(t: Transaction): void {
    this.served++;
    const key = `${t.provider}\u0000${t.route}\u0000${t.client}\u0000${t.code}`;
    let attrs = this.#requestAttrs.get(key);
    if (attrs === undefined) {
      attrs = { provider: t.provider, route: t.route, client: t.client, code: t.code };
      this.#requestAttrs.set(key, attrs);
    }
    this.#requests.add(1, attrs);
    let routeAttrs = this.#routeAttrs.get(t.route);
    if (routeAttrs === undefined) this.#routeAttrs.set(t.route, (routeAttrs = { route: t.route }));
    this.#duration.record(t.durationMs / 1000, routeAttrs);
    if (t.upstreamMs >= 0) this.#upstreamDuration.record(t.upstreamMs / 1000, routeAttrs);
    if (t.code !== 'ok' && t.code !== 'upstream_error') {
      let reason = this.#reasonAttrs.get(t.code);
      if (reason === undefined) this.#reasonAttrs.set(t.code, (reason = { reason: t.code }));
      this.#rejections.add(1, reason);
    }
    this.#audit.write(t);
  }

  reload(result: 'loaded' | 'rejected'): void {
    this.#reloads.add(1, { result });
  }

  serveMetrics(req: IncomingMessage, res: ServerResponse): void {
    this.#exporter.getMetricsRequestHandler(req, res);
  }

  flush(): void {
    this.#audit.flush();
  }

  async shutdown(): Promise<void> {
    await Promise.all([this.#audit.close(), this.#provider.shutdown()]);
  }
}

/** JSON lines, batched: one write per event-loop turn instead of one per request. */
class AuditLog {
  #pending: string[] = [];
  #scheduled = false;
  #stream: WriteStream | null;
  #fd: number;

  constructor(path: string | null) {
    this.#stream = path === null ? null : createWriteStream(path, { flags: 'a' });
    this.#fd = 1;
  }

  write(t: Transaction): void {
    this.#pending.push(
      JSON.stringify({
        requestId: t.requestId,
        start: new Date(t.start).toISOString(),
        durationMs: Math.round(t.durationMs * 1000) / 1000,
        client: t.client,
        binding: t.binding,
        provider: t.provider,
        route: t.route,
        method: t.method,
        status: t.status,
        code: t.code,
        requestBytes: t.requestBytes,
        responseBytes: t.responseBytes,
        params: t.params,
      }),
    );
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const chunk = `${this.#pending.join('\n')}\n`;
    this.#pending.length = 0;
    if (this.#stream !== null) this.#stream.write(chunk);
    else writeSync(this.#fd, chunk);
  }

  /** Resolves once the file has every record: the process exits right after. */
  close(): Promise<void> {
    this.flush();
    const stream = this.#stream;
    if (stream === null) return Promise.resolve();
    return new Promise((resolve, reject) => {
      stream.once('error', reject);
      stream.end(() => resolve());
    });
  }
}

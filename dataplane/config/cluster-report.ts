// In cluster mode, this replica's report of the snapshot it serves: a Lease of its own (see
// api/snapshot/reports.ts), written when a snapshot is swapped in and renewed while the replica
// is up, deleted when it shuts down. The operator marks an object Programmed from these reports.
// A report that cannot be written is retried on the next renewal; serving never waits for it.
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { isCode } from '../../kube/api-errors.ts';
import { microTime } from '../../kube/micro-time.ts';
import {
  REPORT_BUS_ANNOTATION,
  REPORT_GENERATION_ANNOTATION,
  REPORT_HASH_ANNOTATION,
  REPORT_LABEL,
  REPORT_LEASE_SECONDS,
  REPORT_RENEW_SECONDS,
  reportLeaseName,
} from '../../api/snapshot/index.ts';


export class ServingReporter {
  #api: CoordinationV1Api;
  #namespace: string;
  #bus: string;
  #replica: string;
  #name: string;
  #log: (record: Record<string, unknown>) => void;
  #serving: { generation: number; hash: string } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> = Promise.resolve();
  #stopped = false;
  #failing = false;

  constructor(api: CoordinationV1Api, namespace: string, bus: string, replica: string, log: (record: Record<string, unknown>) => void) {
    this.#api = api;
    this.#namespace = namespace;
    this.#bus = bus;
    this.#replica = replica;
    this.#name = reportLeaseName(bus, replica);
    this.#log = log;
  }

  /** A snapshot was swapped in: report it now, then keep renewing. */
  serving(generation: number, hash: string): void {
    this.#serving = { generation, hash };
    this.#write();
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#write(), REPORT_RENEW_SECONDS * 1000);
      this.#timer.unref();
    }
  }

  /** Deletes the report: a replica shutting down serves nothing the operator may count on. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#writing;
    if (this.#serving === null) return;
    await this.#api.deleteNamespacedLease({ name: this.#name, namespace: this.#namespace }).catch(() => {});
  }

  #write(): void {
    // One write at a time, in order: a slow renewal must not overwrite a newer generation.
    this.#writing = this.#writing.then(() => this.#upsert()).then(
      () => {
        if (this.#failing) this.#log({ level: 'info', msg: 'serving report written again', lease: this.#name });
        this.#failing = false;
      },
      (err: unknown) => {
        if (!this.#failing) this.#log({ level: 'warn', msg: 'could not write the serving report; retrying', lease: this.#name, error: (err as Error).message });
        this.#failing = true;
      },
    );
  }

  async #upsert(): Promise<void> {
    if (this.#stopped || this.#serving === null) return;
    const { generation, hash } = this.#serving;
    const metadata = {
      name: this.#name,
      namespace: this.#namespace,
      labels: { [REPORT_LABEL]: 'true' },
      annotations: { [REPORT_BUS_ANNOTATION]: this.#bus, [REPORT_HASH_ANNOTATION]: hash, [REPORT_GENERATION_ANNOTATION]: String(generation) },
    };
    // MicroTime: the API server refuses a plain Date's milliseconds in a Lease.
    const spec = { holderIdentity: this.#replica, leaseDurationSeconds: REPORT_LEASE_SECONDS, renewTime: microTime(Date.now()) };
    let existing: V1Lease;
    try {
      existing = await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#namespace });
    } catch (err) {
      if (!isCode(err, 404)) throw err;
      await this.#api.createNamespacedLease({ namespace: this.#namespace, body: { metadata, spec: { ...spec, acquireTime: spec.renewTime } } });
      return;
    }
    await this.#api.replaceNamespacedLease({
      name: this.#name,
      namespace: this.#namespace,
      body: { metadata: { ...metadata, resourceVersion: existing.metadata?.resourceVersion }, spec: { ...spec, acquireTime: microTime(existing.spec?.acquireTime ?? Date.now()) } },
    });
  }
}

// Leader election through a coordination.k8s.io Lease, the way client-go's leaderelection does
// it: the holder renews every `retry`; a candidate takes the Lease over only once it has seen
// the same record unchanged for a whole lease duration (its own clock, so clock skew between
// nodes does not matter); a leader that cannot renew within `renewDeadline` stops leading
// before anyone else can start. Writes carry the resourceVersion read, so two candidates never
// both win.
import type { CoordinationV1Api, V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { describeError, isCode } from '../kube/api-errors.ts';
import { microTime } from '../kube/micro-time.ts';

const micro = (at: Date | string | undefined): V1MicroTime | undefined => (at === undefined ? undefined : microTime(at));

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseSeconds: number;
  log: (record: Record<string, unknown>) => void;
  onStartedLeading: () => void;
  /** called once, when leadership is lost; the operator exits then, as client-go's controllers do */
  onStoppedLeading: () => void;
}

export class LeaderElector {
  #api: CoordinationV1Api;
  #o: LeaderOptions;
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  /** fires when the last successful renewal is too old: armed at each renewal, from when it was sent */
  #deadline: NodeJS.Timeout | null = null;
  #ticking: Promise<void> = Promise.resolve();
  /** the last record seen from another holder, and when it was seen to change */
  #observed = '';
  #observedAt = 0;
  #retryMs: number;
  #renewDeadlineMs: number;

  constructor(api: CoordinationV1Api, options: LeaderOptions) {
    this.#api = api;
    this.#o = options;
    // client-go's defaults are 15 s / 10 s / 2 s; keep those proportions for other durations.
    this.#retryMs = Math.max(200, (options.leaseSeconds * 1000) / 7.5);
    this.#renewDeadlineMs = (options.leaseSeconds * 1000 * 2) / 3;
  }

  get leading(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#ticking = this.#tick();
  }

  /** Stops trying; a leader gives the Lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of [this.#timer, this.#deadline]) if (timer !== null) clearTimeout(timer);
    await this.#ticking; // a renewal in flight may be about to make this replica the leader
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const lease = await this.#api.readNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace });
      if (lease.spec?.holderIdentity !== this.#o.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, acquireTime: micro(lease.spec?.acquireTime), renewTime: micro(new Date()) };
      await this.#api.replaceNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace, body: lease });
    } catch (err) {
      this.#o.log({ level: 'warn', msg: 'could not release the leader Lease; a standby takes over when it expires', error: describeError(err) });
    }
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const sentAt = Date.now();
    let held = false;
    try {
      held = await this.#tryAcquireOrRenew();
    } catch (err) {
      this.#o.log({ level: 'warn', msg: 'leader election: the Lease could not be read or written', error: describeError(err) });
    }
    if (this.#stopped) return;
    if (held) {
      // Counted from when the renewal was sent, not answered: the standby's clock started no later.
      if (this.#deadline !== null) clearTimeout(this.#deadline);
      this.#deadline = setTimeout(() => this.#lose(), Math.max(0, sentAt + this.#renewDeadlineMs - Date.now()));
      if (!this.#leading) {
        this.#leading = true;
        this.#o.log({ level: 'info', msg: 'became the leader', lease: `${this.#o.namespace}/${this.#o.name}`, identity: this.#o.identity });
        this.#o.onStartedLeading();
      }
    }
    this.#timer = setTimeout(() => (this.#ticking = this.#tick()), this.#retryMs);
  }

  /**
   * No renewal succeeded within the renew deadline (the API server is unreachable, or a request
   * hangs): a standby may take over soon, so stop now, whatever is still in flight.
   */
  #lose(): void {
    if (this.#stopped || !this.#leading) return;
    this.#leading = false;
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#o.log({ level: 'error', msg: 'lost the leader Lease: could not renew it in time', lease: `${this.#o.namespace}/${this.#o.name}` });
    this.#o.onStoppedLeading();
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseSeconds } = this.#o;
    const now = micro(new Date()) as V1MicroTime;
    let lease: V1Lease;
    try {
      lease = await this.#api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!isCode(err, 404)) throw err;
      try {
        await this.#api.createNamespacedLease({
          namespace,
          body: { metadata: { name, namespace }, spec: { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
        });
        return true;
      } catch (createErr) {
        if (isCode(createErr, 409)) return false; // another candidate created it first
        throw createErr;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder !== identity && holder !== '') {
      const record = `${holder}|${String(spec.renewTime)}|${spec.leaseDurationSeconds}`;
      if (record !== this.#observed) {
        this.#observed = record;
        this.#observedAt = Date.now();
      }
      const duration = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
      if (Date.now() - this.#observedAt < duration) return false;
      this.#o.log({ level: 'info', msg: 'the leader stopped renewing; taking over', previous: holder });
    }
    const taking = holder !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: leaseSeconds,
      renewTime: now,
      acquireTime: taking ? now : micro(spec.acquireTime),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (taking && holder !== '' ? 1 : 0),
    };
    try {
      await this.#api.replaceNamespacedLease({ name, namespace, body: lease });
      return true;
    } catch (err) {
      if (isCode(err, 409)) return false; // someone wrote in between: look again next time
      throw err;
    }
  }
}

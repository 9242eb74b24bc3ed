// Kubernetes Events for condition transitions, so `kubectl describe` shows when and why an
// object became (un)ready, and for a binding's quota crossing 80% and 100% (operator/usage.ts). Events are best-effort, as client-go's recorder treats them: a failed
// Event never fails the status write it reports on, and none is waited for. They are queued and
// sent a few at a time (a first pass over 10,000 objects flips some 40,000 conditions: waiting
// for each Event would make every status write five requests long); past QUEUE_LIMIT waiting,
// new ones are dropped, as client-go drops them when its queue is full.
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Condition, Reason } from '../api/v1alpha1/index.ts';

/** The object an Event is about; uid ties the Event to this incarnation of the name. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

/** An Event that is not a condition's transition (a quota crossing 80% or 100%). */
export interface EventNote {
  type: 'Normal' | 'Warning';
  /** declared in api/v1alpha1/reasons.ts */
  reason: Reason;
  message: string;
}

export interface EventRecorder {
  /** Queues the Event; returns at once. */
  conditionChanged(object: InvolvedObject, condition: Condition): void;
  /** Queues the Event; returns at once. */
  record(object: InvolvedObject, note: EventNote): void;
  /** Resolves when every queued Event has been sent (or has failed). */
  flush(): Promise<void>;
}

const CONCURRENCY = 4;
const QUEUE_LIMIT = 5000;

/** The conditions of `next` that are new or whose status differs from `previous`. */
export function flippedConditions(previous: readonly Condition[] | undefined, next: readonly Condition[]): Condition[] {
  return next.filter((c) => previous?.find((p) => p.type === c.type)?.status !== c.status);
}

export interface RecorderOptions {
  /** source.component of every Event */
  component: string;
  /** the clock, passed in so tests can fix it */
  now?: () => Date;
  /** where a failed Event goes (and a note when the queue overflows); the default drops it */
  onError?: (err: unknown) => void;
}

export function eventRecorder(api: CoreV1Api, options: RecorderOptions): EventRecorder {
  const now = options.now ?? (() => new Date());
  const onError = options.onError ?? (() => {});
  const queue: (() => Promise<void>)[] = [];
  let active = 0;
  let dropped = 0;
  let idle: (() => void)[] = [];
  const pump = (): void => {
    while (active < CONCURRENCY && queue.length > 0) {
      const send = queue.shift() as () => Promise<void>;
      active++;
      void send().then(() => {
        active--;
        pump();
        if (active === 0 && queue.length === 0) {
          for (const resolve of idle) resolve();
          idle = [];
        }
      });
    }
  };
  const record = (object: InvolvedObject, note: EventNote): void => {
    if (queue.length >= QUEUE_LIMIT) {
      if (dropped++ % 1000 === 0) onError(new Error(`the Event queue is full (${QUEUE_LIMIT}); ${dropped} Event(s) dropped so far`));
      return;
    }
    const at = now(); // when it happened, not when it is sent
    queue.push(async () => {
      try {
        await api.createNamespacedEvent({
          namespace: object.namespace,
          body: {
            // generateName: two transitions in the same millisecond must not collide
            metadata: { generateName: `${object.name}.`, namespace: object.namespace },
            involvedObject: { ...object },
            reason: note.reason,
            message: note.message,
            type: note.type,
            source: { component: options.component },
            firstTimestamp: at,
            lastTimestamp: at,
            count: 1,
          },
        });
      } catch (err) {
        onError(err);
      }
    });
    pump();
  };
  return {
    conditionChanged(object, condition) {
      // The compiler wrote the condition, and its reasons are declared: the API type is only wider.
      record(object, { type: condition.status === 'True' ? 'Normal' : 'Warning', reason: condition.reason as Reason, message: condition.message });
    },
    record,
    flush() {
      if (active === 0 && queue.length === 0) return Promise.resolve();
      return new Promise((resolve) => idle.push(resolve));
    },
  };
}

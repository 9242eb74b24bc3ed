// Kubernetes Events for condition transitions, so `kubectl describe` shows when and why an
// object became (un)ready. Events are best-effort, as client-go's recorder treats them: a failed
// Event never fails the status write it reports on.
import type { CoreV1Api } from '@kubernetes/client-node';
import type { Condition } from '../api/v1alpha1/index.ts';

/** The object an Event is about; uid ties the Event to this incarnation of the name. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

export interface EventRecorder {
  conditionChanged(object: InvolvedObject, condition: Condition): Promise<void>;
}

/** The conditions of `next` that are new or whose status differs from `previous`. */
export function flippedConditions(previous: readonly Condition[] | undefined, next: readonly Condition[]): Condition[] {
  return next.filter((c) => previous?.find((p) => p.type === c.type)?.status !== c.status);
}

export interface RecorderOptions {
  /** source.component of every Event */
  component: string;
  /** the clock, passed in so tests can fix it */
  now?: () => Date;
  /** where a failed Event goes; the default drops it */
  onError?: (err: unknown) => void;
}

export function eventRecorder(api: CoreV1Api, options: RecorderOptions): EventRecorder {
  const now = options.now ?? (() => new Date());
  const onError = options.onError ?? (() => {});
  return {
    async conditionChanged(object, condition) {
      const at = now();
      try {
        await api.createNamespacedEvent({
          namespace: object.namespace,
          body: {
            // generateName: two transitions in the same millisecond must not collide
            metadata: { generateName: `${object.name}.`, namespace: object.namespace },
            involvedObject: { ...object },
            reason: condition.reason,
            message: condition.message,
            type: condition.status === 'True' ? 'Normal' : 'Warning',
            source: { component: options.component },
            firstTimestamp: at,
            lastTimestamp: at,
            count: 1,
          },
        });
      } catch (err) {
        onError(err);
      }
    },
  };
}

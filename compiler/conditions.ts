// Conditions as the Gateway API writes them: observedGeneration always set,
// lastTransitionTime kept unless the status flips, Ready summarising the others.
import type { Condition, FailureReason, Reason } from '../api/v1alpha1/index.ts';

export type Status = 'True' | 'False' | 'Unknown';

export interface ConditionInput {
  type: string;
  status: Status;
  reason: Reason;
  message: string;
}

/** Builds the next condition list from the previous one. */
export function nextConditions(
  previous: readonly Condition[] | undefined,
  generation: number,
  now: string,
  inputs: readonly ConditionInput[],
): Condition[] {
  return inputs.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    const lastTransitionTime = before !== undefined && before.status === c.status ? before.lastTransitionTime : now;
    return { type: c.type, status: c.status, observedGeneration: generation, lastTransitionTime, reason: c.reason, message: c.message };
  });
}

/**
 * Ready is True when every other condition is; otherwise it carries the first failure. `unless`:
 * what keeps an object that is otherwise ready from serving (a binding outside its validity).
 */
export function readyCondition(conditions: readonly ConditionInput[], unless: ConditionInput | null = null): ConditionInput {
  const failing = conditions.find((c) => c.status !== 'True');
  if (failing === undefined && unless !== null) return unless;
  if (failing === undefined) return { type: 'Ready', status: 'True', reason: 'Ready', message: 'Accepted, references resolved, and served by the dataplane.' };
  return { type: 'Ready', status: failing.status === 'Unknown' ? 'Unknown' : 'False', reason: failing.reason, message: failing.message };
}

export const ok = (type: string, reason: Reason, message: string): ConditionInput => ({ type, status: 'True', reason, message });
export const fail = (type: string, reason: FailureReason, message: string): ConditionInput => ({ type, status: 'False', reason, message });

// The one place that writes status. It skips the write when the status the compiler computed is
// already there (the compiler keeps lastTransitionTime when nothing flips, so an unchanged status
// compares equal), replaces /status under the resourceVersion it knows, and on 409 Conflict starts
// over from a fresh read. Given the object as a watch cache holds it, the first attempt needs no
// read: one request per write instead of two, which matters for the 10,000 of a first pass.
// Besides the Events of flipped conditions it records a binding's quota crossing 80% and 100%.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { isCode } from '../kube/api-errors.ts';
import { GROUP, kindInfo, VERSION, type Condition } from '../api/v1alpha1/index.ts';
import type { ObjectStatus, StatusEntry } from '../compiler/types.ts';
import { flippedConditions, type EventRecorder } from './events.ts';
import { quotaCrossings, type StoredUsage } from './usage.ts';

export type WriteResult = 'written' | 'unchanged' | 'gone';

const ATTEMPTS = 3;

/** JSON equality that ignores key order: the apiserver does not keep ours. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => sameJson(v, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export interface Stored {
  metadata: { name: string; namespace: string; uid: string; resourceVersion: string };
  status?: { conditions?: Condition[]; usage?: StoredUsage; [field: string]: unknown };
}

/** The status to write given the object as it is now; writeStatus calls it again after a 409. */
export type NextStatus = (current: Stored) => ObjectStatus;

/**
 * Writes `entry.status`, or what `next` makes of the object as read. Two writers share the
 * ClientBindings' status: the reconcile (conditions and the rest) and the usage loop (usage).
 * Each passes a `next` that keeps the other's part as the API server has it, so the one that
 * loses a race (409) does not put back what the other just wrote.
 */
export async function writeStatus(api: CustomObjectsApi, entry: StatusEntry, recorder?: EventRecorder, cached?: Stored, next?: NextStatus): Promise<WriteResult> {
  const info = kindInfo(entry.kind);
  if (info === undefined) throw new Error(`unknown kind ${entry.kind}`);
  const ref = { group: GROUP, version: VERSION, plural: info.plural, namespace: entry.metadata.namespace, name: entry.metadata.name };
  for (let attempt = 1; ; attempt++) {
    let current: Stored;
    try {
      current = attempt === 1 && cached !== undefined ? cached : ((await api.getNamespacedCustomObject(ref)) as Stored);
    } catch (err) {
      if (isCode(err, 404)) return 'gone';
      throw err;
    }
    const status = next === undefined ? entry.status : next(current);
    if (sameJson(current.status, status)) return 'unchanged';
    try {
      // The read object with its resourceVersion: the apiserver refuses it (409) if anyone wrote in between.
      await api.replaceNamespacedCustomObjectStatus({ ...ref, body: { ...current, status } });
    } catch (err) {
      if (isCode(err, 404)) return 'gone';
      if (isCode(err, 409) && attempt < ATTEMPTS) continue;
      throw err;
    }
    if (recorder !== undefined) {
      const involved = { apiVersion: entry.apiVersion, kind: entry.kind, namespace: ref.namespace, name: ref.name, uid: current.metadata.uid };
      for (const c of flippedConditions(current.status?.conditions, status.conditions)) recorder.conditionChanged(involved, c);
      const name = `${ref.namespace}/${ref.name}`;
      for (const e of quotaCrossings(name, current.status?.usage, status['usage'] as StoredUsage | undefined)) recorder.record(involved, e);
    }
    return 'written';
  }
}

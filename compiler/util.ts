// Small pure helpers the compiler stages share.
import type { LabelSelector } from '../api/v1alpha1/index.ts';

export const DEFAULT_NAMESPACE = 'default';

export interface Meta {
  name: string;
  namespace?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
}

export const nsOf = (meta: Meta): string => meta.namespace ?? DEFAULT_NAMESPACE;
export const idOf = (meta: Meta): string => `${nsOf(meta)}/${meta.name}`;
/** Objects read from files have no generation; the apiserver would give them 1. */
export const generationOf = (meta: Meta): number => meta.generation ?? 1;

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Oldest first: creationTimestamp, then namespace/name. Objects with no timestamp (not yet created) are newest. */
export function byAge(a: { metadata: Meta }, b: { metadata: Meta }): number {
  const ta = a.metadata.creationTimestamp;
  const tb = b.metadata.creationTimestamp;
  if (ta !== tb) {
    if (ta === undefined) return 1;
    if (tb === undefined) return -1;
    const diff = Date.parse(ta) - Date.parse(tb);
    if (diff !== 0) return diff;
  }
  return compareStrings(idOf(a.metadata), idOf(b.metadata));
}

export function byId(a: { id: string }, b: { id: string }): number {
  return compareStrings(a.id, b.id);
}

export { compareStrings };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60000, h: 3600000 };
export const MAX_TIMER_MS = 2_147_483_647;

/** Parses the Duration pattern of api/v1alpha1 (250ms, 5s, 2m, 1h) to milliseconds. */
export function durationMs(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const m = /^([0-9]+)(ms|s|m|h)$/.exec(value);
  if (m === null) return fallback;
  // Node's timers hold at most 2^31-1 ms (24.8 days): a longer one fires at once, so a route
  // written with timeout: 99999999h would time out every call. Longer is "unbounded" anyway.
  return Math.min(MAX_TIMER_MS, Math.max(1, Number(m[1]) * (UNITS[m[2] as string] as number)));
}

export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

/**
 * A selector compiled once: values in Sets, so that matching one object costs one lookup per
 * requirement whatever the number of values. Compiling selectors per compile pass (not per
 * binding and route) keeps a binding with 16 selectors of 16 expressions over 10,000 routes
 * from costing tens of millions of list scans.
 */
export function compileSelector(selector: LabelSelector): LabelMatcher {
  const labels = Object.entries(selector.matchLabels ?? {});
  const requirements = (selector.matchExpressions ?? []).map((r) => ({ key: r.key, operator: r.operator, values: new Set(r.values ?? []) }));
  return (objectLabels) => {
    const have = objectLabels ?? {};
    for (const [k, v] of labels) if (have[k] !== v) return false;
    for (const req of requirements) {
      const value = have[req.key];
      switch (req.operator) {
        case 'In':
          if (value === undefined || !req.values.has(value)) return false;
          break;
        case 'NotIn':
          if (value !== undefined && req.values.has(value)) return false;
          break;
        case 'Exists':
          if (value === undefined) return false;
          break;
        case 'DoesNotExist':
          if (value !== undefined) return false;
          break;
      }
    }
    return true;
  };
}

/** Kubernetes label selector semantics for one match; an empty selector matches everything. Compile once with compileSelector to match many. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  return compileSelector(selector)(labels);
}

/** "a, b and 3 more" – keeps status messages readable at 10,000 routes. */
export function listForPeople(items: readonly string[], max = 10): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

// Label selectors over many routes, as bit sets. A binding's route selectors are matched against
// every route of its bus (or of a namespace of it); with thousands of routes and thousands of
// bindings, checking each requirement of each selector on each route takes longer than the
// operator's leader Lease allows. Here each requirement becomes a bit set over the routes, built
// from posting lists (the routes carrying each label value) and cached under its normalized form
// (its values cut to those some route carries), and a selector is the AND of its requirements:
// a few hundred word operations per selector instead of one label lookup per route and
// requirement.
import type { LabelSelector } from '../api/v1alpha1/index.ts';

/** Requirement bit sets cached per route list; past this, results are computed and not kept. */
const MAX_CACHED = 20_000;

export class RouteLabelIndex<T> {
  readonly items: readonly T[];
  readonly #words: number;
  /** key -> value -> indexes of the items with that label */
  readonly #postings = new Map<string, Map<string, number[]>>();
  readonly #cache = new Map<string, Uint32Array>();

  constructor(items: readonly T[], labelsOf: (item: T) => Record<string, string> | undefined) {
    this.items = items;
    this.#words = Math.ceil(items.length / 32);
    items.forEach((item, i) => {
      for (const [k, v] of Object.entries(labelsOf(item) ?? {})) {
        let values = this.#postings.get(k);
        if (values === undefined) this.#postings.set(k, (values = new Map()));
        const list = values.get(v);
        if (list === undefined) values.set(v, [i]);
        else list.push(i);
      }
    });
  }

  /** The items the selector matches, in their order. An empty selector matches all. */
  select(selector: LabelSelector): T[] {
    const result = new Uint32Array(this.#words).fill(0xffffffff);
    const requirements: [string, string, readonly string[]][] = [
      ...Object.entries(selector.matchLabels ?? {}).map(([k, v]): [string, string, string[]] => ['In', k, [v]]),
      ...(selector.matchExpressions ?? []).map((r): [string, string, readonly string[]] => [r.operator, r.key, r.values ?? []]),
    ];
    for (const [operator, key, values] of requirements) {
      const bits = this.#requirement(operator, key, values);
      let any = 0;
      for (let w = 0; w < result.length; w++) any |= result[w] = (result[w] as number) & (bits[w] as number);
      if (any === 0) return [];
    }
    const out: T[] = [];
    for (let i = 0; i < this.items.length; i++) if (((result[i >>> 5] as number) >>> (i & 31)) & 1) out.push(this.items[i] as T);
    return out;
  }

  #requirement(operator: string, key: string, values: readonly string[]): Uint32Array {
    const existing = this.#postings.get(key);
    const present = operator === 'In' || operator === 'NotIn' ? [...new Set(values.filter((v) => existing?.has(v) === true))].sort() : [];
    const cacheKey = `${operator}\u0000${key}\u0000${present.join('\u0000')}`;
    const cached = this.#cache.get(cacheKey);
    if (cached !== undefined) return cached;
    const bits = new Uint32Array(this.#words);
    const set = (lists: Iterable<number[]>): void => {
      for (const list of lists) for (const i of list) bits[i >>> 5] = (bits[i >>> 5] as number) | (1 << (i & 31));
    };
    if (operator === 'In' || operator === 'NotIn') set(present.map((v) => existing?.get(v) ?? []));
    else set(existing?.values() ?? []); // Exists, DoesNotExist: every item with the key
    if (operator === 'NotIn' || operator === 'DoesNotExist') for (let w = 0; w < bits.length; w++) bits[w] = ~(bits[w] as number);
    if (this.#cache.size < MAX_CACHED) this.#cache.set(cacheKey, bits);
    return bits;
  }
}

// Usage counted per UTC day and month, per provider, route, client and the bus's outcome code,
// between two flushes. A transaction counts on the day its request started, as its audit record
// says (so `gozargah report` gives the same figures from Redis and from the audit log). Cells
// live in nested Maps keyed by the snapshot's own strings, built once per label set: no key is
// built per request.
import { dayLabel, DAY_USAGE_TTL_S, monthLabel, MONTH_USAGE_TTL_S, usageField, usageKey } from '../api/accounting/index.ts';
import type { HashIncrements } from './fleet-store.ts';
import type { Transaction } from './metering.ts';

const DAY_MS = 86_400_000;

interface Cell {
  field: string;
  count: number;
}

type Nested = Map<string, Map<string, Map<string, Map<string, Cell>>>>;

interface Day {
  label: string;
  month: string;
  start: number;
  cells: Nested;
  /** every cell of the day, for the flush */
  list: Cell[];
  counted: number;
}

export class UsageTally {
  #days = new Map<string, Day>();
  #today: Day | null = null;
  /** transactions counted and not yet collected */
  pending = 0;

  add(t: Transaction): void {
    const today = this.#today;
    const day = today !== null && t.start >= today.start && t.start < today.start + DAY_MS ? today : this.#dayOf(t.start);
    const byCode = inner(inner(inner(day.cells, t.provider), t.route), t.client);
    let cell = byCode.get(t.code);
    if (cell === undefined) {
      byCode.set(t.code, (cell = { field: usageField(t.provider, t.route, t.client, t.code), count: 0 }));
      day.list.push(cell);
    }
    cell.count++;
    day.counted++;
    this.pending++;
  }

  /** Moves the counts into the batch (day and month hashes) and starts again from zero. Answers the transactions moved. */
  collect(bus: string, out: HashIncrements[]): number {
    let moved = 0;
    for (const day of this.#days.values()) {
      if (day.counted === 0) {
        if (day !== this.#today) this.#days.delete(day.label);
        continue;
      }
      const fields: [string, number][] = [];
      for (const cell of day.list) {
        if (cell.count === 0) continue;
        fields.push([cell.field, cell.count]);
        cell.count = 0;
      }
      out.push({ key: usageKey(bus, day.label), ttlSeconds: DAY_USAGE_TTL_S, fields });
      out.push({ key: usageKey(bus, day.month), ttlSeconds: MONTH_USAGE_TTL_S, fields });
      moved += day.counted;
      day.counted = 0;
    }
    this.pending -= moved;
    return moved;
  }

  #dayOf(ms: number): Day {
    const label = dayLabel(ms);
    let day = this.#days.get(label);
    if (day === undefined) {
      day = { label, month: monthLabel(ms), start: Date.parse(`${label}T00:00:00Z`), cells: new Map(), list: [], counted: 0 };
      this.#days.set(label, day);
    }
    // The newest day seen is today; a late transaction of yesterday does not move it back.
    if (this.#today === null || day.start > this.#today.start) this.#today = day;
    return day;
  }
}

/** The Map under `key`, added when missing. */
function inner<V>(map: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = new Map()));
  return value;
}

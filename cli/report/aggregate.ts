// From usage rows to the report: pure, the same for rows read from Redis and from audit records.
// Rows are summed per (provider, route, client, code) as they come, so a month of audit records
// costs memory per distinct combination, not per transaction.
import { BUS_DOCUMENTS_PROVIDER, outcomeOf, usageField, type Outcome, type UsageParts } from '../../api/accounting/index.ts';
import type { Period } from './period.ts';

export interface CountedRow extends UsageParts {
  count: number;
}

export class Tally {
  readonly #cells = new Map<string, CountedRow>();

  add(row: CountedRow): void {
    if (row.count <= 0) return;
    const key = usageField(row.provider, row.route, row.client, row.code);
    const cell = this.#cells.get(key);
    if (cell === undefined) this.#cells.set(key, { provider: row.provider, route: row.route, client: row.client, code: row.code, count: row.count });
    else cell.count += row.count;
  }

  rows(): Iterable<CountedRow> {
    return this.#cells.values();
  }
}

/** A count and its share of all transactions of the period (a fraction, 0 when there are none). */
export interface Counted {
  transactions: number;
  share: number;
}

/** A provider, service or client in a top list. Shares of refusals and agency errors are of its own transactions. */
export interface Ranked extends Counted {
  name: string;
  refused: number;
  refusedShare: number;
  agencyErrors: number;
  agencyErrorShare: number;
}

export interface Report {
  period: { from: string; to: string; month: string | null; days: number };
  /** the buses the counts are from */
  buses: string[];
  transactions: number;
  outcomes: Record<Outcome, Counted>;
  /** distinct non-empty names with at least one transaction */
  active: { providers: number; services: number; clients: number };
  top: { limit: number; providers: Ranked[]; services: Ranked[]; clients: Ranked[] };
  /** the refused transactions per code; share is of all transactions */
  refusals: (Counted & { code: string })[];
  notes: string[];
}

export interface ReportMeta {
  period: Period;
  buses: readonly string[];
  top: number;
  /** what the source has to say (records it could not read, ...) */
  notes: readonly string[];
}

const share = (part: number, whole: number): number => (whole === 0 ? 0 : part / whole);

interface Sums {
  transactions: number;
  refused: number;
  agencyErrors: number;
}

function sumInto(map: Map<string, Sums>, name: string, count: number, outcome: Outcome): void {
  if (name === '') return;
  let sums = map.get(name);
  if (sums === undefined) map.set(name, (sums = { transactions: 0, refused: 0, agencyErrors: 0 }));
  sums.transactions += count;
  if (outcome === 'refused') sums.refused += count;
  else if (outcome === 'agency_error') sums.agencyErrors += count;
}

/** Count descending, then name ascending (code-point order, not the locale's): the same order everywhere. */
const byCountThenName = <T>(count: (x: T) => number, name: (x: T) => string) => (a: T, b: T): number =>
  count(b) - count(a) || (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0);

function ranked(map: Map<string, Sums>, total: number, limit: number): Ranked[] {
  return [...map]
    .sort(byCountThenName(([, s]) => s.transactions, ([n]) => n))
    .slice(0, limit)
    .map(([name, s]) => ({
      name,
      transactions: s.transactions,
      share: share(s.transactions, total),
      refused: s.refused,
      refusedShare: share(s.refused, s.transactions),
      agencyErrors: s.agencyErrors,
      agencyErrorShare: share(s.agencyErrors, s.transactions),
    }));
}

export function buildReport(rows: Iterable<CountedRow>, meta: ReportMeta): Report {
  const outcomes: Record<Outcome, number> = { served: 0, refused: 0, agency_error: 0 };
  const providers = new Map<string, Sums>();
  const services = new Map<string, Sums>();
  const clients = new Map<string, Sums>();
  const refusals = new Map<string, number>();
  let documents = 0;
  for (const row of rows) {
    if (row.count <= 0) continue;
    // A client reading its catalogue asked no agency anything: not an inquiry.
    if (row.provider === BUS_DOCUMENTS_PROVIDER) {
      documents += row.count;
      continue;
    }
    const outcome = outcomeOf(row.code);
    outcomes[outcome] += row.count;
    sumInto(providers, row.provider, row.count, outcome);
    sumInto(services, row.route, row.count, outcome);
    sumInto(clients, row.client, row.count, outcome);
    if (outcome === 'refused') refusals.set(row.code, (refusals.get(row.code) ?? 0) + row.count);
  }
  const total = outcomes.served + outcomes.refused + outcomes.agency_error;
  const counted = (n: number): Counted => ({ transactions: n, share: share(n, total) });
  const notes = [...meta.notes];
  if (documents > 0) notes.push(`${documents} request(s) for the bus's own documents (catalogue, OpenAPI) are not counted as transactions.`);
  if (total === 0) notes.push(`No transactions in the period${meta.buses.length === 0 ? '' : ` on ${meta.buses.join(', ')}`}.`);
  const { period } = meta;
  return {
    period: { from: period.from, to: period.to, month: period.month, days: period.days.length },
    buses: [...meta.buses].sort(),
    transactions: total,
    outcomes: { served: counted(outcomes.served), refused: counted(outcomes.refused), agency_error: counted(outcomes.agency_error) },
    active: { providers: providers.size, services: services.size, clients: clients.size },
    top: { limit: meta.top, providers: ranked(providers, total, meta.top), services: ranked(services, total, meta.top), clients: ranked(clients, total, meta.top) },
    refusals: [...refusals]
      .sort(byCountThenName(([, n]) => n, ([c]) => c))
      .map(([code, n]) => ({ code, ...counted(n) })),
    notes,
  };
}

// Which snapshot each dataplane replica serves, as the operator must judge it: from the report
// Leases (api/snapshot/reports.ts) and the snapshots this process compiled or read back. Pure:
// the Leases and the clock are arguments, so the rules are tested on a fixed clock
// (test/unit/served-reports.test.ts); the controller does the I/O (pruning, timers).
import { readReport, servedKeys, type ServingReport, type Snapshot } from '../api/snapshot/index.ts';

/** A report not renewed for this many lease durations is a replica gone for good. */
export const STALE_REPORT_LEASES = 10;
/** Snapshots remembered per bus, so a replica still on an older one is recognised. */
export const KNOWN_PER_BUS = 4;

interface LeaseLike {
  metadata?: { namespace?: string; name?: string; annotations?: Record<string, string> };
  spec?: { holderIdentity?: string; renewTime?: Date | string; leaseDurationSeconds?: number };
}

/** A report that counts now, and when it stops counting (this process's clock). */
export interface FreshReport {
  report: ServingReport;
  until: number;
}

export class ServedReports<L extends LeaseLike = LeaseLike> {
  /** per report Lease, its last renewTime and when this process saw it */
  #seen = new Map<string, { renewedAt: number; at: number }>();
  /** per bus, the served keys of its recent snapshots by hash, newest last */
  #known = new Map<string, Map<string, Set<string>>>();

  /**
   * The reports that count now, and the Leases of replicas gone for good. Expiry is judged on
   * this process's clock: a report counts for its duration from when this process saw it renewed
   * (or, after a restart or a broken watch, from `listedAt`, when the reports were listed again),
   * so neither clock skew between nodes nor an API server outage makes every report look
   * expired at once. A report not renewed for STALE_REPORT_LEASES durations by its own clock
   * never counts, not even just after a restart.
   */
  fresh(leases: readonly L[], listedAt: number, nowMs: number): { fresh: FreshReport[]; gone: L[] } {
    const fresh: FreshReport[] = [];
    const gone: L[] = [];
    const seen = new Map<string, { renewedAt: number; at: number }>();
    for (const lease of leases) {
      const report = readReport(lease);
      if (report === null) continue;
      const key = `${lease.metadata?.namespace}/${lease.metadata?.name}`;
      const before = this.#seen.get(key);
      const at = before !== undefined && before.renewedAt === report.renewedAt ? before.at : nowMs;
      seen.set(key, { renewedAt: report.renewedAt, at });
      if (report.renewedAt + STALE_REPORT_LEASES * report.durationMs <= nowMs) {
        gone.push(lease);
        continue;
      }
      const until = Math.max(at, listedAt) + report.durationMs;
      if (until > nowMs) fresh.push({ report, until });
    }
    this.#seen = seen;
    return { fresh, gone };
  }

  /** Per bus, the keys served by a replica whose report is fresh; and the reports of snapshots not known here. */
  serving(fresh: readonly FreshReport[]): { serving: Record<string, Set<string>>; unknown: [string, string][] } {
    const serving: Record<string, Set<string>> = {};
    const unknown: [string, string][] = [];
    const pairs = new Map<string, ServingReport>();
    for (const { report } of fresh) pairs.set(`${report.bus}/${report.hash}`, report);
    for (const report of pairs.values()) {
      const keys = this.#known.get(report.bus)?.get(report.hash);
      // A snapshot this replica has not compiled: not counted (yet; the controller compiles again).
      if (keys === undefined) {
        unknown.push([report.bus, report.hash]);
        continue;
      }
      const set = (serving[report.bus] ??= new Set());
      for (const k of keys) set.add(k);
    }
    return { serving, unknown };
  }

  knows(bus: string, hash: string): boolean {
    return this.#known.get(bus)?.has(hash) === true;
  }

  /**
   * Remembers a snapshot's served keys; beyond KNOWN_PER_BUS forgets the oldest, but never one a
   * fresh report (`reported`, by hash) says a replica still serves.
   */
  remember(bus: string, snapshot: Snapshot, reported: () => ReadonlySet<string>): void {
    let known = this.#known.get(bus);
    if (known === undefined) this.#known.set(bus, (known = new Map()));
    if (known.has(snapshot.hash)) return;
    known.set(snapshot.hash, servedKeys(snapshot));
    if (known.size <= KNOWN_PER_BUS) return;
    const keep = reported();
    for (const hash of known.keys()) {
      if (known.size <= KNOWN_PER_BUS) break;
      if (hash !== snapshot.hash && !keep.has(hash)) known.delete(hash);
    }
  }
}

/** Per bus, the highest generation any report (fresh or not) says a replica has served. */
export function reportedGenerations(leases: readonly LeaseLike[]): Map<string, number> {
  const generations = new Map<string, number>();
  for (const lease of leases) {
    const report = readReport(lease);
    if (report !== null) generations.set(report.bus, Math.max(generations.get(report.bus) ?? 0, report.generation));
  }
  return generations;
}

/** Which snapshots fresh reports say are served (not by whom: a replica coming or going changes nothing else), and the first expiry. */
export function summarize(fresh: readonly FreshReport[]): { fingerprint: string; nextExpiry: number | null } {
  const pairs = new Set(fresh.map(({ report }) => `${report.bus}/${report.hash}`));
  const nextExpiry = fresh.length === 0 ? null : Math.min(...fresh.map((f) => f.until));
  return { fingerprint: [...pairs].sort().join(','), nextExpiry };
}

// How the operator judges the dataplane replicas' reports, on a fixed clock: a report counts for
// its lease from when this process saw it renewed (not by the replica's clock), a replica silent
// for ten leases is gone, only snapshots known here count, and the snapshots remembered per bus
// are bounded without forgetting one a replica still serves.
import t from 'tap';
import { REPORT_BUS_ANNOTATION, REPORT_GENERATION_ANNOTATION, REPORT_HASH_ANNOTATION, type Snapshot } from '../../api/snapshot/index.ts';
import { KNOWN_PER_BUS, reportedGenerations, ServedReports, summarize } from '../../operator/served-reports.ts';

const T0 = Date.parse('2026-12-03T10:00:00Z');
const lease = (name: string, bus: string, hash: string, renewedAt: number, generation = 1) => ({
  metadata: { namespace: 'gozargah-system', name, annotations: { [REPORT_BUS_ANNOTATION]: bus, [REPORT_HASH_ANNOTATION]: hash, [REPORT_GENERATION_ANNOTATION]: String(generation) } },
  spec: { holderIdentity: name, renewTime: new Date(renewedAt).toISOString(), leaseDurationSeconds: 30 },
});
const snapshot = (bus: string, hash: string, route: string): Snapshot =>
  ({ apiVersion: 'snapshot.gozargah.io/v1', bus, hash, providers: [], routes: [{ id: route, source: { namespace: 'gov', name: route, generation: 1 } }], bindings: [] }) as unknown as Snapshot;

t.test('a report counts for its lease from when this process saw it renewed, whatever the replica\'s clock says', async (t2) => {
  const served = new ServedReports();
  // The replica's clock is two minutes behind: by its renewTime the report expired already.
  const skewed = lease('dp-0', 'public', 'h1', T0 - 120_000 + 5_000);
  t2.equal(served.fresh([skewed], 0, T0).fresh.length, 1, 'seen now: counts');
  t2.equal(served.fresh([skewed], 0, T0 + 29_000).fresh.length, 1, 'within 30 s of when it was seen');
  t2.equal(served.fresh([skewed], 0, T0 + 30_000).fresh.length, 0, 'not renewed for a lease: no longer counts');
  const renewed = lease('dp-0', 'public', 'h1', T0 - 120_000 + 35_000);
  const after = served.fresh([renewed], 0, T0 + 31_000).fresh;
  t2.equal(after.length, 1, 'renewed: counts again');
  t2.equal(after[0]?.until, T0 + 31_000 + 30_000, 'until a lease after the renewal was seen');
});

t.test('after a relist, every report counts for a lease from the list, not from when it was last renewed', async (t2) => {
  const served = new ServedReports();
  const report = lease('dp-0', 'public', 'h1', T0);
  served.fresh([report], 0, T0);
  t2.equal(served.fresh([report], 0, T0 + 40_000).fresh.length, 0);
  // The reports watch broke and listed again at T0 + 45 s: an API server outage must not expire every report.
  t2.equal(served.fresh([report], T0 + 45_000, T0 + 50_000).fresh.length, 1);
});

t.test('a replica silent for ten leases by its own clock is gone: never counts, and is handed back for pruning', async (t2) => {
  const served = new ServedReports();
  const old = lease('dp-gone', 'public', 'h1', T0 - 10 * 30_000);
  const { fresh, gone } = served.fresh([old, lease('dp-1', 'public', 'h1', T0)], T0, T0);
  t2.same(fresh.map((f) => f.report.replica), ['dp-1']);
  t2.same(gone.map((l) => l.metadata?.name), ['dp-gone']);
});

t.test('only snapshots known here count; the others are named so the controller compiles again', async (t2) => {
  const served = new ServedReports();
  served.remember('public', snapshot('public', 'h1', 'a'), () => new Set());
  const { fresh } = served.fresh([lease('dp-0', 'public', 'h1', T0), lease('dp-1', 'public', 'h2', T0)], T0, T0);
  const { serving, unknown } = served.serving(fresh);
  t2.same([...(serving['public'] ?? [])], ['InquiryRoute/gov/a@1']);
  t2.same(unknown, [['public', 'h2']]);
  t2.ok(served.knows('public', 'h1'));
  t2.notOk(served.knows('public', 'h2'));
});

t.test('at most KNOWN_PER_BUS snapshots per bus, never forgetting one a fresh report serves', async (t2) => {
  const served = new ServedReports();
  const stillServed = new Set(['h0']);
  for (let i = 0; i <= KNOWN_PER_BUS + 2; i++) served.remember('public', snapshot('public', `h${i}`, `r${i}`), () => stillServed);
  t2.ok(served.knows('public', 'h0'), 'the oldest is kept: a replica still serves it');
  t2.notOk(served.knows('public', 'h1'), 'the next oldest is forgotten');
  t2.ok(served.knows('public', `h${KNOWN_PER_BUS + 2}`), 'the newest is known');
  const known = Array.from({ length: KNOWN_PER_BUS + 3 }, (_, i) => `h${i}`).filter((h) => served.knows('public', h));
  t2.equal(known.length, KNOWN_PER_BUS);
});

t.test('summaries: which snapshots are served, not by whom; generations per bus from any report', async (t2) => {
  const served = new ServedReports();
  const leases = [lease('dp-0', 'public', 'h1', T0, 7), lease('dp-1', 'public', 'h1', T0 + 1_000, 7), lease('dp-2', 'internal', 'h9', T0, 3)];
  const { fresh } = served.fresh(leases, T0, T0);
  const summary = summarize(fresh);
  t2.equal(summary.fingerprint, 'internal/h9,public/h1');
  t2.equal(summary.nextExpiry, T0 + 30_000);
  t2.same(summarize(served.fresh(leases.slice(1), T0, T0).fresh).fingerprint, 'internal/h9,public/h1', 'a replica going away changes nothing while another serves the same');
  t2.same([...reportedGenerations([...leases, lease('dp-3', 'public', 'h0', T0 - 3600_000, 9)])], [['public', 9], ['internal', 3]]);
});

// A dataplane replica's report Lease, as the operator reads it: which bus, which snapshot, and
// until when it counts. Anything that is not a complete report counts for nothing.
import t from 'tap';
import { readReport, reportLeaseName, REPORT_BUS_ANNOTATION, REPORT_GENERATION_ANNOTATION, REPORT_HASH_ANNOTATION } from '../../api/snapshot/index.ts';

const annotations = { [REPORT_BUS_ANNOTATION]: 'public', [REPORT_HASH_ANNOTATION]: 'sha256:abc', [REPORT_GENERATION_ANNOTATION]: '7' };

t.test('a complete report: bus, hash, generation, and renewTime + duration', async (t2) => {
  const renewed = '2026-11-23T10:00:00.000000Z';
  const report = readReport({ metadata: { annotations }, spec: { holderIdentity: 'dp-0', renewTime: renewed, leaseDurationSeconds: 30 } });
  t2.same(report, { bus: 'public', replica: 'dp-0', hash: 'sha256:abc', generation: 7, expiresAt: Date.parse(renewed) + 30_000, renewedAt: Date.parse(renewed), durationMs: 30_000 });
  const asDate = readReport({ metadata: { annotations }, spec: { renewTime: new Date(renewed) } });
  t2.equal(asDate?.expiresAt, Date.parse(renewed) + 30_000, 'a Date (typed client) reads the same; the default duration applies');
});

t.test('not a report: something missing', async (t2) => {
  t2.equal(readReport({ metadata: { annotations }, spec: {} }), null, 'never renewed');
  t2.equal(readReport({ metadata: { annotations: { ...annotations, [REPORT_GENERATION_ANNOTATION]: 'x' } }, spec: { renewTime: new Date() } }), null, 'generation not a number');
  t2.equal(readReport({ metadata: {}, spec: { renewTime: new Date() } }), null, 'no annotations');
});

t.test('report Lease names are valid object names', async (t2) => {
  t2.equal(reportLeaseName('public', 'gozargah-dataplane-public-6f7d8-x2x9q'), 'gozargah-dataplane-public-gozargah-dataplane-public-6f7d8-x2x9q');
  const long = reportLeaseName('public', `${'a'.repeat(240)}-b`);
  t2.ok(long.length <= 253 && /[a-z0-9]$/.test(long), 'cut to 253 characters, ending alphanumeric');
});

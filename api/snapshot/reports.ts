// How a dataplane replica tells the operator which snapshot it serves: a coordination.k8s.io
// Lease per replica, in the namespace the snapshot is published in, renewed while the replica
// is ready. The operator counts a report while its Lease is fresh; Programmed depends on it.
// Both sides import these names, so the two can never disagree on one.

/** On every report Lease: one label selector finds all of them. */
export const REPORT_LABEL = 'gozargah.io/dataplane-report';
export const REPORT_BUS_ANNOTATION = 'gozargah.io/bus';
export const REPORT_HASH_ANNOTATION = 'gozargah.io/snapshot-hash';
export const REPORT_GENERATION_ANNOTATION = 'gozargah.io/snapshot-generation';

/** A replica renews its report this often ... */
export const REPORT_RENEW_SECONDS = 10;
/** ... and a report not renewed for this long no longer counts. */
export const REPORT_LEASE_SECONDS = 30;

/** The report Lease of one replica (a pod name is already a DNS subdomain). */
export const reportLeaseName = (bus: string, replica: string): string => `gozargah-dataplane-${bus}-${replica}`.slice(0, 253).replace(/[-.]+$/, '');

export interface ServingReport {
  bus: string;
  replica: string;
  hash: string;
  generation: number;
  /** epoch ms after which the report no longer counts (by the replica's clock) */
  expiresAt: number;
  /** when the replica last renewed it (by its clock), and for how long a renewal counts */
  renewedAt: number;
  durationMs: number;
}

interface LeaseLike {
  metadata?: { annotations?: Record<string, string> };
  spec?: { holderIdentity?: string; renewTime?: Date | string; leaseDurationSeconds?: number };
}

/** Reads a report Lease; null when it is not one (missing annotations, never renewed). */
export function readReport(lease: LeaseLike): ServingReport | null {
  const a = lease.metadata?.annotations ?? {};
  const bus = a[REPORT_BUS_ANNOTATION];
  const hash = a[REPORT_HASH_ANNOTATION];
  const generation = Number(a[REPORT_GENERATION_ANNOTATION]);
  const renewed = lease.spec?.renewTime === undefined ? NaN : new Date(lease.spec.renewTime).getTime();
  if (bus === undefined || hash === undefined || !Number.isInteger(generation) || Number.isNaN(renewed)) return null;
  return {
    bus,
    replica: lease.spec?.holderIdentity ?? '',
    hash,
    generation,
    expiresAt: renewed + (lease.spec?.leaseDurationSeconds ?? REPORT_LEASE_SECONDS) * 1000,
    renewedAt: renewed,
    durationMs: (lease.spec?.leaseDurationSeconds ?? REPORT_LEASE_SECONDS) * 1000,
  };
}

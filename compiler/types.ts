// What the compiler takes and gives. Pure data; no Kubernetes client types.
import type { ClientBinding, Condition, FailureReason, InquiryRoute, ServiceProvider } from '../api/v1alpha1/index.ts';
import type { Snapshot } from '../api/snapshot/index.ts';

export interface SecretObject {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: { name: string; namespace?: string };
  type?: string;
  /** base64 values, as the apiserver stores them */
  data?: Record<string, string>;
  /** plain values, as people write them in manifests */
  stringData?: Record<string, string>;
}

export interface NamespaceObject {
  apiVersion: 'v1';
  kind: 'Namespace';
  metadata: { name: string; labels?: Record<string, string> };
}

export type GozargahObject = ServiceProvider | InquiryRoute | ClientBinding;
export type InputObject = GozargahObject | SecretObject | NamespaceObject;

export interface CompileInput {
  /** Every object, as read from the cluster or from files, with the status it had before. */
  objects: readonly unknown[];
  /** The time to stamp on conditions that change (RFC 3339). Passed in so output is deterministic. */
  now: string;
  /**
   * Per bus, the `Kind/namespace/name@generation` keys that a ready dataplane replica serves
   * (see servedKeys in api/snapshot). Undefined when no dataplane reports (CLI): Programmed
   * is then Pending for everything that compiled.
   */
  serving?: Readonly<Record<string, ReadonlySet<string>>>;
  /**
   * Buses that get a snapshot even with nothing on them. The operator passes every bus it has
   * published, so a bus whose last route and binding were deleted is published empty instead
   * of going on serving what was deleted.
   */
  buses?: readonly string[];
  /** Objects whose schema validation already happened (the apiserver did it). Default false. */
  trustSchema?: boolean;
}

export interface ObjectStatus {
  observedGeneration?: number;
  conditions: Condition[];
  [field: string]: unknown;
}

export interface StatusEntry {
  apiVersion: string;
  kind: 'ServiceProvider' | 'InquiryRoute' | 'ClientBinding';
  metadata: { namespace: string; name: string };
  status: ObjectStatus;
}

export interface CompileOutput {
  snapshots: Record<string, Snapshot>;
  statuses: StatusEntry[];
}

/** The outcome of one named check: null when it passes. */
export interface Refusal {
  reason: FailureReason;
  message: string;
}

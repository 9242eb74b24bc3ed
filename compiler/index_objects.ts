// Stage 1: sort the input into kinds, validate each Gozargah object's schema, decode Secrets.
import { API_VERSION, validateObject, type ClientBinding, type Condition, type InquiryRoute, type ServiceProvider, type SchemaError } from '../api/v1alpha1/index.ts';
import type { NamespaceObject, SecretObject } from './types.ts';
import { idOf, byAge } from './util.ts';
import { servableProblems } from './servable.ts';

export interface InvalidObject {
  kind: 'ServiceProvider' | 'InquiryRoute' | 'ClientBinding';
  metadata: { name: string; namespace?: string; generation?: number };
  status?: { conditions?: Condition[] };
  errors: SchemaError[];
}

export interface ObjectIndex {
  providers: Map<string, ServiceProvider>;
  /** oldest first */
  routes: InquiryRoute[];
  /** oldest first */
  bindings: ClientBinding[];
  invalid: InvalidObject[];
  /** `Kind/namespace/name` of the invalid objects: they exist, so a reference to one is not "not found" */
  invalidIds: Set<string>;
  /** namespace/name -> entry -> decoded value */
  secrets: Map<string, Map<string, string>>;
  namespaceLabels: Map<string, Record<string, string>>;
}

function decodeSecret(secret: SecretObject): Map<string, string> {
  const values = new Map<string, string>();
  // Values that are not strings (an unquoted number in YAML) never reach a cluster: the apiserver
  // refuses the Secret. Files read by the CLI can hold them; they are left out, not guessed at.
  for (const [k, v] of Object.entries(secret.data ?? {})) {
    if (typeof v === 'string') values.set(k, Buffer.from(v, 'base64').toString('utf8'));
  }
  // The apiserver merges stringData over data; so do we.
  for (const [k, v] of Object.entries(secret.stringData ?? {})) {
    if (typeof v === 'string') values.set(k, v);
  }
  return values;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const GOZARGAH_KINDS = new Set(['ServiceProvider', 'InquiryRoute', 'ClientBinding']);

export function indexObjects(objects: readonly unknown[], trustSchema: boolean): ObjectIndex {
  const index: ObjectIndex = {
    providers: new Map(),
    routes: [],
    bindings: [],
    invalid: [],
    invalidIds: new Set(),
    secrets: new Map(),
    namespaceLabels: new Map(),
  };
  for (const raw of objects) {
    if (!isObject(raw) || !isObject(raw['metadata'])) continue;
    const kind = raw['kind'];
    if (raw['apiVersion'] === 'v1' && kind === 'Secret') {
      const secret = raw as unknown as SecretObject;
      index.secrets.set(idOf(secret.metadata), decodeSecret(secret));
      continue;
    }
    if (raw['apiVersion'] === 'v1' && kind === 'Namespace') {
      const ns = raw as unknown as NamespaceObject;
      index.namespaceLabels.set(ns.metadata.name, { ...ns.metadata.labels, 'kubernetes.io/metadata.name': ns.metadata.name });
      continue;
    }
    if (raw['apiVersion'] !== API_VERSION || typeof kind !== 'string' || !GOZARGAH_KINDS.has(kind)) continue;
    // Validation applies schema defaults in place; work on a copy so the caller's objects stay as they were.
    const obj = structuredClone(raw);
    const schemaErrors = trustSchema ? [] : validateObject(obj);
    // Checked even when the schema is trusted: an older CRD may not refuse what the dataplane cannot serve.
    const errors = schemaErrors.length > 0 ? schemaErrors : servableProblems(kind, obj);
    if (errors.length > 0) {
      index.invalid.push({ ...(obj as unknown as InvalidObject), errors });
      index.invalidIds.add(`${kind}/${idOf(obj['metadata'] as { name: string })}`);
      continue;
    }
    if (kind === 'ServiceProvider') index.providers.set(idOf(obj['metadata'] as { name: string }), obj as unknown as ServiceProvider);
    else if (kind === 'InquiryRoute') index.routes.push(obj as unknown as InquiryRoute);
    else index.bindings.push(obj as unknown as ClientBinding);
  }
  index.routes.sort(byAge);
  index.bindings.sort(byAge);
  return index;
}

export function namespaceLabelsOf(index: ObjectIndex, namespace: string): Record<string, string> {
  return index.namespaceLabels.get(namespace) ?? { 'kubernetes.io/metadata.name': namespace };
}


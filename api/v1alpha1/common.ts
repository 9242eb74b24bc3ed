// Schema pieces shared by the three resources.
import { Type, type Static, type TSchema, type TObject, type TProperties, type ObjectOptions } from '@sinclair/typebox';

export const GROUP = 'gozargah.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/**
 * Secrets that hold credentials (API keys, CAs, client certificates) carry this label with the
 * value "true": the operator watches only labelled Secrets, so it never caches (or needs to read)
 * the other Secrets of a cluster. Kong's ingress controller asks the same of its credentials.
 */
export const CREDENTIALS_LABEL = 'gozargah.io/credentials';
/** How a message tells a person to fix a Secret the operator could not see. */
export const CREDENTIALS_HINT = `or lacks the label ${CREDENTIALS_LABEL}: "true" (the operator reads only labelled Secrets)`;

/** An object that refuses unknown fields (ajv) and is pruned + strictly validated by the apiserver. */
export function Strict<P extends TProperties>(properties: P, options: ObjectOptions = {}): TObject<P> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

export const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

export const Name = Type.String({ minLength: 1, maxLength: 253, pattern: DNS_SUBDOMAIN });
export const BusName = Type.String({
  minLength: 1,
  maxLength: 63,
  pattern: DNS_LABEL,
  description: 'A bus is one dataplane deployment, e.g. "internal" for government-to-government calls or "public" for businesses.',
});

/** Go-style duration limited to what people write in YAML: 250ms, 5s, 2m, 1h. */
export const Duration = Type.String({
  pattern: '^[0-9]+(ms|s|m|h)$',
  maxLength: 16,
  description: 'A duration such as 250ms, 5s, 2m or 1h.',
});

export const LocalObjectReference = Strict({
  name: Name,
});

export const SecretKeyReference = Strict({
  name: Name,
  key: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'Key inside the Secret.' })),
});

export const StringMap = Type.Record(Type.String(), Type.String({ maxLength: 63 }));

export const LabelSelectorRequirement = Strict({
  key: Type.String({ minLength: 1, maxLength: 317 }),
  operator: Type.Union([Type.Literal('In'), Type.Literal('NotIn'), Type.Literal('Exists'), Type.Literal('DoesNotExist')]),
  values: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 64 })),
});

/**
 * Bounded (8 labels, 8 expressions of 64 values) so that matching a binding's selectors against
 * every route stays cheap: see compiler/selectors.ts and test/unit/compile-bounds.test.ts.
 */
export const LabelSelector = Strict({
  matchLabels: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 63 }), { maxProperties: 8 })),
  matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirement, { maxItems: 8 })),
});
export type LabelSelector = Static<typeof LabelSelector>;

export const ConditionStatus = Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')]);

export const Condition = Strict({
  type: Type.String({ minLength: 1, maxLength: 316 }),
  status: ConditionStatus,
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
  message: Type.String({ maxLength: 32768 }),
});
export type Condition = Static<typeof Condition>;

export const Conditions = Type.Array(Condition, {
  maxItems: 8,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
});

/** The fields of metadata the compiler reads; the apiserver owns the rest. */
export const ObjectMeta = Type.Object({
  name: Name,
  namespace: Type.Optional(Type.String({ pattern: DNS_LABEL, maxLength: 63 })),
  generation: Type.Optional(Type.Integer({ minimum: 0 })),
  creationTimestamp: Type.Optional(Type.String({ format: 'date-time' })),
  uid: Type.Optional(Type.String()),
  labels: Type.Optional(StringMap),
  annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
});
export type ObjectMeta = Static<typeof ObjectMeta>;

/** Wraps a kind's spec and status into the full resource schema; an unknown top-level field is refused, as kubectl's strict field validation does. */
export function Resource<K extends string, S extends TSchema, St extends TSchema>(kind: K, spec: S, status: St) {
  return Strict({
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal(kind),
    metadata: ObjectMeta,
    spec,
    status: Type.Optional(status),
  });
}

export const ConditionType = {
  Accepted: 'Accepted',
  ResolvedRefs: 'ResolvedRefs',
  Programmed: 'Programmed',
  Ready: 'Ready',
} as const;

/** The same schema with a description for `kubectl explain`; spreading keeps TypeBox's symbols. */
export function describe<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description };
}

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
  name: describe(Name, 'Name of the referenced object, in the same namespace as this one.'),
});

const SecretName = describe(
  Name,
  `Name of the Secret, in the same namespace as this object. It must carry the label ${CREDENTIALS_LABEL}: "true": the operator reads only labelled Secrets.`,
);

/** A Secret in the referrer's namespace, by name. */
export const SecretReference = Strict({
  name: SecretName,
});

export const SecretKeyReference = Strict({
  name: SecretName,
  key: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'Key inside the Secret.' })),
});

export const StringMap = Type.Record(Type.String(), Type.String({ maxLength: 63 }));

export const LabelSelectorRequirement = Strict({
  key: Type.String({ minLength: 1, maxLength: 317, description: 'The label key the requirement applies to, e.g. gozargah.io/category.' }),
  operator: Type.Union([Type.Literal('In'), Type.Literal('NotIn'), Type.Literal('Exists'), Type.Literal('DoesNotExist')], {
    description: 'In: the label is present with one of values. NotIn: the label is absent or has none of values. Exists / DoesNotExist: the label is present / absent, whatever its value.',
  }),
  values: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), {
    maxItems: 64,
    description: 'The label values In and NotIn compare with (at most 64); ignored by Exists and DoesNotExist.',
  })),
});

/**
 * Bounded (8 labels, 8 expressions of 64 values) so that matching a binding's selectors against
 * every route stays cheap: see compiler/selectors.ts and test/unit/compile-bounds.test.ts.
 */
export const LabelSelector = Strict({
  matchLabels: Type.Optional(Type.Record(Type.String(), Type.String({ maxLength: 63 }), {
    maxProperties: 8,
    description: 'Labels the object must carry, each with exactly the value given (at most 8). ANDed with matchExpressions; a selector with neither matches every object.',
  })),
  matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirement, {
    maxItems: 8,
    description: 'Label requirements the object must all meet (at most 8), ANDed with matchLabels.',
  })),
});
export type LabelSelector = Static<typeof LabelSelector>;

export const ConditionStatus = Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')], {
  description: 'Status of the condition: True, False or Unknown.',
});

/** One condition, worded as metav1.Condition and the Gateway API word theirs. */
export const Condition = Strict({
  type: Type.String({ minLength: 1, maxLength: 316, description: 'Type of the condition, in CamelCase: Accepted, ResolvedRefs, Programmed or Ready.' }),
  status: ConditionStatus,
  observedGeneration: Type.Optional(Type.Integer({
    minimum: 0,
    description: 'The metadata.generation the condition was set for. When it is lower than the object\'s current metadata.generation, the condition is out of date.',
  })),
  lastTransitionTime: Type.String({
    format: 'date-time',
    description: 'When the condition last changed status (True, False or Unknown); a new reason or message with the same status keeps this time.',
  }),
  reason: Type.String({
    minLength: 1,
    maxLength: 1024,
    pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    description: 'A programmatic identifier, in CamelCase, of why the condition last changed, e.g. Accepted, ProviderNotFound, KeyConflict or Pending. The README lists every reason.',
  }),
  message: Type.String({ maxLength: 32768, description: 'A sentence for people with the details, e.g. which reference does not resolve and how to fix it. May be empty.' }),
});
export type Condition = Static<typeof Condition>;

export const Conditions = Type.Array(Condition, {
  maxItems: 8,
  description: 'The latest observations of the object\'s state, one per type, written by the operator as the Gateway API does: Accepted (the spec is valid and does not conflict), ResolvedRefs (the objects and Secrets it references exist and are usable), Programmed (a ready dataplane replica of each of its buses serves this generation), and Ready (True when the object is in effect as written; otherwise the reason and message of what stops it, usually the first failing condition\'s).',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
});

/** A status's observedGeneration: the generation its conditions and fields describe. */
export const ObservedGeneration = Type.Optional(Type.Integer({ minimum: 0, description: 'The metadata.generation the operator last compiled; the status describes that generation.' }));

/**
 * A kind's status: the observedGeneration and conditions every kind carries, then the kind's own
 * fields, all written by the operator.
 */
export function ResourceStatus<P extends TProperties>(fields: P) {
  return Strict({ observedGeneration: ObservedGeneration, conditions: Type.Optional(Conditions), ...fields }, { description: 'What the operator observed, written by it: never set by hand.' });
}

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

/**
 * Wraps a kind's spec and status into the full resource schema; an unknown top-level field is
 * refused, as kubectl's strict field validation does. The descriptions of apiVersion, kind and
 * metadata are the Kubernetes API's own; crd.ts keeps them when it hands metadata to the apiserver.
 */
export function Resource<K extends string, S extends TSchema, St extends TSchema>(kind: K, spec: S, status: St, description: string) {
  return Strict(
    {
      apiVersion: Type.Literal(API_VERSION, {
        description: 'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
      }),
      kind: Type.Literal(kind, {
        description: 'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
      }),
      metadata: describe(ObjectMeta, 'Standard object\'s metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata'),
      spec,
      status: Type.Optional(status),
    },
    { description },
  );
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

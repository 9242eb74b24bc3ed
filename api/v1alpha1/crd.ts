// Generates the CustomResourceDefinitions from the TypeBox schemas. Pure: objects in, objects out.
// A CRD schema is a structural OpenAPI v3 schema, a dialect of JSON Schema: no
// additionalProperties:false beside properties (the apiserver prunes and, with kubectl's
// strict field validation, refuses unknown fields), no patternProperties, no $id.
import type { TSchema } from '@sinclair/typebox';
import { GROUP, VERSION } from './common.ts';
import { CATEGORY, KINDS, type KindInfo } from './kinds.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Rewrites a JSON Schema into the structural-schema dialect the apiserver accepts. */
export function toStructural(schema: TSchema | Json): Json {
  if (Array.isArray(schema)) return schema.map((s) => toStructural(s));
  if (schema === null || typeof schema !== 'object') return schema as Json;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id' || key === 'uniqueItems') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'patternProperties') {
      // Type.Record(String, X) is the only source of patternProperties here.
      const [only] = Object.values(value as Record<string, Json>);
      out['additionalProperties'] = toStructural(only as Json);
      continue;
    }
    if (key === 'anyOf' && Array.isArray(value) && value.every((v) => isConstString(v))) {
      // A union of string literals is an enum.
      out['type'] = 'string';
      out['enum'] = value.map((v) => (v as { const: string }).const);
      continue;
    }
    if (key === 'const') {
      out['enum'] = [value as Json];
      continue;
    }
    out[key] = key === 'properties' ? mapValues(value as Record<string, TSchema>) : toStructural(value as Json);
  }
  return out;
}

function isConstString(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { const?: unknown }).const === 'string';
}

function mapValues(props: Record<string, TSchema>): Json {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(props)) out[k] = toStructural(v);
  return out;
}

/** A schema's description, as a spreadable object; nothing when it has none. */
function descriptionOf(schema: Json | undefined): { description?: string } {
  const description = typeof schema === 'object' && schema !== null && !Array.isArray(schema) ? schema['description'] : undefined;
  return typeof description === 'string' ? { description } : {};
}

function crdFor(info: KindInfo): Json {
  const schema = toStructural(info.schema) as { [key: string]: Json };
  const properties = schema['properties'] as { [key: string]: Json };
  // The apiserver owns metadata: it refuses any schema there but `type: object` (not even a
  // description; kubectl explain shows ObjectMeta's own).
  properties['metadata'] = { type: 'object' };
  properties['apiVersion'] = { type: 'string', ...descriptionOf(properties['apiVersion']) };
  properties['kind'] = { type: 'string', ...descriptionOf(properties['kind']) };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${info.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'gozargah' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: info.kind,
        listKind: `${info.kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: info.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: info.printerColumns as unknown as Json,
          schema: { openAPIV3Schema: { ...schema, required: ['spec'] } },
        },
      ],
    },
  };
}

/** Every CRD, by file name. */
export function generateCRDs(): Map<string, Json> {
  return new Map(KINDS.map((info) => [`${GROUP}_${info.plural}.yaml`, crdFor(info)]));
}

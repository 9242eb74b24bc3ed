// A route's privacy.neverLog, as the snapshot carries it, and what it names. neverLog names path
// parameters and request body fields that never reach a log or audit record: the dataplane
// redacts the path parameters it names and logs no body at all. privacy.sensitive stands for
// every path parameter. An entry that names nothing protects nothing (a typo, or a response field
// that belongs in dropResponseFields): the route stays Accepted and the entry is reported.
import { templateParams, type InquiryRoute } from '../api/v1alpha1/index.ts';

/** Schemas nested deeper than this along one field path are taken to declare the field. */
const MAX_SCHEMA_WALK = 32;

export interface NeverLog {
  /** what the snapshot carries: the spec's entries, then every path parameter of a sensitive route */
  neverLog: string[];
  /** sentences for the Accepted condition, one per entry that names nothing */
  warnings: string[];
}

export function neverLogOf(spec: InquiryRoute['spec']): NeverLog {
  const params = templateParams(spec.path);
  const listed = spec.privacy?.neverLog ?? [];
  const neverLog = [...listed];
  if (spec.privacy?.sensitive === true) for (const p of params) if (!neverLog.includes(p)) neverLog.push(p);
  const warnings: string[] = [];
  for (const entry of listed) {
    if (params.includes(entry)) continue;
    if (spec.requestSchema !== undefined && declares(spec.requestSchema, entry.split('.'), 0)) continue;
    const inPath = params.length === 0 ? 'the path has no parameter' : `the path's parameters are ${params.join(', ')}`;
    const inBody = spec.requestSchema === undefined ? 'the route has no requestSchema' : 'the requestSchema declares no such property';
    warnings.push(`privacy.neverLog entry ${entry} names nothing (${inPath}; ${inBody}), so it protects nothing; a response field is removed with dropResponseFields.`);
  }
  return { neverLog, warnings };
}

/**
 * Whether the schema declares the field path, read the way the dataplane reads field paths: a
 * segment is a key of `properties`, or any key where `additionalProperties` is a schema; '*' is
 * every key or every element; a path through an array applies to each element. allOf, anyOf,
 * oneOf, then and else are searched. What cannot be told without resolving ($ref,
 * patternProperties) counts as declared: a warning must never be wrong.
 */
function declares(schema: unknown, path: readonly string[], depth: number): boolean {
  if (path.length === 0) return true;
  if (depth > MAX_SCHEMA_WALK) return true;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return false;
  const node = schema as Record<string, unknown>;
  if ('$ref' in node || '$dynamicRef' in node || 'patternProperties' in node) return true;
  const [segment, ...rest] = path as [string, ...string[]];
  const properties = typeof node['properties'] === 'object' && node['properties'] !== null ? (node['properties'] as Record<string, unknown>) : {};
  if (segment === '*') {
    if (Object.values(properties).some((p) => declares(p, rest, depth + 1))) return true;
  } else if (Object.hasOwn(properties, segment) && declares(properties[segment], rest, depth + 1)) {
    return true;
  }
  const additional = node['additionalProperties'];
  if (typeof additional === 'object' && additional !== null && declares(additional, rest, depth + 1)) return true;
  const items = node['items'];
  if (typeof items === 'object' && items !== null) {
    // An index or '*' picks elements; any other segment goes through every element.
    if ((segment === '*' || /^[0-9]+$/.test(segment)) && declares(items, rest, depth + 1)) return true;
    if (declares(items, path, depth + 1)) return true;
  }
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    const branches = node[key];
    if (Array.isArray(branches) && branches.some((b) => declares(b, path, depth + 1))) return true;
  }
  return declares(node['then'], path, depth + 1) || declares(node['else'], path, depth + 1);
}

// Stage 3: routes. Accepted unless a schema is invalid or an older route already holds the
// same method and path shape on one of its buses; references resolve when the provider exists
// and resolved its own.
import { templateShape, type InquiryRoute } from '../api/v1alpha1/index.ts';
import { compileRouteSchema, jsonProblem, type SnapshotRoute } from '../api/snapshot/index.ts';
import type { ProviderResult } from './providers.ts';
import type { Refusal } from './types.ts';
import { durationMs, generationOf, idOf, nsOf } from './util.ts';
import { neverLogOf } from './never-log.ts';

export const DEFAULT_MAX_BODY_BYTES = 65_536;

export interface RouteResult {
  route: InquiryRoute;
  id: string;
  /** Accepted=False reason, or null */
  notAccepted: Refusal | null;
  /** ResolvedRefs=False reason, or null */
  unresolved: Refusal | null;
  /** set when both are null */
  entry: SnapshotRoute | null;
  /** sentences for an Accepted=True condition: what is valid but likely a mistake */
  warnings: string[];
}

/** A route's request and response schemas must compile the way the dataplane will compile them. */
function checkSchemas(route: InquiryRoute): Refusal | null {
  for (const field of ['requestSchema', 'responseSchema'] as const) {
    const schema = route.spec[field];
    if (schema === undefined) continue;
    const notJson = jsonProblem(schema, `spec.${field}`);
    if (notJson !== null) return { reason: 'InvalidSchema', message: `spec.${field} is not a usable JSON Schema: ${notJson}.` };
    const compiled = compileRouteSchema(schema);
    if (typeof compiled === 'string') return { reason: 'InvalidSchema', message: `spec.${field} is not a usable JSON Schema: ${compiled}` };
  }
  return null;
}

/** Claims `bus method shape` keys for routes oldest first; a later claimant loses. */
function checkConflict(route: InquiryRoute, id: string, claims: Map<string, string>): Refusal | null {
  const shape = templateShape(route.spec.path);
  const keys: string[] = [];
  for (const bus of route.spec.buses) {
    for (const method of route.spec.methods) {
      const key = `${bus} ${method} ${shape}`;
      const owner = claims.get(key);
      if (owner !== undefined) {
        return {
          reason: 'PathConflict',
          message: `${method} ${route.spec.path} on bus ${bus} already belongs to the older InquiryRoute ${owner}.`,
        };
      }
      keys.push(key);
    }
  }
  for (const key of keys) claims.set(key, id);
  return null;
}

function checkProvider(route: InquiryRoute, providers: Map<string, ProviderResult>, invalidIds: ReadonlySet<string>): Refusal | null {
  const providerId = `${nsOf(route.metadata)}/${route.spec.providerRef.name}`;
  const provider = providers.get(providerId);
  if (provider === undefined && invalidIds.has(`ServiceProvider/${providerId}`)) {
    return { reason: 'ProviderNotReady', message: `ServiceProvider ${providerId} is invalid (see its Accepted condition).` };
  }
  if (provider === undefined) return { reason: 'ProviderNotFound', message: `ServiceProvider ${providerId} does not exist.` };
  if (provider.refusal !== null) return { reason: 'ProviderNotReady', message: `ServiceProvider ${providerId} is not usable: ${provider.refusal.message}` };
  return null;
}

function toEntry(route: InquiryRoute, id: string, provider: ProviderResult): SnapshotRoute {
  const spec = route.spec;
  const timeoutMs = durationMs(spec.timeout, provider.entry?.timeoutMs ?? 10_000);
  return {
    id,
    source: { namespace: nsOf(route.metadata), name: route.metadata.name, generation: generationOf(route.metadata) },
    provider: provider.entry?.id ?? '',
    path: spec.path,
    methods: [...spec.methods].sort(),
    upstreamPath: spec.upstreamPath ?? spec.path,
    timeoutMs,
    retries: spec.retries?.attempts ?? 0,
    perTryTimeoutMs: durationMs(spec.retries?.perTryTimeout, timeoutMs),
    maxBodyBytes: spec.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    requestSchema: spec.requestSchema ?? null,
    responseSchema: spec.responseSchema ?? null,
    dropResponseFields: [...(spec.privacy?.dropResponseFields ?? [])],
    neverLog: neverLogOf(spec).neverLog,
    ...documentationOf(route),
  };
}

/** The label that files a route under a category when it names no tags. */
export const CATEGORY_LABEL = 'gozargah.io/category';

/** The route's documentation members of its snapshot entry; none when it has none. */
function documentationOf(route: InquiryRoute): Pick<SnapshotRoute, 'summary' | 'description' | 'tags' | 'deprecation'> {
  const spec = route.spec;
  const category = route.metadata.labels?.[CATEGORY_LABEL];
  const tags = spec.tags ?? (category === undefined ? [] : [category]);
  return {
    ...(spec.summary === undefined ? {} : { summary: spec.summary }),
    ...(spec.description === undefined ? {} : { description: spec.description }),
    ...(tags.length === 0 ? {} : { tags: [...tags] }),
    ...(spec.deprecated !== true
      ? {}
      : { deprecation: { since: spec.deprecatedSince ?? null, sunset: spec.sunset ?? null, link: spec.deprecationLink ?? null } }),
  };
}

/** Routes arrive oldest first, which is the order conflicts are settled in. */
export function processRoutes(
  routes: readonly InquiryRoute[],
  providers: Map<string, ProviderResult>,
  invalidIds: ReadonlySet<string>,
): Map<string, RouteResult> {
  const results = new Map<string, RouteResult>();
  const claims = new Map<string, string>();
  for (const route of routes) {
    const id = idOf(route.metadata);
    const notAccepted = checkSchemas(route) ?? checkConflict(route, id, claims);
    const unresolved = checkProvider(route, providers, invalidIds);
    const provider = providers.get(`${nsOf(route.metadata)}/${route.spec.providerRef.name}`);
    const entry = notAccepted === null && unresolved === null && provider !== undefined ? toEntry(route, id, provider) : null;
    results.set(id, { route, id, notAccepted, unresolved, entry, warnings: neverLogOf(route.spec).warnings });
  }
  return results;
}

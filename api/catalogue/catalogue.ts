// The catalogue: what a client may call on a bus, built from the snapshot alone, so the bus
// (GET /.well-known/gozargah/catalogue) and the CLI (gozargah catalogue) say the same thing.
// Pure: no I/O, no clock but the `now` it is given.
import type { Snapshot, SnapshotBinding, SnapshotRoute } from '../snapshot/index.ts';

export const CATALOGUE_PATH = '/.well-known/gozargah/catalogue';
export const OPENAPI_PATH = '/.well-known/gozargah/openapi.json';

export interface CatalogueInquiry {
  /** the InquiryRoute, namespace/name */
  route: string;
  path: string;
  methods: string[];
  summary: string | null;
  description: string | null;
  tags: string[];
  deprecated: boolean;
  deprecatedSince: string | null;
  /** from this instant the inquiry answers 410 route_sunset */
  sunset: string | null;
  deprecationLink: string | null;
  /** the body must match a JSON Schema (see the OpenAPI document) */
  validatesBody: boolean;
  maxBodyBytes: number;
  timeoutMs: number;
}

export interface CatalogueBinding {
  /** the ClientBinding, namespace/name */
  id: string;
  rateLimit: SnapshotBinding['rateLimit'];
  quota: SnapshotBinding['quota'];
  notBefore: string | null;
  notAfter: string | null;
  credentials: string[];
}

export interface Catalogue {
  bus: string;
  /** null: the whole bus, for the people who run it */
  client: { id: string; name: string } | null;
  bindings: CatalogueBinding[];
  inquiries: CatalogueInquiry[];
  openapi: string;
}

/** Routes whose sunset has passed answer 410 and are no longer offered. */
export const isSunset = (r: SnapshotRoute, now: number): boolean => r.deprecation?.sunset != null && now >= Date.parse(r.deprecation.sunset);

/**
 * The routes a set of bindings was granted, in path order, minus those past their sunset. No
 * bindings: every route of the bus.
 */
export function grantedRoutes(snapshot: Snapshot, bindings: readonly SnapshotBinding[], now: number): SnapshotRoute[] {
  const granted = bindings.length === 0 ? null : new Set(bindings.flatMap((b) => b.routes));
  return snapshot.routes
    .filter((r) => (granted === null || granted.has(r.id)) && !isSunset(r, now))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.id < b.id ? -1 : 1));
}

/** How a binding's client may authenticate, by the names of the OpenAPI security schemes. */
export function credentialKinds(b: SnapshotBinding): string[] {
  const kinds: string[] = [];
  if (b.apiKeys.length > 0) kinds.push('apiKey');
  if (b.jwt !== undefined) kinds.push('bearer');
  if (b.certFingerprints.length > 0 || b.certSubjects.length > 0) kinds.push('mutualTLS');
  return kinds;
}

export function catalogueOf(snapshot: Snapshot, bindings: readonly SnapshotBinding[], now: number): Catalogue {
  const first = bindings[0];
  return {
    bus: snapshot.bus,
    client: first === undefined ? null : { id: first.clientId, name: first.clientName },
    bindings: bindings.map((b) => ({
      id: b.id,
      rateLimit: b.rateLimit,
      quota: b.quota,
      notBefore: b.notBefore,
      notAfter: b.notAfter,
      credentials: credentialKinds(b),
    })),
    inquiries: grantedRoutes(snapshot, bindings, now).map((r) => ({
      route: r.id,
      path: r.path,
      methods: r.methods,
      summary: r.summary ?? null,
      description: r.description ?? null,
      tags: r.tags ?? [],
      deprecated: r.deprecation !== undefined,
      deprecatedSince: r.deprecation?.since ?? null,
      sunset: r.deprecation?.sunset ?? null,
      deprecationLink: r.deprecation?.link ?? null,
      validatesBody: r.requestSchema !== null,
      maxBodyBytes: r.maxBodyBytes,
      timeoutMs: r.timeoutMs,
    })),
    openapi: OPENAPI_PATH,
  };
}

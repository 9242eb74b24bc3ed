// Sidecar mode: a dataplane in an agency's own pod, serving only that agency's routes from its
// bus's snapshot and forwarding to the agency on localhost. The cut is made once per snapshot,
// where the snapshot becomes a runtime (loader.ts): the hot path never knows it is a sidecar.
//
//   --provider NAMESPACE/NAME   (repeatable) serve only the routes of these ServiceProviders;
//                               every other route is absent (404 route_not_found)
//   --upstream-override URL     forward to URL's origin (http://127.0.0.1:8081) instead of the
//                               provider's, keeping the provider's path prefix
import type { Snapshot } from '../api/snapshot/index.ts';

export interface SidecarOptions {
  /** ServiceProvider ids (namespace/name) whose routes are served */
  providers: readonly string[];
  /** an origin only (scheme, host, port); null: the provider's own URL */
  upstreamOverride: string | null;
}

export interface SidecarCut {
  /** the bus's snapshot reduced to the providers served; its hash stays the bus snapshot's */
  snapshot: Snapshot;
  /** --provider ids that are not in the snapshot */
  missing: string[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Why a --provider value is not NAMESPACE/NAME, or null. */
export function providerIdProblem(value: string): string | null {
  const [ns, name, ...rest] = value.split('/');
  if (rest.length > 0 || ns === undefined || name === undefined) return `--provider must be NAMESPACE/NAME of a ServiceProvider, got ${value}`;
  if (!DNS_LABEL.test(ns)) return `--provider ${value}: the namespace ${JSON.stringify(ns)} is not a DNS label`;
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) return `--provider ${value}: the name ${JSON.stringify(name)} is not a DNS subdomain`;
  return null;
}

/**
 * Why an --upstream-override value cannot be used, or null: http(s), a host, and nothing after
 * the origin (the path prefix is the provider's; a query or credentials would be logged).
 */
export function upstreamOverrideProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `--upstream-override must be a URL such as http://127.0.0.1:8081, got ${value}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `--upstream-override must start with http:// or https://, got ${value}`;
  if (url.username !== '' || url.password !== '') return '--upstream-override must not carry credentials (user:password@)';
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    return `--upstream-override is an origin only (scheme, host, port), got ${value}: the path prefix is the ServiceProvider's upstream.url's, kept as it is`;
  }
  return null;
}

/** The provider's URL with its origin replaced: https://agency.example/v2 -> http://127.0.0.1:8081/v2. */
export function overrideOrigin(providerUrl: string, override: string): string {
  const path = new URL(providerUrl).pathname;
  return `${new URL(override).origin}${path === '/' ? '' : path}`;
}

/**
 * The part of a (checked) snapshot a sidecar serves: the providers named, their routes, and every
 * binding with its grants cut to those routes. Bindings stay even with no grant left, so a
 * served route answers exactly as on the bus's shared replicas (403 route_not_granted, not 401).
 * With an override, providers forward to its origin; over http:// their TLS settings go (TLS to
 * the pod's own loopback protects nothing), over https:// they are kept.
 */
export function sidecarSnapshot(snapshot: Snapshot, options: SidecarOptions): SidecarCut {
  const wanted = new Set(options.providers);
  const present = new Set(snapshot.providers.map((p) => p.id));
  const override = options.upstreamOverride;
  const providers = snapshot.providers
    .filter((p) => wanted.has(p.id))
    .map((p) => (override === null ? p : { ...p, url: overrideOrigin(p.url, override), tls: override.startsWith('http:') ? null : p.tls }));
  const routes = snapshot.routes.filter((r) => wanted.has(r.provider));
  const served = new Set(routes.map((r) => r.id));
  const bindings = snapshot.bindings.map((b) => ({ ...b, routes: b.routes.filter((id) => served.has(id)) }));
  return {
    snapshot: { ...snapshot, providers, routes, bindings },
    missing: [...wanted].filter((id) => !present.has(id)),
  };
}

/** What /readyz and /healthz say of --provider ids the bus's snapshot does not have. */
export function missingWarnings(bus: string, missing: readonly string[]): string[] {
  return missing.map((id) => `--provider ${id} is not in bus ${bus}'s snapshot: no route of this bus uses that ServiceProvider (or it is misspelt); this sidecar serves none of its routes`);
}

/** /config's account of the sidecar: what it was asked to serve and what it could not find. */
export function sidecarView(options: SidecarOptions, missing: readonly string[]): Record<string, unknown> {
  return { providers: options.providers, upstreamOverride: options.upstreamOverride, missing };
}

// Stage 4: bindings. Resolve credentials and requested routes, apply each route's access
// policy, and refuse a binding whose credential another, older binding already holds.
import { createHash } from 'node:crypto';
import { CREDENTIALS_HINT, normalizeSubject, type ClientBinding, type InquiryRoute } from '../api/v1alpha1/index.ts';
import type { SnapshotBinding } from '../api/snapshot/index.ts';
import { namespaceLabelsOf, type ObjectIndex } from './index_objects.ts';
import type { RouteResult } from './routes.ts';
import type { Refusal } from './types.ts';
import { generationOf, idOf, listForPeople, nsOf, selectorMatches } from './util.ts';

/** Shorter keys are guessable; the Secret entry is refused, never silently used. */
export const MIN_API_KEY_LENGTH = 16;

export interface BindingResult {
  binding: ClientBinding;
  id: string;
  /** Accepted=False reason (KeyConflict, NotAdmitted), or null */
  notAccepted: Refusal | null;
  /** ResolvedRefs=False reason (SecretNotFound, InvalidCredentials, RouteNotFound, RouteNotReady), or null */
  unresolved: Refusal | null;
  requested: number;
  /** routes whose access policy admits the binding */
  admitted: number;
  /** routes the binding may call now: admitted, served, and the binding itself is in the snapshot */
  granted: string[];
  entry: SnapshotBinding | null;
}

interface Credentials {
  apiKeys: { id: string; sha256: string }[];
  fingerprints: string[];
  subjects: string[];
}

const sha256 = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');
const normalizeFingerprint = (fp: string): string => fp.replace(/:/g, '').toLowerCase();

/** Checks, in order: the key Secret exists; it holds at least one usable key; some credential remains. */
function resolveCredentials(binding: ClientBinding, index: ObjectIndex): Credentials | Refusal {
  const ns = nsOf(binding.metadata);
  const creds = binding.spec.credentials;
  const out: Credentials = {
    apiKeys: [],
    fingerprints: [...new Set((creds.certificates?.fingerprints ?? []).map(normalizeFingerprint))].sort(),
    // Every subject parses: servableProblems refused the binding otherwise.
    subjects: [...new Set((creds.certificates?.subjects ?? []).map((s) => normalizeSubject(s) ?? s))].sort(),
  };
  if (creds.apiKeys !== undefined) {
    const name = creds.apiKeys.secretRef.name;
    const secret = index.secrets.get(`${ns}/${name}`);
    if (secret === undefined) return { reason: 'SecretNotFound', message: `API key Secret ${ns}/${name} does not exist, ${CREDENTIALS_HINT}.` };
    const unusable: string[] = [];
    const seen = new Set<string>();
    for (const [entry, raw] of [...secret.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const key = raw.trim();
      if (key.length < MIN_API_KEY_LENGTH || /\s/.test(key)) {
        unusable.push(entry);
        continue;
      }
      const hash = sha256(key);
      if (seen.has(hash)) continue;
      seen.add(hash);
      out.apiKeys.push({ id: entry, sha256: hash });
    }
    if (out.apiKeys.length === 0) {
      const why = unusable.length === 0 ? 'it is empty' : `entries ${listForPeople(unusable)} are shorter than ${MIN_API_KEY_LENGTH} characters or contain whitespace`;
      return { reason: 'InvalidCredentials', message: `API key Secret ${ns}/${name} holds no usable key: ${why}.` };
    }
  }
  return out;
}

/** Does the route's access policy admit this binding? null when it does. */
function admissionRefusal(route: InquiryRoute, binding: ClientBinding, index: ObjectIndex): string | null {
  const bindingNs = nsOf(binding.metadata);
  const routeNs = nsOf(route.metadata);
  const policy = route.spec.access?.namespaces;
  const from = policy?.from ?? 'Same';
  let admitted: boolean;
  switch (from) {
    case 'All':
      admitted = true;
      break;
    case 'Selector':
      admitted = selectorMatches(policy?.selector ?? {}, namespaceLabelsOf(index, bindingNs));
      break;
    case 'List':
      admitted = (policy?.names ?? []).includes(bindingNs);
      break;
    default:
      admitted = bindingNs === routeNs;
  }
  if (!admitted) return `namespace ${bindingNs} is not admitted by ${idOf(route.metadata)} (access.namespaces.from: ${from})`;
  const clients = route.spec.access?.clients;
  if (clients !== undefined && !clients.includes(binding.spec.client.id)) {
    return `client ${binding.spec.client.id} is not in the client list of ${idOf(route.metadata)}`;
  }
  return null;
}

interface RouteRequest {
  found: RouteResult[];
  missing: string[];
  /** named routes that exist but are invalid */
  invalid: string[];
}

/** Resolves each entry of spec.routes to existing routes on the binding's bus. */
function resolveRequestedRoutes(
  binding: ClientBinding,
  routes: Map<string, RouteResult>,
  routesByNs: Map<string, RouteResult[]>,
  invalidIds: ReadonlySet<string>,
): RouteRequest {
  const bus = binding.spec.bus;
  const found = new Map<string, RouteResult>();
  const missing: string[] = [];
  const invalid: string[] = [];
  for (const wanted of binding.spec.routes) {
    const ns = wanted.namespace ?? (wanted.selector === undefined ? nsOf(binding.metadata) : undefined);
    if (wanted.name !== undefined) {
      const id = `${ns}/${wanted.name}`;
      const result = routes.get(id);
      if (result === undefined && invalidIds.has(`InquiryRoute/${id}`)) invalid.push(id);
      else if (result === undefined) missing.push(id);
      else if (!result.route.spec.buses.includes(bus)) missing.push(`${id} (not exposed on bus ${bus})`);
      else found.set(id, result);
      continue;
    }
    const candidates = ns === undefined ? [...routes.values()] : (routesByNs.get(ns) ?? []);
    const matched = candidates.filter(
      (r) => r.route.spec.buses.includes(bus) && selectorMatches(wanted.selector ?? {}, r.route.metadata.labels),
    );
    if (matched.length === 0) missing.push(`selector ${JSON.stringify(wanted.selector)}${ns === undefined ? '' : ` in ${ns}`} on bus ${bus}`);
    for (const r of matched) found.set(r.id, r);
  }
  return { found: [...found.values()].sort((a, b) => (a.id < b.id ? -1 : 1)), missing, invalid };
}

/** Bindings arrive oldest first; each credential belongs to the first binding that holds it. */
function claimCredentials(id: string, creds: Credentials, claims: Map<string, string>): Refusal | null {
  const keys = [
    ...creds.apiKeys.map((k) => ({ key: `apikey:${k.sha256}`, what: `API key ${k.id}` })),
    ...creds.fingerprints.map((f) => ({ key: `fp:${f}`, what: `certificate fingerprint ${f.slice(0, 16)}…` })),
    ...creds.subjects.map((s) => ({ key: `subject:${s}`, what: `certificate subject ${s}` })),
  ];
  for (const { key, what } of keys) {
    const owner = claims.get(key);
    if (owner !== undefined && owner !== id) {
      return { reason: 'KeyConflict', message: `The ${what} is already held by the older ClientBinding ${owner}; an identity must belong to one binding.` };
    }
  }
  for (const { key } of keys) claims.set(key, id);
  return null;
}

export function processBindings(index: ObjectIndex, routes: Map<string, RouteResult>): Map<string, BindingResult> {
  const routesByNs = new Map<string, RouteResult[]>();
  for (const r of routes.values()) {
    const ns = nsOf(r.route.metadata);
    const list = routesByNs.get(ns);
    if (list === undefined) routesByNs.set(ns, [r]);
    else list.push(r);
  }
  const claims = new Map<string, string>();
  const results = new Map<string, BindingResult>();
  for (const binding of index.bindings) {
    const id = idOf(binding.metadata);
    const creds = resolveCredentials(binding, index);
    const conflict = 'reason' in creds ? null : claimCredentials(id, creds, claims);
    const request = resolveRequestedRoutes(binding, routes, routesByNs, index.invalidIds);

    const granted: string[] = [];
    const refused: string[] = [];
    const notReady: string[] = [...request.invalid];
    for (const r of request.found) {
      const why = admissionRefusal(r.route, binding, index);
      if (why !== null) refused.push(why);
      else if (r.entry === null) notReady.push(r.id);
      else granted.push(r.id);
    }

    const notAccepted: Refusal | null =
      conflict ??
      (refused.length > 0
        ? {
            reason: 'NotAdmitted',
            message: `Refused: ${listForPeople(refused, 5)}.${granted.length > 0 ? ` Granted: ${listForPeople(granted)}.` : ''}`,
          }
        : null);
    let unresolved: Refusal | null = null;
    if ('reason' in creds) unresolved = creds;
    else if (request.missing.length > 0) unresolved = { reason: 'RouteNotFound', message: `Requested routes not found: ${listForPeople(request.missing)}.` };
    else if (notReady.length > 0) unresolved = { reason: 'RouteNotReady', message: `Requested routes exist but are not served (see their status): ${listForPeople(notReady)}.` };

    const entry: SnapshotBinding | null =
      'reason' in creds || conflict !== null
        ? null
        : {
            id,
            source: { namespace: nsOf(binding.metadata), name: binding.metadata.name, generation: generationOf(binding.metadata) },
            clientId: binding.spec.client.id,
            clientName: binding.spec.client.displayName,
            apiKeys: creds.apiKeys,
            certFingerprints: creds.fingerprints,
            certSubjects: creds.subjects,
            routes: granted,
            rateLimit:
              binding.spec.rateLimit === undefined
                ? null
                : { requestsPerSecond: binding.spec.rateLimit.requestsPerSecond, burst: binding.spec.rateLimit.burst ?? binding.spec.rateLimit.requestsPerSecond },
            quota: binding.spec.quota === undefined ? null : { requests: binding.spec.quota.requests, period: binding.spec.quota.period },
            sourceCIDRs: [...(binding.spec.sourceCIDRs ?? [])],
            notBefore: binding.spec.validity?.notBefore ?? null,
            notAfter: binding.spec.validity?.notAfter ?? null,
          };
    results.set(id, {
      binding,
      id,
      notAccepted,
      unresolved,
      requested: request.found.length + request.missing.length + request.invalid.length,
      admitted: granted.length + notReady.length - request.invalid.length,
      granted: entry === null ? [] : granted,
      entry,
    });
  }
  return results;
}

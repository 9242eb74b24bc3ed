// Stage 4: bindings. Resolve credentials and requested routes, apply each route's access
// policy, and refuse a binding whose credential another, older binding already holds.
import { createHash } from 'node:crypto';
import { CREDENTIALS_HINT, DEFAULT_JWKS_KEY, DEFAULT_JWT_ALGORITHMS, normalizeSubject, type ClientBinding, type LabelSelector } from '../api/v1alpha1/index.ts';
import { parseJwks, type SnapshotBinding, type SnapshotJwt } from '../api/snapshot/index.ts';
import { namespaceLabelsOf, type ObjectIndex } from './index_objects.ts';
import type { RouteResult } from './routes.ts';
import type { Refusal } from './types.ts';
import { RouteLabelIndex } from './selectors.ts';
import { compileSelector, generationOf, idOf, listForPeople, nsOf } from './util.ts';

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
  jwt: SnapshotJwt | null;
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
    jwt: null,
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
  if (creds.jwt !== undefined) {
    const jwt = resolveJwt(binding, index);
    if ('reason' in jwt) return jwt;
    out.jwt = jwt;
  }
  return out;
}

/** The binding's jwt credentials for the snapshot, the JWKS read from its Secret and checked. */
function resolveJwt(binding: ClientBinding, index: ObjectIndex): SnapshotJwt | Refusal {
  const jwt = binding.spec.credentials.jwt as NonNullable<ClientBinding['spec']['credentials']['jwt']>;
  let keys: SnapshotJwt['keys'] = null;
  if (jwt.jwks !== undefined) {
    const ns = nsOf(binding.metadata);
    const { name, key = DEFAULT_JWKS_KEY } = jwt.jwks.secretRef;
    const secret = index.secrets.get(`${ns}/${name}`);
    if (secret === undefined) return { reason: 'SecretNotFound', message: `JWKS Secret ${ns}/${name} does not exist, ${CREDENTIALS_HINT}.` };
    const text = secret.get(key);
    if (text === undefined) {
      const entries = [...secret.keys()].sort();
      return { reason: 'InvalidCredentials', message: `JWKS Secret ${ns}/${name} has no entry ${key} (${entries.length === 0 ? 'it is empty' : `it has ${listForPeople(entries)}`}); set jwks.secretRef.key to the entry that holds the JWKS.` };
    }
    const parsed = parseJwks(text);
    if (typeof parsed === 'string') return { reason: 'InvalidCredentials', message: `The JWKS in Secret ${ns}/${name} entry ${key} is not usable: ${parsed}.` };
    keys = parsed.keys;
  }
  return {
    issuer: jwt.issuer,
    audiences: [...new Set(jwt.audiences)].sort(),
    claim: jwt.claim ?? 'sub',
    claimValue: jwt.claimValue ?? binding.spec.client.id,
    algorithms: [...new Set(jwt.algorithms ?? DEFAULT_JWT_ALGORITHMS)].sort(),
    keys,
    jwksURL: jwt.jwksURL ?? null,
  };
}

/**
 * What a compile pass precomputes so that a binding's cost does not grow with the size of the
 * lists it meets: each route's access policy with its lists as Sets and its selector compiled,
 * and the namespace decision per route and namespace; the routes of each bus (and namespace);
 * each distinct route selector compiled once and its result per bus and namespace.
 */
interface Lookup {
  index: ObjectIndex;
  routes: Map<string, RouteResult>;
  invalidIds: ReadonlySet<string>;
  /** `bus` and `bus namespace` -> the routes there, in route order, indexed by label */
  onBus: Map<string, RouteLabelIndex<RouteResult>>;
  access: Map<string, { namespaceAdmits: (ns: string) => boolean; clients: ReadonlySet<string> | null }>;
  /** `selector JSON | bus | namespace` -> matched routes */
  selected: Map<string, RouteResult[]>;
}

function newLookup(index: ObjectIndex, routes: Map<string, RouteResult>): Lookup {
  const lists = new Map<string, RouteResult[]>();
  const add = (key: string, r: RouteResult): void => {
    const list = lists.get(key);
    if (list === undefined) lists.set(key, [r]);
    else list.push(r);
  };
  for (const r of routes.values()) {
    for (const bus of new Set(r.route.spec.buses)) {
      add(bus, r);
      add(`${bus} ${nsOf(r.route.metadata)}`, r);
    }
  }
  const onBus = new Map([...lists].map(([key, list]) => [key, new RouteLabelIndex(list, (r) => r.route.metadata.labels)]));
  return { index, routes, invalidIds: index.invalidIds, onBus, access: new Map(), selected: new Map() };
}

function accessOf(lookup: Lookup, r: RouteResult): { namespaceAdmits: (ns: string) => boolean; clients: ReadonlySet<string> | null } {
  const known = lookup.access.get(r.id);
  if (known !== undefined) return known;
  const routeNs = nsOf(r.route.metadata);
  const policy = r.route.spec.access?.namespaces;
  let admits: (ns: string) => boolean;
  switch (policy?.from ?? 'Same') {
    case 'All':
      admits = () => true;
      break;
    case 'Selector': {
      const matches = compileSelector(policy?.selector ?? {});
      const decided = new Map<string, boolean>();
      admits = (ns) => {
        let yes = decided.get(ns);
        if (yes === undefined) decided.set(ns, (yes = matches(namespaceLabelsOf(lookup.index, ns))));
        return yes;
      };
      break;
    }
    case 'List': {
      const names = new Set(policy?.names ?? []);
      admits = (ns) => names.has(ns);
      break;
    }
    default:
      admits = (ns) => ns === routeNs;
  }
  const clients = r.route.spec.access?.clients;
  const access = { namespaceAdmits: admits, clients: clients === undefined ? null : new Set(clients) };
  lookup.access.set(r.id, access);
  return access;
}

/** Does the route's access policy admit this binding? null when it does. */
function admissionRefusal(lookup: Lookup, r: RouteResult, binding: ClientBinding): string | null {
  const bindingNs = nsOf(binding.metadata);
  const access = accessOf(lookup, r);
  if (!access.namespaceAdmits(bindingNs)) {
    return `namespace ${bindingNs} is not admitted by ${r.id} (access.namespaces.from: ${r.route.spec.access?.namespaces?.from ?? 'Same'})`;
  }
  if (access.clients !== null && !access.clients.has(binding.spec.client.id)) {
    return `client ${binding.spec.client.id} is not in the client list of ${r.id}`;
  }
  return null;
}

interface RouteRequest {
  found: RouteResult[];
  missing: string[];
  /** named routes that exist but are invalid */
  invalid: string[];
}

/** The routes on `bus` (in namespace `ns`, when set) that a selector matches; computed once per pass. */
function selectRoutes(lookup: Lookup, selector: LabelSelector, bus: string, ns: string | undefined): RouteResult[] {
  const key = `${JSON.stringify(selector)}|${bus}|${ns ?? ''}`;
  let matched = lookup.selected.get(key);
  if (matched === undefined) {
    matched = lookup.onBus.get(ns === undefined ? bus : `${bus} ${ns}`)?.select(selector) ?? [];
    lookup.selected.set(key, matched);
  }
  return matched;
}

/** Resolves each entry of spec.routes to existing routes on the binding's bus. */
function resolveRequestedRoutes(binding: ClientBinding, lookup: Lookup): RouteRequest {
  const bus = binding.spec.bus;
  const found = new Map<string, RouteResult>();
  const missing: string[] = [];
  const invalid: string[] = [];
  for (const wanted of binding.spec.routes) {
    const ns = wanted.namespace ?? (wanted.selector === undefined ? nsOf(binding.metadata) : undefined);
    if (wanted.name !== undefined) {
      const id = `${ns}/${wanted.name}`;
      const result = lookup.routes.get(id);
      if (result === undefined && lookup.invalidIds.has(`InquiryRoute/${id}`)) invalid.push(id);
      else if (result === undefined) missing.push(id);
      else if (!result.route.spec.buses.includes(bus)) missing.push(`${id} (not exposed on bus ${bus})`);
      else found.set(id, result);
      continue;
    }
    const matched = selectRoutes(lookup, wanted.selector ?? {}, bus, ns);
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
    ...(creds.jwt === null
      ? []
      : [{ key: `jwt:${JSON.stringify([creds.jwt.issuer, creds.jwt.claim, creds.jwt.claimValue])}`, what: `token identity ${creds.jwt.claim}=${creds.jwt.claimValue} of issuer ${creds.jwt.issuer}` }]),
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
  const lookup = newLookup(index, routes);
  const claims = new Map<string, string>();
  const results = new Map<string, BindingResult>();
  for (const binding of index.bindings) {
    const id = idOf(binding.metadata);
    const creds = resolveCredentials(binding, index);
    const conflict = 'reason' in creds ? null : claimCredentials(id, creds, claims);
    const request = resolveRequestedRoutes(binding, lookup);

    const granted: string[] = [];
    const refused: string[] = [];
    const notReady: string[] = [...request.invalid];
    for (const r of request.found) {
      const why = admissionRefusal(lookup, r, binding);
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
            // Only when set: a snapshot without JWT bindings stays what it was.
            ...(creds.jwt === null ? {} : { jwt: creds.jwt }),
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

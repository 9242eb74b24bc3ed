// The compiler: every object (with the status it had) in, one snapshot per bus and the status
// every object should have out. Pure: no I/O, no clock, no randomness; the same input gives
// byte-identical output.
import { API_VERSION, type Condition } from '../api/v1alpha1/index.ts';
import { SNAPSHOT_API_VERSION, snapshotHash, type Snapshot, type SnapshotProvider } from '../api/snapshot/index.ts';
import { fail, nextConditions, ok, readyCondition, type ConditionInput } from './conditions.ts';
import { indexObjects } from './index_objects.ts';
import { processProviders } from './providers.ts';
import { processRoutes } from './routes.ts';
import { processBindings } from './bindings.ts';
import { programmedCondition } from './programmed.ts';
import { quotaUsage } from './usage.ts';
import type { CompileInput, CompileOutput, StatusEntry } from './types.ts';
import { byId, compareStrings, generationOf, nsOf } from './util.ts';

interface Prior {
  metadata: { name: string; namespace?: string; generation?: number };
  status?: { conditions?: Condition[]; usage?: unknown };
}

function statusEntry(kind: StatusEntry['kind'], obj: Prior, now: string, conditions: ConditionInput[], fields: Record<string, unknown>, notReady: ConditionInput | null = null): StatusEntry {
  const generation = generationOf(obj.metadata);
  const all = [...conditions, readyCondition(conditions, notReady)];
  return {
    apiVersion: API_VERSION,
    kind,
    metadata: { namespace: nsOf(obj.metadata), name: obj.metadata.name },
    status: { observedGeneration: generation, conditions: nextConditions(obj.status?.conditions, generation, now, all), ...fields },
  };
}

/**
 * A binding served but outside its validity window: the dataplane answers its calls 401
 * binding_expired, so it is not Ready, and says why (the operator compiles again when the
 * window opens or closes).
 */
function outsideValidity(validity: { notBefore?: string; notAfter?: string } | undefined, now: string): ConditionInput | null {
  const at = Date.parse(now);
  if (validity?.notAfter !== undefined && Date.parse(validity.notAfter) < at) {
    return fail('Ready', 'Expired', `The binding's validity ended at ${validity.notAfter}: the dataplane refuses its calls (401 binding_expired). Move spec.validity.notAfter to renew it.`);
  }
  if (validity?.notBefore !== undefined && Date.parse(validity.notBefore) > at) {
    return fail('Ready', 'NotYetValid', `The binding is valid from ${validity.notBefore}: until then the dataplane refuses its calls (401 binding_expired).`);
  }
  return null;
}

/**
 * A route served past its sunset: the dataplane answers 410 route_sunset, so it is not Ready (the
 * operator compiles again at the sunset).
 */
function pastSunset(spec: { deprecated?: boolean; sunset?: string }, now: string): ConditionInput | null {
  if (spec.deprecated !== true || spec.sunset === undefined || Date.parse(spec.sunset) > Date.parse(now)) return null;
  return fail('Ready', 'Sunset', `The route was retired at ${spec.sunset}: the dataplane answers its calls 410 route_sunset and the catalogue no longer lists it. Delete it once its clients have moved, or move spec.sunset.`);
}

export function compile(input: CompileInput): CompileOutput {
  const { now, serving } = input;
  // 1. index the objects and check their schemas
  const index = indexObjects(input.objects, input.trustSchema ?? false);
  // 2. providers, 3. routes (oldest first claims a path), 4. bindings (oldest first holds a key)
  const providers = processProviders(index);
  const routes = processRoutes(index.routes, providers, index.invalidIds);
  const bindings = processBindings(index, routes);

  // 5. assemble one snapshot per bus
  const buses = new Map<string, { providers: Map<string, SnapshotProvider>; routes: Snapshot['routes']; bindings: Snapshot['bindings'] }>();
  const busOf = (name: string) => {
    let bus = buses.get(name);
    if (bus === undefined) buses.set(name, (bus = { providers: new Map(), routes: [], bindings: [] }));
    return bus;
  };
  for (const name of input.buses ?? []) busOf(name);
  const providerBuses = new Map<string, Set<string>>();
  const providerRoutes = new Map<string, number>();
  for (const r of routes.values()) {
    if (r.entry === null) continue;
    const provider = providers.get(r.entry.provider)?.entry;
    if (provider === undefined || provider === null) continue;
    providerRoutes.set(provider.id, (providerRoutes.get(provider.id) ?? 0) + 1);
    for (const name of r.route.spec.buses) {
      const bus = busOf(name);
      bus.routes.push(r.entry);
      bus.providers.set(provider.id, provider);
      (providerBuses.get(provider.id) ?? providerBuses.set(provider.id, new Set()).get(provider.id))?.add(name);
    }
  }
  const boundClients = new Map<string, number>();
  for (const b of bindings.values()) {
    if (b.entry === null) continue;
    busOf(b.binding.spec.bus).bindings.push(b.entry);
    for (const routeId of b.entry.routes) boundClients.set(routeId, (boundClients.get(routeId) ?? 0) + 1);
  }
  const snapshots: Record<string, Snapshot> = {};
  for (const name of [...buses.keys()].sort(compareStrings)) {
    const bus = buses.get(name)!;
    const content = {
      apiVersion: SNAPSHOT_API_VERSION,
      bus: name,
      providers: [...bus.providers.values()].sort(byId),
      routes: bus.routes.sort(byId),
      bindings: bus.bindings.sort(byId),
    } as const;
    snapshots[name] = { ...content, hash: snapshotHash(content) } as Snapshot;
  }

  // 6. statuses
  const statuses: StatusEntry[] = [];
  for (const bad of index.invalid) {
    const message = `Invalid ${bad.kind}: ${bad.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
    statuses.push(
      statusEntry(bad.kind, bad, now, [fail('Accepted', 'Invalid', message), fail('ResolvedRefs', 'Invalid', 'Not checked: the object is invalid.'), fail('Programmed', 'Invalid', 'Not programmed: the object is invalid.')], {}),
    );
  }
  for (const p of providers.values()) {
    const id = `${nsOf(p.provider.metadata)}/${p.provider.metadata.name}`;
    const onBuses = [...(providerBuses.get(id) ?? [])].sort(compareStrings);
    const conditions = [
      ok('Accepted', 'Accepted', 'The provider is valid.'),
      p.refusal === null ? ok('ResolvedRefs', 'ResolvedRefs', 'All referenced Secrets resolved.') : fail('ResolvedRefs', p.refusal.reason, p.refusal.message),
      p.refusal !== null
        ? fail('Programmed', 'Invalid', 'Not programmed until its references resolve.')
        : onBuses.length === 0
          ? fail('Programmed', 'NoRoutes', 'No served InquiryRoute uses this provider yet.')
          : programmedCondition('ServiceProvider', p.provider.metadata, onBuses, serving),
    ];
    statuses.push(statusEntry('ServiceProvider', p.provider, now, conditions, { routes: providerRoutes.get(id) ?? 0 }));
  }
  for (const r of routes.values()) {
    const buses = [...r.route.spec.buses].sort(compareStrings);
    const conditions = [
      r.notAccepted === null ? ok('Accepted', 'Accepted', ['The route is valid and its path is its own.', ...r.warnings.map((w) => `Warning: ${w}`)].join(' ')) : fail('Accepted', r.notAccepted.reason, r.notAccepted.message),
      r.unresolved === null ? ok('ResolvedRefs', 'ResolvedRefs', 'The provider exists and is usable.') : fail('ResolvedRefs', r.unresolved.reason, r.unresolved.message),
      r.entry === null
        ? fail('Programmed', 'Invalid', 'Not programmed: see Accepted and ResolvedRefs.')
        : programmedCondition('InquiryRoute', r.route.metadata, buses, serving),
    ];
    statuses.push(statusEntry('InquiryRoute', r.route, now, conditions, { buses: buses.join(','), boundClients: boundClients.get(r.id) ?? 0 }, r.entry === null ? null : pastSunset(r.route.spec, now)));
  }
  for (const b of bindings.values()) {
    const conditions = [
      b.notAccepted === null ? ok('Accepted', 'Accepted', `Admitted to ${b.admitted} route(s) on bus ${b.binding.spec.bus}.`) : fail('Accepted', b.notAccepted.reason, b.notAccepted.message),
      b.unresolved === null ? ok('ResolvedRefs', 'ResolvedRefs', 'Credentials and requested routes resolved.') : fail('ResolvedRefs', b.unresolved.reason, b.unresolved.message),
      b.entry === null
        ? fail('Programmed', 'Invalid', 'Not programmed: see Accepted and ResolvedRefs.')
        : programmedCondition('ClientBinding', b.binding.metadata, [b.binding.spec.bus], serving),
    ];
    const fields: Record<string, unknown> = {
      routes: `${b.granted.length}/${b.requested}`,
      grantedRoutes: b.granted.slice(0, 100),
    };
    const usage = quotaUsage(b.binding, now);
    if (usage !== null) fields['usage'] = usage;
    statuses.push(statusEntry('ClientBinding', b.binding, now, conditions, fields, outsideValidity(b.binding.spec.validity, now)));
  }
  const kindOrder = { ServiceProvider: 0, InquiryRoute: 1, ClientBinding: 2 } as const;
  statuses.sort(
    (a, b) =>
      kindOrder[a.kind] - kindOrder[b.kind] ||
      compareStrings(a.metadata.namespace, b.metadata.namespace) ||
      compareStrings(a.metadata.name, b.metadata.name),
  );
  return { snapshots, statuses };
}

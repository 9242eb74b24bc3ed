// Full validation of a snapshot before a dataplane swaps it in: schema, hash, and references.
import { Ajv } from 'ajv';
import { Snapshot, SNAPSHOT_API_VERSION } from './v1.ts';
import { snapshotHash } from './hash.ts';

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
const validateSchema = ajv.compile<Snapshot>(Snapshot);

/** Returns the problems found; an empty list means the snapshot may be served. */
export function checkSnapshot(value: unknown): string[] {
  if (!validateSchema(value)) {
    return (validateSchema.errors ?? []).map((e) => `${e.instancePath || '<root>'}: ${e.message ?? e.keyword}`);
  }
  const snapshot = value;
  const problems: string[] = [];
  if (snapshot.apiVersion !== SNAPSHOT_API_VERSION) problems.push(`apiVersion ${snapshot.apiVersion} is not ${SNAPSHOT_API_VERSION}`);
  const expected = snapshotHash(snapshot);
  if (snapshot.hash !== expected) problems.push(`hash ${snapshot.hash} does not match the content (${expected})`);
  const providers = new Set(snapshot.providers.map((p) => p.id));
  const routes = new Set<string>();
  for (const r of snapshot.routes) {
    if (!providers.has(r.provider)) problems.push(`route ${r.id} names unknown provider ${r.provider}`);
    if (routes.has(r.id)) problems.push(`route ${r.id} appears twice`);
    routes.add(r.id);
  }
  for (const b of snapshot.bindings) {
    for (const r of b.routes) if (!routes.has(r)) problems.push(`binding ${b.id} grants unknown route ${r}`);
  }
  return problems;
}

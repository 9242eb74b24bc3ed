// Full validation of a snapshot before a dataplane swaps it in: schema, hash, and references.
import { Ajv } from 'ajv';
import { Snapshot, SNAPSHOT_API_VERSION } from './v1.ts';
import { snapshotHash } from './hash.ts';
import { cidrProblem, serverNameProblem, timestampProblem, tlsProblem, upstreamURLProblem } from './servable.ts';
import { normalizeSubject } from '../v1alpha1/subject.ts';
import { JWKS_URL, JWT_ALGORITHMS } from '../v1alpha1/clientbinding.ts';
import { jwksProblem } from './jwks.ts';

const jwksURL = new RegExp(JWKS_URL);
const ALGORITHMS: ReadonlySet<string> = new Set(JWT_ALGORITHMS);

/** What the dataplane's JWT verifier needs of a binding's jwt member (see dataplane/jwt.ts). */
function jwtProblems(jwt: NonNullable<Snapshot['bindings'][number]['jwt']>): string[] {
  const problems: string[] = [];
  if ((jwt.keys === null) === (jwt.jwksURL === null)) problems.push('jwt needs exactly one of keys and jwksURL');
  if (jwt.jwksURL !== null && !jwksURL.test(jwt.jwksURL)) problems.push('jwt jwksURL is not https (or http to a loopback address)');
  if (jwt.keys !== null) {
    const problem = jwksProblem({ keys: jwt.keys });
    if (problem !== null) problems.push(`jwt keys: ${problem}`);
  }
  for (const alg of jwt.algorithms) if (!ALGORITHMS.has(alg)) problems.push(`jwt algorithm ${JSON.stringify(alg)} is not accepted`);
  return problems;
}

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
  // What buildRuntime and the connections it opens need (api/snapshot/servable.ts).
  for (const p of snapshot.providers) {
    const url = upstreamURLProblem(p.url);
    if (url !== null) problems.push(`provider ${p.id}: url ${url}`);
    if (p.tls !== null) {
      const tls = tlsProblem(p.tls);
      if (tls !== null) problems.push(`provider ${p.id}: ${tls}`);
      const sni = p.tls.serverName === null ? null : serverNameProblem(p.tls.serverName);
      if (sni !== null) problems.push(`provider ${p.id}: serverName ${sni}`);
    }
  }
  const routes = new Set<string>();
  for (const r of snapshot.routes) {
    if (!providers.has(r.provider)) problems.push(`route ${r.id} names unknown provider ${r.provider}`);
    if (routes.has(r.id)) problems.push(`route ${r.id} appears twice`);
    routes.add(r.id);
    for (const time of [r.deprecation?.since ?? null, r.deprecation?.sunset ?? null]) {
      const problem = time === null ? null : timestampProblem(time);
      if (problem !== null) problems.push(`route ${r.id}: ${problem}`);
    }
  }
  const credentials = new Map<string, string>();
  const claim = (b: { id: string }, key: string): void => {
    const owner = credentials.get(key);
    if (owner !== undefined && owner !== b.id) problems.push(`binding ${b.id} holds ${key.split(':')[0]} credential of ${owner}`);
    credentials.set(key, b.id);
  };
  for (const b of snapshot.bindings) {
    for (const r of b.routes) if (!routes.has(r)) problems.push(`binding ${b.id} grants unknown route ${r}`);
    for (const cidr of b.sourceCIDRs) {
      const problem = cidrProblem(cidr);
      if (problem !== null) problems.push(`binding ${b.id}: ${problem}`);
    }
    for (const time of [b.notBefore, b.notAfter]) {
      const problem = time === null ? null : timestampProblem(time);
      if (problem !== null) problems.push(`binding ${b.id}: ${problem}`);
    }
    for (const subject of b.certSubjects) {
      if (normalizeSubject(subject) !== subject) problems.push(`binding ${b.id}: subject ${JSON.stringify(subject)} is not in canonical RFC 4514 form`);
      claim(b, `subject:${subject}`);
    }
    for (const k of b.apiKeys) claim(b, `apikey:${k.sha256}`);
    for (const f of b.certFingerprints) claim(b, `fingerprint:${f}`);
    if (b.jwt !== undefined) {
      for (const problem of jwtProblems(b.jwt)) problems.push(`binding ${b.id}: ${problem}`);
      claim(b, `jwt:${JSON.stringify([b.jwt.issuer, b.jwt.claim, b.jwt.claimValue])}`);
    }
  }
  return problems;
}

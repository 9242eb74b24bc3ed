// Stage 1b: values the schema admits (or that an older CRD, or a trusting caller, let through)
// but the dataplane could not build its runtime from. Each is refused here, on its own object,
// as Invalid with the field named; never in the dataplane, where it would refuse the whole
// snapshot and stop the bus from taking later changes (a deleted key would keep working).
// The checks are the ones checkSnapshot applies (api/snapshot/servable.ts).
import { SHA256_FINGERPRINT, subjectProblem, type SchemaError } from '../api/v1alpha1/index.ts';
import { cidrProblem, serverNameProblem, timestampProblem, upstreamURLProblem } from '../api/snapshot/index.ts';

const FINGERPRINT = new RegExp(SHA256_FINGERPRINT);

type Spec = Record<string, unknown>;

const isString = (v: unknown): v is string => typeof v === 'string';
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter(isString) : []);
const object = (v: unknown): Spec => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Spec) : {});

function providerProblems(spec: Spec): SchemaError[] {
  const errors: SchemaError[] = [];
  const upstream = object(spec['upstream']);
  const url = upstream['url'];
  if (isString(url)) {
    const problem = upstreamURLProblem(url);
    // The URL itself is not repeated: its userinfo or query may hold a credential, and status is for everyone.
    if (problem !== null) errors.push({ path: 'spec.upstream.url', message: problem });
  }
  const serverName = object(upstream['tls'])['serverName'];
  if (isString(serverName)) {
    const problem = serverNameProblem(serverName);
    if (problem !== null) errors.push({ path: 'spec.upstream.tls.serverName', message: problem });
  }
  return errors;
}

function bindingProblems(spec: Spec): SchemaError[] {
  const errors: SchemaError[] = [];
  strings(spec['sourceCIDRs']).forEach((cidr, i) => {
    const problem = cidrProblem(cidr);
    if (problem !== null) errors.push({ path: `spec.sourceCIDRs[${i}]`, message: problem });
  });
  const validity = object(spec['validity']);
  for (const field of ['notBefore', 'notAfter'] as const) {
    const value = validity[field];
    if (!isString(value)) continue;
    const problem = timestampProblem(value);
    if (problem !== null) errors.push({ path: `spec.validity.${field}`, message: problem });
  }
  const certificates = object(object(spec['credentials'])['certificates']);
  // An older CRD did not check the form: the snapshot holds 64 lowercase hex digits, nothing else.
  strings(certificates['fingerprints']).forEach((fp, i) => {
    if (!FINGERPRINT.test(fp)) errors.push({ path: `spec.credentials.certificates.fingerprints[${i}]`, message: 'not a SHA-256 fingerprint (64 hex digits, colons between pairs optional)' });
  });
  strings(certificates['subjects']).forEach((subject, i) => {
    const problem = subjectProblem(subject);
    if (problem !== null) errors.push({ path: `spec.credentials.certificates.subjects[${i}]`, message: `not an RFC 4514 name: ${problem}` });
  });
  return errors;
}

/** What the dataplane could not serve in this object's spec; empty when it can. */
export function servableProblems(kind: string, obj: Record<string, unknown>): SchemaError[] {
  const spec = object(obj['spec']);
  if (kind === 'ServiceProvider') return providerProblems(spec);
  if (kind === 'ClientBinding') return bindingProblems(spec);
  return [];
}

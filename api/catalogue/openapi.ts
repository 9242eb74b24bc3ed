// The OpenAPI 3.1 document of exactly the inquiries a client may call on a bus: their
// parameters, request and response schemas (JSON Schema 2020-12, as OpenAPI 3.1 uses), the
// bus's error contract per operation (problem+json codes, api/problems.ts) and how to
// authenticate. Pure: built from the snapshot alone.
import { Errors, type ErrorKind } from '../problems.ts';
import type { Snapshot, SnapshotBinding, SnapshotProvider, SnapshotRoute } from '../snapshot/index.ts';
import { templateParams, templateShape } from '../v1alpha1/pathtemplate.ts';
import { credentialKinds, grantedRoutes } from './catalogue.ts';

export type OpenApiDocument = Record<string, unknown>;

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };

/** The errors any call can meet, whatever the route and the client. */
const ALWAYS: readonly ErrorKind[] = [
  Errors.pathInvalid,
  Errors.credentialsInQuery,
  Errors.credentialsMissing,
  Errors.credentialsInvalid,
  Errors.routeNotGranted,
  Errors.bodyTooLarge,
  Errors.bodyTimeout,
  Errors.providerUnavailable,
  Errors.upstreamTimeout,
  Errors.upstreamUnavailable,
  Errors.upstreamBroken,
  Errors.auditUnavailable,
  Errors.accountingUnavailable,
  Errors.notReady,
  Errors.cutAtShutdown,
  Errors.internal,
];

const SECURITY_SCHEMES: Record<string, Record<string, unknown>> = {
  apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'An API key from the client\'s ClientBinding Secret.' },
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An OAuth2 access token (client credentials grant) from the identity provider the ClientBinding names.' },
  mutualTLS: { type: 'mutualTLS', description: 'A client certificate the ClientBinding names, by SHA-256 fingerprint or subject.' },
};

export interface OpenApiOptions {
  /** leave out routes past their sunset */
  now: number;
}

/** The document for the grants of `bindings` (one client), or for the whole bus when empty. */
export function openApiOf(snapshot: Snapshot, bindings: readonly SnapshotBinding[], options: OpenApiOptions): OpenApiDocument {
  const providers = new Map(snapshot.providers.map((p) => [p.id, p]));
  const routes = grantedRoutes(snapshot, bindings, options.now);
  const paths: Record<string, Record<string, unknown>> = {};
  // OpenAPI forbids two templated paths that differ only in parameter names; routes sharing a
  // shape (on disjoint methods) are listed under the first one's template.
  const templateOfShape = new Map<string, string>();
  const tags = new Set<string>();
  for (const r of routes) {
    const shape = templateShape(r.path);
    const template = templateOfShape.get(shape) ?? r.path;
    templateOfShape.set(shape, template);
    const item = (paths[template] ??= {});
    for (const method of r.methods) item[method.toLowerCase()] = operation(r, method, template, providers.get(r.provider), bindings);
    for (const tag of r.tags ?? []) tags.add(tag);
  }
  const schemes = bindings.length === 0 ? Object.keys(SECURITY_SCHEMES) : [...new Set(bindings.flatMap(credentialKinds))];
  const client = bindings[0];
  return {
    openapi: '3.1.0',
    info: {
      title: client === undefined ? `Gozargah bus ${snapshot.bus}` : `Gozargah bus ${snapshot.bus}: inquiries for ${client.clientName}`,
      version: snapshot.hash.slice('sha256:'.length, 'sha256:'.length + 12),
      description: [
        client === undefined ? `Every inquiry published on bus ${snapshot.bus}.` : `The inquiries client ${client.clientId} is granted on bus ${snapshot.bus}.`,
        'Answers the bus gives itself are application/problem+json documents with a stable `code` and the `x-gozargah-error` header; every other answer is the agency\'s own.',
        'Every answer carries x-request-id; quote it when asking about a call.',
      ].join(' '),
    },
    // Relative: resolved against where the document was fetched from (the bus itself).
    servers: [{ url: '/' }],
    security: schemes.map((name) => ({ [name]: [] })),
    tags: [...tags].sort().map((name) => ({ name })),
    paths,
    components: {
      schemas: { Problem: PROBLEM_SCHEMA },
      securitySchemes: Object.fromEntries(schemes.map((name) => [name, SECURITY_SCHEMES[name]])),
    },
  };
}

function operation(r: SnapshotRoute, method: string, template: string, provider: SnapshotProvider | undefined, bindings: readonly SnapshotBinding[]): Record<string, unknown> {
  const names = templateParams(template);
  const own = templateParams(r.path);
  const neverLog = new Set(r.neverLog);
  const op: Record<string, unknown> = {
    operationId: `${r.id.replace(/[^A-Za-z0-9]+/g, '_')}_${method.toLowerCase()}`,
    ...(r.summary === undefined ? {} : { summary: r.summary }),
    ...(r.description === undefined ? {} : { description: r.description }),
    ...(r.tags === undefined ? {} : { tags: r.tags }),
    ...(r.deprecation === undefined ? {} : { deprecated: true }),
    parameters: names.map((name, i) => ({
      name,
      in: 'path',
      required: true,
      schema: { type: 'string', minLength: 1 },
      // The bus keeps it out of logs and audit records (recorded as a pseudonym).
      ...(neverLog.has(own[i] as string) ? { 'x-gozargah-sensitive': true } : {}),
    })),
  };
  if (r.requestSchema !== null) {
    op.requestBody = { required: true, content: { 'application/json': { schema: r.requestSchema } } };
  }
  op.responses = responses(r, provider, bindings);
  op['x-gozargah-route'] = r.id;
  op['x-gozargah-timeout-ms'] = r.timeoutMs;
  op['x-gozargah-max-body-bytes'] = r.maxBodyBytes;
  if (r.deprecation !== undefined) {
    op['x-gozargah-deprecation'] = { since: r.deprecation.since, sunset: r.deprecation.sunset, link: r.deprecation.link };
  }
  return op;
}

/** The problem codes this operation may answer with, grouped by HTTP status. */
function errorsOf(r: SnapshotRoute, provider: SnapshotProvider | undefined, bindings: readonly SnapshotBinding[]): ErrorKind[] {
  const kinds = [...ALWAYS];
  // With no bindings (the whole bus), what any client might meet.
  const any = (test: (b: SnapshotBinding) => boolean): boolean => bindings.length === 0 || bindings.some(test);
  if (r.requestSchema !== null) kinds.push(Errors.requestInvalid);
  if (r.dropResponseFields.length > 0) kinds.push(Errors.responseInvalid, Errors.responseTooLarge);
  if (r.deprecation?.sunset != null) kinds.push(Errors.routeSunset);
  if (provider === undefined || provider.maxConcurrent !== null || provider.maxRequestsPerSecond !== null) kinds.push(Errors.providerSaturated);
  if (any((b) => b.rateLimit !== null)) kinds.push(Errors.rateLimited);
  if (any((b) => b.quota !== null)) kinds.push(Errors.quotaExhausted);
  if (any((b) => b.sourceCIDRs.length > 0)) kinds.push(Errors.sourceNotAllowed);
  if (any((b) => b.notBefore !== null || b.notAfter !== null)) kinds.push(Errors.bindingExpired);
  return kinds;
}

function responses(r: SnapshotRoute, provider: SnapshotProvider | undefined, bindings: readonly SnapshotBinding[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    '200': {
      description: 'The agency\'s answer' + (r.dropResponseFields.length > 0 ? `, without ${r.dropResponseFields.join(', ')}` : '') + '.',
      headers: answerHeaders(r),
      content: { 'application/json': { schema: r.responseSchema ?? {} } },
    },
  };
  const byStatus = new Map<number, ErrorKind[]>();
  for (const kind of errorsOf(r, provider, bindings)) {
    const list = byStatus.get(kind.status);
    if (list === undefined) byStatus.set(kind.status, [kind]);
    else list.push(kind);
  }
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const kinds = byStatus.get(status) as ErrorKind[];
    out[String(status)] = {
      description: kinds.map((k) => `${k.code}: ${k.title}.`).join(' '),
      headers: { 'x-gozargah-error': { description: 'The problem code; absent on the agency\'s own answers.', schema: { type: 'string', enum: kinds.map((k) => k.code) } } },
      content: { 'application/problem+json': { schema: PROBLEM_REF } },
      'x-gozargah-codes': kinds.map((k) => k.code),
    };
  }
  out.default = { description: 'Any other answer is the agency\'s own: it carries no x-gozargah-error header.' };
  return out;
}

function answerHeaders(r: SnapshotRoute): Record<string, unknown> {
  const headers: Record<string, unknown> = {
    'x-request-id': { description: 'The call\'s id in the bus\'s records.', schema: { type: 'string' } },
    'x-gozargah-request-hash': { description: 'SHA-256 of the request body as the bus received it (when the bus keeps audit evidence).', schema: { type: 'string' } },
  };
  if (r.deprecation !== undefined) {
    headers.Deprecation = { description: 'RFC 9745: when the inquiry was deprecated.', schema: { type: 'string' } };
    if (r.deprecation.sunset !== null) headers.Sunset = { description: 'RFC 8594: when the inquiry stops answering.', schema: { type: 'string' } };
  }
  return headers;
}

const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'An answer the bus gives itself (RFC 9457).',
  required: ['type', 'title', 'status', 'detail', 'code', 'requestId'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string', description: 'What is wrong, for a person.' },
    code: { type: 'string', enum: Object.values(Errors).map((k) => k.code), description: 'Stable; code against it.' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      description: 'With request_invalid: where the body fails its schema.',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

// The error catalog: every answer the dataplane itself gives, declared once with its stable
// code, HTTP status and title. Clients and tests match on `code`; the agency's own answers
// never carry the x-gozargah-error header, so a client can always tell the two apart.
import type { ServerResponse } from 'node:http';

export interface ErrorKind {
  code: string;
  status: number;
  title: string;
}

const kind = (code: string, status: number, title: string): ErrorKind => ({ code, status, title });

export const Errors = {
  pathInvalid: kind('path_invalid', 400, 'The request path is ambiguous or malformed'),
  routeNotFound: kind('route_not_found', 404, 'No inquiry is published at this path'),
  methodNotAllowed: kind('method_not_allowed', 405, 'The inquiry does not accept this method'),
  credentialsInQuery: kind('credentials_in_query', 400, 'Credentials must not be sent in the query string'),
  credentialsMissing: kind('credentials_missing', 401, 'No credentials were presented'),
  credentialsInvalid: kind('credentials_invalid', 401, 'The credentials are not valid'),
  bindingExpired: kind('binding_expired', 401, 'The client binding is outside its validity window'),
  sourceNotAllowed: kind('source_not_allowed', 403, 'The client may not call from this address'),
  routeNotGranted: kind('route_not_granted', 403, 'The client has not been granted this inquiry'),
  rateLimited: kind('rate_limited', 429, 'The client exceeded its rate limit'),
  quotaExhausted: kind('quota_exhausted', 429, 'The client used up its quota for this period'),
  providerSaturated: kind('provider_saturated', 503, 'The agency is at its protected capacity'),
  providerUnavailable: kind('provider_unavailable', 503, 'The agency is failing; calls are paused (circuit open)'),
  bodyTooLarge: kind('body_too_large', 413, 'The request body is larger than the inquiry allows'),
  bodyTimeout: kind('body_timeout', 408, 'The request body did not arrive in time'),
  requestInvalid: kind('request_invalid', 400, 'The request does not match the inquiry\'s schema'),
  upstreamTimeout: kind('upstream_timeout', 504, 'The agency did not answer in time'),
  upstreamUnavailable: kind('upstream_unavailable', 502, 'The agency could not be reached'),
  responseInvalid: kind('response_invalid', 502, 'The agency\'s answer could not be checked against the privacy rules'),
  responseTooLarge: kind('response_too_large', 502, 'The agency\'s answer is larger than the bus can check against the privacy rules'),
  upstreamBroken: kind('upstream_broken', 502, 'The agency\'s answer broke off before it was complete'),
  cutAtShutdown: kind('cut_at_shutdown', 503, 'The dataplane stopped before the answer was complete'),
  notReady: kind('not_ready', 503, 'The dataplane has no configuration yet'),
  auditUnavailable: kind('audit_unavailable', 503, 'The audit log cannot record the call; the bus serves no call it cannot account for'),
  accountingUnavailable: kind('accounting_unavailable', 503, 'The fleet\'s accounting (Redis) is unreachable and this bus serves no call it cannot count against the fleet\'s limits'),
  internal: kind('internal_error', 500, 'The dataplane failed to handle the request'),
} as const;

export interface Problem {
  kind: ErrorKind;
  detail: string;
  /** extra headers: Retry-After, Allow, RateLimit-* */
  headers: Record<string, string> | null;
  /** extra members of the problem document, e.g. the failing schema paths */
  extra: Record<string, unknown> | null;
}

export function problem(kind: ErrorKind, detail: string, headers: Record<string, string> | null = null, extra: Record<string, unknown> | null = null): Problem {
  return { kind, detail, headers, extra };
}

/**
 * Writes an application/problem+json answer (RFC 9457), its head unless one went out already.
 * Returns the body sent, encoded once: its length and hash are taken from the same bytes.
 */
export function sendProblem(res: ServerResponse, p: Problem, requestId: string): Buffer {
  const body = Buffer.from(JSON.stringify({
    type: `https://gozargah.io/problems/${p.kind.code}`,
    title: p.kind.title,
    status: p.kind.status,
    detail: p.detail,
    code: p.kind.code,
    requestId,
    ...p.extra,
  }));
  if (!res.headersSent) {
    res.statusCode = p.kind.status;
    res.setHeader('content-type', 'application/problem+json');
    res.setHeader('content-length', body.length);
    res.setHeader('x-gozargah-error', p.kind.code);
    res.setHeader('x-request-id', requestId);
    res.setHeader('cache-control', 'no-store');
    if (p.headers !== null) for (const name in p.headers) res.setHeader(name, p.headers[name] as string);
  }
  res.end(body);
  return body;
}

/** Not sent to anyone (the client left); recorded so every transaction is counted. */
export const CLIENT_GONE = 'client_gone';

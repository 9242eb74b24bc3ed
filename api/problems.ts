// The error contract: every answer the bus itself gives, declared once with its stable code,
// HTTP status and title. The dataplane answers with them (dataplane/errors.ts); the catalogue's
// OpenAPI documents publish them per operation, so clients can code against the codes.

export interface ErrorKind {
  code: string;
  status: number;
  title: string;
}

const kind = (code: string, status: number, title: string): ErrorKind => ({ code, status, title });

export const Errors = {
  pathInvalid: kind('path_invalid', 400, 'The request path is ambiguous or malformed'),
  routeNotFound: kind('route_not_found', 404, 'No inquiry is published at this path'),
  routeSunset: kind('route_sunset', 410, 'The inquiry has been retired: its sunset date has passed'),
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

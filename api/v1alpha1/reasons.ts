// Every condition reason and Event reason the operator writes, declared once, as the error
// contract of the dataplane is (api/problems.ts). The compiler's conditions can only carry a
// reason declared here (the types say so), and a test holds the README's table of reasons to
// this list, so a person reading `kubectl describe` can always look a reason up.

interface ReasonInfo {
  /** `route ResolvedRefs`, `binding Ready`, `Event`: where it appears */
  where: string;
  /** when it is set, for a person */
  when: string;
}

const reason = (where: string, when: string): ReasonInfo => ({ where, when });

/** The reason of a condition that holds (status True): the condition's own name, or Ready. */
export const SUCCESS_REASONS = ['Accepted', 'ResolvedRefs', 'Programmed', 'Ready'] as const;

/** Why a condition does not hold, and the Warning Events the operator records beside them. */
export const FAILURE_REASONS = {
  Invalid: reason('every kind, every condition', 'the object fails its schema or CEL rules (an older CRD let it in); the message names the field'),
  ProviderNotFound: reason('route ResolvedRefs', 'the route\'s ServiceProvider does not exist'),
  ProviderNotReady: reason('route ResolvedRefs', 'the ServiceProvider is invalid or its Secrets do not resolve'),
  PathConflict: reason('route Accepted', 'an older route serves the same method and path shape on a shared bus'),
  InvalidSchema: reason('route Accepted', 'the request or response JSON Schema does not compile'),
  RouteNotFound: reason('binding ResolvedRefs', 'a requested route does not exist, is not on the binding\'s bus, or a selector matched nothing'),
  RouteNotReady: reason('binding ResolvedRefs', 'a requested route exists but is not served'),
  NotAdmitted: reason('binding Accepted', 'a route\'s access policy does not admit the binding\'s namespace or client'),
  SecretNotFound: reason('binding or provider ResolvedRefs', 'a referenced Secret is missing or lacks the label gozargah.io/credentials: "true"'),
  InvalidCredentials: reason('binding ResolvedRefs', 'the key Secret holds no usable key, or the JWKS is unusable'),
  KeyConflict: reason('binding Accepted', 'an older binding holds the same API key, certificate or token identity'),
  InvalidCertificate: reason('provider ResolvedRefs', 'the CA or client certificate Secret holds no usable PEM'),
  Pending: reason('Programmed', 'compiled, waiting for a ready dataplane replica of the bus to serve this generation'),
  NoRoutes: reason('provider Programmed', 'no served route uses the provider yet'),
  Expired: reason('binding Ready', 'served, but past spec.validity.notAfter: calls get 401 binding_expired'),
  NotYetValid: reason('binding Ready', 'served, but before spec.validity.notBefore: calls get 401 binding_expired'),
  Sunset: reason('route Ready', 'served, but past its sunset: calls get 410 route_sunset'),
  BindingExpiresSoon: reason('Event', 'a binding\'s validity ends within a week'),
  RouteSunsetSoon: reason('Event', 'a route\'s sunset is within a week'),
  QuotaNearlyUsed: reason('Event', 'a binding used 80% of its quota this period'),
  QuotaExhausted: reason('Event', 'a binding used its whole quota this period'),
} as const satisfies Record<string, ReasonInfo>;

export type FailureReason = keyof typeof FAILURE_REASONS;
export type Reason = FailureReason | (typeof SUCCESS_REASONS)[number];

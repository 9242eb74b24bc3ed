// ClientBinding: one client organization's (or one of its systems') identity and grants.
import { Type, type Static } from '@sinclair/typebox';
import { BusName, ResourceStatus, DNS_LABEL, describe, LabelSelector, Name, Resource, SecretKeyReference, SecretReference, Strict } from './common.ts';
import { cel } from './cel.ts';
import { cidrProblem, RFC3339 } from '../snapshot/servable.ts';

/** An RFC 4514 attribute value: special characters escaped; no leading space or # (hex values are not supported). */
const DN_VALUE = '([^,+"\\\\<>;\\x00 #]|\\\\([ "#+,;<=>\\\\]|[0-9A-Fa-f]{2}))([^,+"\\\\<>;\\x00]|\\\\([ "#+,;<=>\\\\]|[0-9A-Fa-f]{2}))*';
const DN_ATTRIBUTE = `([A-Za-z][A-Za-z0-9-]*|[0-9]+(\\.[0-9]+)*) *= *${DN_VALUE}`;
/** A distinguished name the RFC 4514 way, e.g. CN=snapp-dispatch,O=Snapp or CN=a\\,b+OU=x. */
export const SUBJECT = `^ *${DN_ATTRIBUTE}( *[,+] *${DN_ATTRIBUTE})*$`;

export const SHA256_FINGERPRINT = '^[A-Fa-f0-9]{2}(:?[A-Fa-f0-9]{2}){31}$';

export const ApiKeys = Strict(
  {
    secretRef: describe(
      SecretReference,
      'Secret in the binding\'s namespace; every entry of its data is one valid API key, so a new key can be added before the old one is removed.',
    ),
  },
  { description: 'API keys the client sends in the x-api-key header (16 characters or more, no whitespace); the dataplane keeps only their SHA-256.' },
);

export const Certificates = Strict(
  {
    fingerprints: Type.Optional(Type.Array(Type.String({ pattern: SHA256_FINGERPRINT }), {
      maxItems: 16,
      description: 'SHA-256 fingerprints of accepted client certificates (hex, colons optional).',
    })),
    subjects: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 1024, pattern: SUBJECT }), {
      maxItems: 16,
      description: 'Accepted certificate subjects, e.g. CN=snapp-dispatch,O=Snapp (verified against the bus\'s client CA).',
    })),
  },
  { description: 'Client certificates (mTLS) that identify the client: by SHA-256 fingerprint, or by subject when the bus verifies certificates against its client CA (--client-ca). A certificate matching either is the client\'s.' },
);

/**
 * Signature algorithms a binding may accept: public-key ones only. HS256/384/512 are left out on
 * purpose: their key is a shared secret, and a JWKS published for verification would let anyone
 * sign (the classic HS256-with-the-public-key confusion); `none` signs nothing.
 */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export const DEFAULT_JWT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
/** A claim name: a plain identifier such as sub, client_id, azp or appid. */
export const JWT_CLAIM = '^[A-Za-z_][A-Za-z0-9_.-]{0,63}$';
/**
 * Where the dataplane fetches a JWKS: https, or plain http to a loopback address only (a
 * JWKS server beside the dataplane in tests or a sidecar), since keys fetched in clear text over
 * a network could be swapped by anyone on the path.
 */
export const JWKS_URL = '^(https://[^\\s?#@/]+(/[^\\s#]*)?|http://(localhost|127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}|\\[::1\\])(:[0-9]{1,5})?(/[^\\s#]*)?)$';
/** The Secret entry that holds the JWKS when secretRef.key is not set. */
export const DEFAULT_JWKS_KEY = 'jwks.json';

const JWT_ALGORITHM_LIST = JWT_ALGORITHMS.map((a) => `'${a}'`).join(', ');

export const Jwt = Strict(
  {
    issuer: Type.String({ minLength: 1, maxLength: 512, description: 'The identity provider, exactly as the tokens\' iss claim says it, e.g. https://idp.example.gov/realms/clients.' }),
    audiences: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), {
      minItems: 1,
      maxItems: 16,
      description: 'Accepted audiences: the token\'s aud claim must contain at least one of them (the audience the identity provider issues tokens for this bus under).',
    }),
    claim: Type.String({
      pattern: JWT_CLAIM,
      maxLength: 64,
      default: 'sub',
      description: 'The claim that names the client, e.g. sub (the default; in client-credentials tokens it is usually the client id), client_id (RFC 9068 access tokens) or azp.',
    }),
    claimValue: Type.Optional(Type.String({
      minLength: 1,
      maxLength: 256,
      description: 'What the claim must equal for a token to be this binding\'s, e.g. the client id the identity provider gave this client. Defaults to spec.client.id. One issuer, claim and value belong to one binding of a bus (KeyConflict otherwise).',
    })),
    jwks: Type.Optional(Strict(
      {
        secretRef: describe(SecretKeyReference, `Secret in the binding's namespace whose entry (key, default ${DEFAULT_JWKS_KEY}) holds the identity provider's JWKS document: public keys only, a private key is refused (InvalidCredentials).`),
      },
      { description: 'The identity provider\'s signing keys, copied into a Secret: for a provider the dataplane cannot reach, or keys rotated by hand. Exactly one of jwks and jwksURL is set.' },
    )),
    jwksURL: Type.Optional(Type.String({
      maxLength: 2048,
      pattern: JWKS_URL,
      description: 'Where the dataplane fetches the identity provider\'s JWKS (https; plain http only to localhost or 127.x.x.x, e.g. a sidecar). It fetches it at load, refreshes it every few minutes and on a token with an unknown key id, and keeps the last good keys while the URL fails. Exactly one of jwks and jwksURL is set.',
    })),
    algorithms: Type.Array(
      Type.String({
        maxLength: 16,
        description: 'A JWS algorithm name.',
        'x-kubernetes-validations': [
          cel<string>(
            `self in [${JWT_ALGORITHM_LIST}]`,
            `must be one of ${JWT_ALGORITHMS.join(', ')}: HS256, HS384, HS512 (shared secrets) and none are never accepted, since anyone holding the published keys could then sign`,
            (s) => (JWT_ALGORITHMS as readonly string[]).includes(s),
          ),
        ],
      }),
      {
        minItems: 1,
        maxItems: JWT_ALGORITHMS.length,
        default: DEFAULT_JWT_ALGORITHMS,
        description: `Signature algorithms accepted (the token header's alg), from ${JWT_ALGORITHMS.join(', ')}. Defaults to ${DEFAULT_JWT_ALGORITHMS.join(', ')}.`,
      },
    ),
  },
  {
    description: 'OAuth2 access tokens (JWT) the client sends as Authorization: Bearer <token>, got from its identity provider with the client credentials grant. The dataplane verifies the signature against the provider\'s keys, the issuer, the audience, exp and nbf (30 s of clock skew allowed), and that the claim names this client.',
    'x-kubernetes-validations': [
      cel<{ jwks?: unknown; jwksURL?: unknown }>(
        'has(self.jwks) != has(self.jwksURL)',
        'jwt needs exactly one of jwks (a Secret) or jwksURL',
        (s) => (s.jwks !== undefined) !== (s.jwksURL !== undefined),
      ),
    ],
  },
);

interface CredentialsShape {
  apiKeys?: unknown;
  certificates?: { fingerprints?: unknown[]; subjects?: unknown[] };
  jwt?: unknown;
}

export const Credentials = Strict(
  {
    apiKeys: Type.Optional(ApiKeys),
    certificates: Type.Optional(Certificates),
    jwt: Type.Optional(Jwt),
  },
  {
    description: 'How the client authenticates: API keys, client certificates, OAuth2 access tokens (jwt), or several; at least one is required. A key, certificate or token identity belongs to one binding: when two hold the same, the newer binding is refused whole (KeyConflict).',
    'x-kubernetes-validations': [
      cel<CredentialsShape>(
        'has(self.apiKeys) || has(self.jwt) || (has(self.certificates) && ((has(self.certificates.fingerprints) && size(self.certificates.fingerprints) > 0) || (has(self.certificates.subjects) && size(self.certificates.subjects) > 0)))',
        'credentials need apiKeys, jwt, or at least one certificate fingerprint or subject',
        (s) =>
          s.apiKeys !== undefined ||
          s.jwt !== undefined ||
          (s.certificates?.fingerprints?.length ?? 0) > 0 ||
          (s.certificates?.subjects?.length ?? 0) > 0,
      ),
    ],
  },
);

export const RouteSelector = Strict(
  {
    name: Type.Optional(describe(Name, 'Name of one InquiryRoute. Exactly one of name and selector is set.')),
    namespace: Type.Optional(Type.String({ pattern: DNS_LABEL, maxLength: 63, description: 'Defaults to the binding\'s namespace.' })),
    selector: Type.Optional(describe(LabelSelector, 'Every InquiryRoute (in namespace, or in any namespace when namespace is unset) with matching labels.')),
  },
  {
    'x-kubernetes-validations': [
      cel<{ name?: string; selector?: unknown }>(
        'has(self.name) != has(self.selector)',
        'each route entry needs exactly one of name or selector',
        (s) => (s.name !== undefined) !== (s.selector !== undefined),
      ),
    ],
  },
);

export const RateLimit = Strict(
  {
    requestsPerSecond: Type.Integer({ minimum: 1, maximum: 1000000, description: 'Sustained rate, in requests per second: the rate at which the bucket refills.' }),
    burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000000, description: 'Bucket size; defaults to requestsPerSecond.' })),
  },
  {
    description: 'A token bucket over all the client\'s calls on the bus; excess calls get 429 rate_limited with Retry-After. Shared by the fleet when the dataplane counts in Redis, per replica otherwise. Unlimited when unset.',
    'x-kubernetes-validations': [
      cel<{ requestsPerSecond: number; burst?: number }>(
        '!has(self.burst) || self.burst >= self.requestsPerSecond',
        'burst must be at least requestsPerSecond',
        (s) => s.burst === undefined || s.burst >= s.requestsPerSecond,
      ),
    ],
  },
);

export const Quota = Strict(
  {
    requests: Type.Integer({ minimum: 1, maximum: 1e12, description: 'Requests allowed per period.' }),
    period: Type.Union([Type.Literal('Day'), Type.Literal('Month')], { description: 'Calendar day or month, UTC.' }),
  },
  {
    description: 'Requests allowed per UTC day or month; once spent, calls get 429 quota_exhausted until the period ends. Only calls the agency answered are charged. Counted for the whole fleet when the dataplane counts in Redis, per replica otherwise. Unlimited when unset.',
  },
);

export const Validity = Strict(
  {
    notBefore: Type.Optional(Type.String({
      format: 'date-time',
      pattern: RFC3339,
      maxLength: 64,
      description: 'The first instant the binding is valid, in RFC 3339, e.g. 2026-01-01T00:00:00Z. No lower bound when unset.',
    })),
    notAfter: Type.Optional(Type.String({
      format: 'date-time',
      pattern: RFC3339,
      maxLength: 64,
      description: 'The last instant the binding is valid, in RFC 3339; later than notBefore. No upper bound when unset.',
    })),
  },
  {
    description: 'When the binding is valid; outside this window its calls get 401 binding_expired. Always valid when unset.',
    'x-kubernetes-validations': [
      cel<{ notBefore?: string; notAfter?: string }>(
        '!has(self.notBefore) || !has(self.notAfter) || timestamp(self.notAfter) > timestamp(self.notBefore)',
        'notAfter must be later than notBefore',
        (s) => s.notBefore === undefined || s.notAfter === undefined || Date.parse(s.notAfter) > Date.parse(s.notBefore),
      ),
    ],
  },
);

const CIDR = Type.String({
  maxLength: 64,
  pattern: '^([0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}|[0-9A-Fa-f:.]+/[0-9]{1,3})$',
  'x-kubernetes-validations': [
    cel<string>('isCIDR(self)', 'must be a CIDR such as 203.0.113.0/24 or 2001:db8::/32 (no leading zeros; prefix at most 32 for IPv4, 128 for IPv6)', (s) => cidrProblem(s) === null),
  ],
});

/** Route entries with a selector cost a pass over every route at each compile: few per binding. */
export const MAX_SELECTOR_ROUTES = 8;

export const ClientBindingSpec = Strict(
  {
  client: Strict(
    {
      id: Type.String({ minLength: 1, maxLength: 63, pattern: DNS_LABEL, description: 'Stable id of the client organization, used in metering and reports.' }),
      displayName: Type.String({ minLength: 1, maxLength: 256, description: 'The client\'s name for people, e.g. Snapp (ride-hailing).' }),
    },
    { description: 'Who calls: the client organization, or one of its systems.' },
  ),
  bus: { ...BusName, default: 'default' },
  credentials: Credentials,
  routes: Type.Array(RouteSelector, {
    minItems: 1,
    maxItems: 1024,
    description: `The InquiryRoutes the client asks for, one by name or many by label selector (at most ${MAX_SELECTOR_ROUTES} selector entries). A route is granted when it is on the binding's bus and its access policy admits the binding; status.routes counts granted/requested.`,
  }),
  rateLimit: Type.Optional(RateLimit),
  quota: Type.Optional(Quota),
  sourceCIDRs: Type.Optional(Type.Array(CIDR, { maxItems: 64, description: 'Addresses the client may call from; any when unset.' })),
  validity: Type.Optional(Validity),
  },
  {
    description: 'The client\'s identity, its credentials, the routes it asks for, and its limits.',
    'x-kubernetes-validations': [
      cel<{ routes: { selector?: unknown }[] }>(
        `self.routes.filter(r, has(r.selector)).size() <= ${MAX_SELECTOR_ROUTES}`,
        `at most ${MAX_SELECTOR_ROUTES} route entries may use a selector (name routes one by one beyond that)`,
        (s) => s.routes.filter((r) => r.selector !== undefined).length <= MAX_SELECTOR_ROUTES,
      ),
    ],
  },
);

export const ClientBindingStatus = ResourceStatus({
    routes: Type.Optional(Type.String({ description: 'granted/requested routes, e.g. 2/3.' })),
    grantedRoutes: Type.Optional(Type.Array(Type.String(), { maxItems: 10000, description: 'namespace/name of each route granted.' })),
    usage: Type.Optional(Strict({
      period: Type.String({ description: 'Current quota period, e.g. 2026-11 or 2026-11-23.' }),
      requests: Type.Integer({ minimum: 0, description: 'Requests the whole fleet charged to the quota this period (the operator reads them from Redis).' }),
      // Optional so an operator of the previous version, still leading during an upgrade, can write.
      limit: Type.Optional(Type.Integer({ minimum: 1, description: 'The quota: spec.quota.requests.' })),
      quota: Type.String({ description: 'used/limit, for kubectl.' }),
      updated: Type.Optional(Type.String({ format: 'date-time', pattern: RFC3339, maxLength: 64, description: 'When requests last changed (or the period started).' })),
    }, {
      description: 'The quota used this period, as the fleet counted it in Redis (0 without --redis); set only when spec.quota is.',
    })),
});

export const ClientBinding = Resource(
  'ClientBinding',
  ClientBindingSpec,
  ClientBindingStatus,
  'ClientBinding (cb): one client\'s identity on a bus, the routes it is granted, and its limits.',
);
export type ClientBinding = Static<typeof ClientBinding>;
export type ClientBindingSpec = Static<typeof ClientBindingSpec>;

// InquiryRoute: one inquiry API of one provider, and who may bind to it.
import { Type, type Static } from '@sinclair/typebox';
import { BusName, ResourceStatus, describe, Duration, LabelSelector, LocalObjectReference, Resource, Strict, DNS_LABEL } from './common.ts';
import { cel } from './cel.ts';
import { PARAM_CEL_REGEX, PATH_TEMPLATE_PATTERN, hasDotSegment, templateParams } from './pathtemplate.ts';
import { RFC3339 } from '../snapshot/servable.ts';

/** Template parameters per path; bounds the CEL rules' cost. */
export const MAX_PARAMS = 8;
/**
 * The apiserver estimates a CEL rule's cost from the longest string it may see; at 200
 * characters the duplicate-parameter rule's estimate exceeds the per-rule budget (measured
 * against kube-apiserver v1.36), at 160 it fits with room.
 */
export const PATH_MAX_LENGTH = 160;

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

export const Method = Type.Union(METHODS.map((m) => Type.Literal(m)));

/** A JSON Schema (draft 2020-12 subset ajv compiles); kept as written. */
const JsonSchemaDocument = Type.Unsafe<Record<string, unknown>>({
  type: 'object',
  'x-kubernetes-preserve-unknown-fields': true,
});

const FieldPath = Type.String({
  minLength: 1,
  maxLength: 256,
  pattern: '^[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+|\\.\\*)*$',
  description: 'A dotted path into the JSON body, e.g. person.birthPlace or items.*.phone.',
});

export const Retries = Strict(
  {
    attempts: Type.Integer({ minimum: 0, maximum: 5, default: 0, description: 'Extra attempts after a failure (timeout, refused, 502/503/504). Only idempotent methods (GET, HEAD, PUT, DELETE) are ever retried.' }),
    perTryTimeout: Type.Optional(describe(Duration, 'Timeout of each attempt; defaults to the route timeout.')),
  },
  {
    description: 'Retries toward the agency, within the route timeout and the provider\'s retry budget (about one retry per five calls), so retries cannot multiply an outage. No retries when unset.',
  },
);

export const Privacy = Strict(
  {
    dropResponseFields: Type.Optional(Type.Array(FieldPath, { maxItems: 64, description: 'Response fields removed before the client sees them.' })),
    neverLog: Type.Optional(Type.Array(FieldPath, {
      maxItems: 64,
      description: 'Path parameters (nationalId) and request body fields (person.nationalId, items.*.id) that never reach a log or audit record. An entry that names neither a path parameter nor a property of requestSchema is reported in the Accepted condition. Response fields are removed with dropResponseFields.',
    })),
    sensitive: Type.Optional(Type.Boolean({ description: 'Every path parameter of this route is personal data: none ever reaches a log or audit record, as if each were listed in neverLog.' })),
  },
  { description: 'Personal data in the route\'s calls: response fields removed before the client sees them, and path parameters and body fields kept out of logs and audit records. Nothing is hidden when unset.' },
);

export const NamespaceAccess = Strict(
  {
    from: Type.Union([Type.Literal('Same'), Type.Literal('All'), Type.Literal('Selector'), Type.Literal('List')], {
      default: 'Same',
      description: 'Same: bindings in the route\'s namespace only. All: any namespace. Selector: namespaces whose labels match selector. List: the namespaces in names.',
    }),
    selector: Type.Optional(describe(LabelSelector, 'With from: Selector, the labels the binding\'s namespace must match; required then, ignored otherwise.')),
    names: Type.Optional(Type.Array(Type.String({ pattern: DNS_LABEL, maxLength: 63 }), {
      maxItems: 256,
      description: 'With from: List, the namespaces whose bindings may bind (at most 256); required then, ignored otherwise.',
    })),
  },
  {
    description: 'Which namespaces\' ClientBindings may be granted this route. When unset, only those in the route\'s namespace (from: Same).',
    'x-kubernetes-validations': [
      cel<{ from?: string; selector?: unknown }>(
        "self.from != 'Selector' || has(self.selector)",
        'from: Selector requires selector',
        (s) => s.from !== 'Selector' || s.selector !== undefined,
      ),
      cel<{ from?: string; names?: unknown[] }>(
        "self.from != 'List' || (has(self.names) && size(self.names) > 0)",
        'from: List requires at least one name in names',
        (s) => s.from !== 'List' || (s.names !== undefined && s.names.length > 0),
      ),
    ],
  },
);

export const Access = Strict(
  {
    namespaces: Type.Optional(NamespaceAccess),
    clients: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
      maxItems: 1024,
      description: 'When set, only bindings whose client.id is listed may bind, in addition to the namespace rule.',
    })),
  },
  {
    description: 'Who may be granted this route: a binding must pass the namespace rule and, when clients is set, the client list. When unset, any binding in the route\'s namespace. A binding the policy does not admit is reported NotAdmitted in its Accepted condition.',
  },
);

/** Where the bus answers its own documents (the catalogue, OpenAPI); no route may be published under it. */
export const WELL_KNOWN_PREFIX = '/.well-known/gozargah/';

const Timestamp = (description: string) => Type.String({ format: 'date-time', pattern: RFC3339, maxLength: 64, description });

interface RouteSpecShape {
  path: string;
  deprecated?: boolean;
  deprecatedSince?: string;
  sunset?: string;
  deprecationLink?: string;
  upstreamPath?: string;
  requestSchema?: unknown;
  maxBodyBytes?: number;
}

/**
 * The largest body a route with a requestSchema may accept: the dataplane parses the body to
 * validate it, on the thread that serves every other request, and parsing 1 MiB of JSON takes
 * a few milliseconds.
 */
export const MAX_VALIDATED_BODY_BYTES = 1_048_576;

export const InquiryRouteSpec = Strict(
  {
    providerRef: describe(LocalObjectReference, 'The ServiceProvider (same namespace) that answers this inquiry.'),
    path: Type.String({
      minLength: 2,
      maxLength: PATH_MAX_LENGTH,
      pattern: PATH_TEMPLATE_PATTERN,
      description: 'Public path template, e.g. /civil-registry/v1/persons/{nationalId}.',
    }),
    methods: Type.Array(Method, {
      minItems: 1,
      maxItems: 6,
      uniqueItems: true,
      default: ['GET'],
      'x-kubernetes-list-type': 'set',
      description: 'HTTP methods the route serves: GET, HEAD, POST, PUT, PATCH or DELETE; defaults to [GET]. Another method gets 405 method_not_allowed.',
    }),
    upstreamPath: Type.Optional(Type.String({
      minLength: 1,
      maxLength: 256,
      pattern: PATH_TEMPLATE_PATTERN,
      description: 'Path on the agency, appended to the provider URL; may use the template\'s parameters. Defaults to path.',
    })),
    timeout: Type.Optional(describe(Duration, 'Per-call timeout; defaults to the provider\'s.')),
    retries: Type.Optional(Retries),
    maxBodyBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: 10485760, description: 'Largest request body accepted (default 65536).' })),
    requestSchema: Type.Optional(describe(JsonSchemaDocument, 'JSON Schema the request body must satisfy.')),
    responseSchema: Type.Optional(describe(JsonSchemaDocument, 'JSON Schema of the agency\'s answer (documentation and contract tests).')),
    privacy: Type.Optional(Privacy),
    buses: Type.Array(BusName, {
      minItems: 1,
      maxItems: 8,
      default: ['default'],
      'x-kubernetes-list-type': 'set',
      description: 'The buses (dataplane deployments) that serve the route, at most 8; defaults to [default]. A binding can be granted it only on its own bus.',
    }),
    access: Type.Optional(Access),
    summary: Type.Optional(Type.String({ minLength: 1, maxLength: 120, description: 'One line that says what the inquiry answers, e.g. Is this national ID valid, and whose is it. Shown in the catalogue and as the OpenAPI operation summary.' })),
    description: Type.Optional(Type.String({ minLength: 1, maxLength: 8192, description: 'What a client\'s developer needs to know: the inquiry\'s meaning, its answers, its legal basis. CommonMark; the OpenAPI operation description.' })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
      maxItems: 8,
      'x-kubernetes-list-type': 'set',
      description: 'Groups in the catalogue and OpenAPI tags, e.g. [identity]. Defaults to the value of the route\'s gozargah.io/category label, when it has one.',
    })),
    deprecated: Type.Optional(Type.Boolean({
      description: 'The inquiry is being retired: every answer carries a Deprecation header (RFC 9745), and a Sunset header (RFC 8594) when sunset is set; the catalogue and OpenAPI mark it deprecated.',
    })),
    deprecatedSince: Type.Optional(Timestamp('With deprecated, when the deprecation took (or takes) effect, in RFC 3339; the Deprecation header\'s date. Defaults to when the replica first served the route as deprecated: set it for one date across replicas and restarts.')),
    sunset: Type.Optional(Timestamp('With deprecated, the instant the inquiry stops answering, in RFC 3339: from then on every call gets 410 route_sunset, and the catalogue no longer lists it.')),
    deprecationLink: Type.Optional(Type.String({
      maxLength: 2048,
      pattern: '^https?://[^\\s]+$',
      description: 'With deprecated, a page about the retirement and what replaces the inquiry; sent as Link: <...>; rel="deprecation".',
    })),
  },
  {
    description: 'The public inquiry: its path and methods, the agency path it is forwarded to, its limits and privacy, the buses that serve it, who may bind to it, and its documentation for clients.',
    'x-kubernetes-validations': [
      cel<RouteSpecShape>(
        `!has(self.requestSchema) || !has(self.maxBodyBytes) || self.maxBodyBytes <= ${MAX_VALIDATED_BODY_BYTES}`,
        `maxBodyBytes may be at most ${MAX_VALIDATED_BODY_BYTES} (1 MiB) on a route with a requestSchema: the dataplane parses the body to validate it`,
        (s) => s.requestSchema === undefined || s.maxBodyBytes === undefined || s.maxBodyBytes <= MAX_VALIDATED_BODY_BYTES,
      ),
      cel<RouteSpecShape>(
        "self.path.startsWith('/')",
        'path must start with /',
        (s) => s.path.startsWith('/'),
      ),
      cel<RouteSpecShape>(
        `!self.path.startsWith('${WELL_KNOWN_PREFIX}')`,
        `path must not start with ${WELL_KNOWN_PREFIX}: the bus answers its catalogue and OpenAPI there`,
        (s) => !s.path.startsWith(WELL_KNOWN_PREFIX),
      ),
      cel<RouteSpecShape>(
        "(has(self.deprecated) && self.deprecated) || (!has(self.sunset) && !has(self.deprecatedSince) && !has(self.deprecationLink))",
        'sunset, deprecatedSince and deprecationLink need deprecated: true',
        (s) => s.deprecated === true || (s.sunset === undefined && s.deprecatedSince === undefined && s.deprecationLink === undefined),
      ),
      cel<RouteSpecShape>(
        '!has(self.sunset) || !has(self.deprecatedSince) || timestamp(self.sunset) > timestamp(self.deprecatedSince)',
        'sunset must be later than deprecatedSince',
        (s) => s.sunset === undefined || s.deprecatedSince === undefined || Date.parse(s.sunset) > Date.parse(s.deprecatedSince),
      ),
      cel<RouteSpecShape>(
        "!self.path.matches('/[.][.]?(/|$)') && (!has(self.upstreamPath) || !self.upstreamPath.matches('/[.][.]?(/|$)'))",
        'path and upstreamPath must not contain . or .. segments',
        (s) => !hasDotSegment(s.path) && (s.upstreamPath === undefined || !hasDotSegment(s.upstreamPath)),
      ),
      // The nested scan below is estimated from path's maxLength (PATH_MAX_LENGTH); longer paths
      // get the CRD refused at install time ("estimated rule cost exceeds budget").
      cel<RouteSpecShape>(
        `self.path.findAll('${PARAM_CEL_REGEX}', ${MAX_PARAMS + 1}).size() <= ${MAX_PARAMS}`,
        `path may declare at most ${MAX_PARAMS} template parameters`,
        (s) => templateParams(s.path).length <= MAX_PARAMS,
      ),
      cel<RouteSpecShape>(
        `self.path.findAll('${PARAM_CEL_REGEX}', ${MAX_PARAMS + 1}).all(p, self.path.findAll('${PARAM_CEL_REGEX}', ${MAX_PARAMS + 1}).filter(q, q == p).size() == 1)`,
        'each path template parameter may appear only once',
        (s) => {
          const params = templateParams(s.path);
          return new Set(params).size === params.length;
        },
      ),
      cel<RouteSpecShape>(
        `!has(self.upstreamPath) || self.upstreamPath.findAll('${PARAM_CEL_REGEX}', ${MAX_PARAMS + 1}).all(p, p in self.path.findAll('${PARAM_CEL_REGEX}', ${MAX_PARAMS + 1}))`,
        'upstreamPath may only use parameters that path declares',
        (s) => {
          if (s.upstreamPath === undefined) return true;
          const declared = new Set(templateParams(s.path));
          return templateParams(s.upstreamPath).every((p) => declared.has(p));
        },
      ),
    ],
  },
);

export const InquiryRouteStatus = ResourceStatus({
    buses: Type.Optional(Type.String({ description: 'The buses the route is served on, comma separated.' })),
    boundClients: Type.Optional(Type.Integer({ minimum: 0, description: 'Accepted bindings granted this route.' })),
});

export const InquiryRoute = Resource(
  'InquiryRoute',
  InquiryRouteSpec,
  InquiryRouteStatus,
  'InquiryRoute (ir): one inquiry API of one ServiceProvider, published on the bus, and who may bind to it.',
);
export type InquiryRoute = Static<typeof InquiryRoute>;
export type InquiryRouteSpec = Static<typeof InquiryRouteSpec>;

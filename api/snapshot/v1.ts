// The dataplane configuration snapshot: the only contract between the compiler (run by the
// operator, the CLI, or the dataplane's standalone mode) and the dataplane. One snapshot per
// bus. It carries SHA-256 hashes of API keys, never a key.
import { Type, type Static } from '@sinclair/typebox';

export const SNAPSHOT_API_VERSION = "snapshot.gozargah.io/v1" as const;

const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);
const Hex64 = Type.String({ pattern: '^[a-f0-9]{64}$' });

/** Where an entry came from: lets the operator tell which object generations a snapshot serves. */
export const Source = Type.Object(
  {
    namespace: Type.String(),
    name: Type.String(),
    generation: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export const SnapshotProvider = Type.Object(
  {
    id: Type.String({ description: 'namespace/name' }),
    source: Source,
    url: Type.String(),
    timeoutMs: Type.Integer({ minimum: 1 }),
    tls: Type.Union([
      Type.Null(),
      Type.Object(
        {
          ca: Nullable(Type.String()),
          cert: Nullable(Type.String()),
          key: Nullable(Type.String()),
          serverName: Nullable(Type.String()),
        },
        { additionalProperties: false },
      ),
    ]),
    maxConcurrent: Nullable(Type.Integer({ minimum: 1 })),
    maxRequestsPerSecond: Nullable(Type.Integer({ minimum: 1 })),
    circuitBreaker: Type.Object(
      { consecutiveFailures: Type.Integer({ minimum: 1 }), openMs: Type.Integer({ minimum: 1 }) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const SnapshotRoute = Type.Object(
  {
    id: Type.String({ description: 'namespace/name' }),
    source: Source,
    provider: Type.String({ description: 'id of a provider in this snapshot' }),
    path: Type.String(),
    methods: Type.Array(Type.String(), { minItems: 1 }),
    upstreamPath: Type.String(),
    timeoutMs: Type.Integer({ minimum: 1 }),
    retries: Type.Integer({ minimum: 0 }),
    perTryTimeoutMs: Type.Integer({ minimum: 1 }),
    maxBodyBytes: Type.Integer({ minimum: 0 }),
    requestSchema: Type.Union([Type.Null(), Type.Record(Type.String(), Type.Unknown())]),
    responseSchema: Type.Union([Type.Null(), Type.Record(Type.String(), Type.Unknown())]),
    dropResponseFields: Type.Array(Type.String()),
    neverLog: Type.Array(Type.String()),
    // Documentation for clients: present only when the route has it, so a route without it
    // compiles to the snapshot it always did.
    summary: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    tags: Type.Optional(Type.Array(Type.String())),
    deprecation: Type.Optional(Type.Object(
      {
        since: Nullable(Type.String({ description: 'RFC 3339; null: the replica uses when it first served the route deprecated' })),
        sunset: Nullable(Type.String({ description: 'RFC 3339; from then on the route answers 410' })),
        link: Nullable(Type.String()),
      },
      { additionalProperties: false },
    )),
  },
  { additionalProperties: false },
);

/**
 * OAuth2 access tokens (JWT) a binding accepts. Optional, and present only on bindings with jwt
 * credentials: a snapshot without them is byte for byte what it was before JWT support.
 */
export const SnapshotJwt = Type.Object(
  {
    issuer: Type.String({ minLength: 1 }),
    audiences: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
    claim: Type.String({ minLength: 1 }),
    claimValue: Type.String({ minLength: 1 }),
    algorithms: Type.Array(Type.String(), { minItems: 1 }),
    /** the public keys (a JWKS's keys array) from a Secret, or null when fetched from jwksURL */
    keys: Type.Union([Type.Null(), Type.Array(Type.Record(Type.String(), Type.Unknown()), { minItems: 1 })]),
    jwksURL: Nullable(Type.String()),
  },
  { additionalProperties: false },
);

export const SnapshotBinding = Type.Object(
  {
    id: Type.String({ description: 'namespace/name' }),
    source: Source,
    clientId: Type.String(),
    clientName: Type.String(),
    apiKeys: Type.Array(
      Type.Object({ id: Type.String({ description: 'the Secret entry it came from' }), sha256: Hex64 }, { additionalProperties: false }),
    ),
    certFingerprints: Type.Array(Hex64),
    certSubjects: Type.Array(Type.String()),
    routes: Type.Array(Type.String(), { description: 'ids of the routes granted' }),
    rateLimit: Type.Union([
      Type.Null(),
      Type.Object({ requestsPerSecond: Type.Integer({ minimum: 1 }), burst: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
    ]),
    quota: Type.Union([
      Type.Null(),
      Type.Object(
        { requests: Type.Integer({ minimum: 1 }), period: Type.Union([Type.Literal('Day'), Type.Literal('Month')]) },
        { additionalProperties: false },
      ),
    ]),
    sourceCIDRs: Type.Array(Type.String()),
    notBefore: Nullable(Type.String()),
    notAfter: Nullable(Type.String()),
    jwt: Type.Optional(SnapshotJwt),
  },
  { additionalProperties: false },
);

export const Snapshot = Type.Object(
  {
    apiVersion: Type.Literal(SNAPSHOT_API_VERSION),
    bus: Type.String(),
    hash: Type.String({ pattern: '^sha256:[a-f0-9]{64}$', description: 'sha256 of the canonical JSON of everything else' }),
    providers: Type.Array(SnapshotProvider),
    routes: Type.Array(SnapshotRoute),
    bindings: Type.Array(SnapshotBinding),
  },
  { additionalProperties: false },
);

export type Snapshot = Static<typeof Snapshot>;
export type SnapshotProvider = Static<typeof SnapshotProvider>;
export type SnapshotRoute = Static<typeof SnapshotRoute>;
export type SnapshotBinding = Static<typeof SnapshotBinding>;
export type SnapshotJwt = Static<typeof SnapshotJwt>;
export type Source = Static<typeof Source>;

/** `Kind/namespace/name@generation` of every object a snapshot serves, for Programmed. */
export function servedKeys(snapshot: Snapshot): Set<string> {
  const keys = new Set<string>();
  const add = (kind: string, s: Source): void => {
    keys.add(`${kind}/${s.namespace}/${s.name}@${s.generation}`);
  };
  for (const p of snapshot.providers) add('ServiceProvider', p.source);
  for (const r of snapshot.routes) add('InquiryRoute', r.source);
  for (const b of snapshot.bindings) add('ClientBinding', b.source);
  return keys;
}

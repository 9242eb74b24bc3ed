// The processes a benchmark starts: the agency, and the four contenders in front of it. Each
// contender starts on the proxy CPU and answers the URL (and credential header) the load goes to.
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Snapshot } from '../api/snapshot/index.ts';
import { compile } from '../compiler/index.ts';
import { binding, keySecret, provider, route } from '../test/helpers/manifests.ts';
import { startRedis } from '../test/helpers/redis.ts';
import { startNginxAgency, startNginxProxy } from './nginx.ts';
import { accepting, CPU, IMAGE_NODE_FLAGS, pinned, printed, stop } from './processes.ts';

const ROOT = join(import.meta.dirname, '..');

export const CONTENDERS = ['direct', 'nginx', 'http-proxy', 'dataplane', 'dataplane-jwt', 'dataplane-redis', 'dataplane-plain-audit', 'dataplane-signed-audit'] as const;
export type ContenderName = (typeof CONTENDERS)[number];

export const LABELS: Record<ContenderName, string> = {
  direct: 'direct (client to agency, the upper limit)',
  nginx: 'nginx, 1 worker, keep-alive upstream',
  'http-proxy': 'http-proxy 1.18, keep-alive agent',
  dataplane: 'gozargah dataplane, whole pipeline, 1 worker',
  'dataplane-jwt': 'gozargah dataplane, the same client with Authorization: Bearer <JWT> (ES256, verified once, then cached)',
  'dataplane-redis': 'gozargah dataplane + Redis (fleet quotas, rate, usage)',
  'dataplane-plain-audit': 'gozargah dataplane, audit without evidence (--audit-evidence=off), sensitive route',
  'dataplane-signed-audit': 'gozargah dataplane, hash chain + signed checkpoints + body hashes + pseudonyms, sensitive route',
};

export const PATH = '/registry/v1/persons/0012345678';
export const KEY = 'bench-only-key-0123456789abcdef';
const API_KEY_HEADER = `x-api-key: ${KEY}`;
const ISSUER = 'https://bench-only-idp.invalid';
const AUDIENCE = 'gozargah-bench';

/**
 * The bench client's identity provider: a fresh ES256 key, its public JWK, and one access token
 * valid for a day, signed with node:crypto (the load sends the same token, as a client reuses its
 * token until it expires).
 */
function benchIdentityProvider(): { jwk: Record<string, unknown>; header: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' })}.${b64({ iss: ISSUER, sub: 'bench', aud: AUDIENCE, iat: now, exp: now + 86_400 })}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return { jwk: { ...publicKey.export({ format: 'jwk' }), kid: 'bench' }, header: `authorization: Bearer ${input}.${signature}` };
}
const IDP = benchIdentityProvider();

export interface Running {
  url: string;
  /** the path the load asks for */
  path: string;
  /** the credential header, `name: value` */
  header: string | null;
  child: ChildProcess | null;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const running = (url: string, header: string | null, child: ChildProcess | null, path = PATH): Running => ({ url, path, header, child, stop: () => stop(child) });

/** The agency on the load CPU: nginx's `return` when asked (cheapest), else bench/agency.ts. */
export async function startAgency(kind: 'node' | 'nginx'): Promise<Running> {
  const port = await freePort();
  if (kind === 'nginx') return running(`http://127.0.0.1:${port}`, null, await startNginxAgency(CPU.load, port));
  const child = pinned(CPU.load, process.execPath, [join(ROOT, 'bench/agency.ts'), String(port)]);
  await printed(child, 'ready');
  return running(`http://127.0.0.1:${port}`, null, child);
}

/** Compiles objects into the bus's bare snapshot (as the cluster source delivers it) in a file. */
export function snapshotFile(objects: Record<string, unknown>[]): string {
  const snapshot = compile({ objects, now: new Date().toISOString() }).snapshots['default'] as Snapshot;
  const file = join(mkdtempSync(join(tmpdir(), 'gozargah-bench-')), 'snapshot.json');
  writeFileSync(file, JSON.stringify(snapshot));
  return file;
}

/**
 * One provider, one route, one client whose limits are set never to reject: they run, they do
 * not refuse. `sensitive`: the national ID in the path is personal data (a pseudonym or redacted).
 * The client has an API key and a JWT identity, so every dataplane contender serves the same
 * bindings whichever credential its load sends.
 */
export function pipelineObjects(agencyUrl: string, sensitive = false): Record<string, unknown>[] {
  return [
    provider('agency', agencyUrl),
    route('person', 'agency', '/registry/v1/persons/{nationalId}', sensitive ? { privacy: { sensitive: true } } : {}),
    keySecret('bench-keys', { k: KEY }),
    keySecret('bench-jwks', { 'jwks.json': JSON.stringify({ keys: [IDP.jwk] }) }),
    binding('bench', 'bench', [{ namespace: 'gov', name: 'person' }], {
      credentials: { apiKeys: { secretRef: { name: 'bench-keys' } }, jwt: { issuer: ISSUER, audiences: [AUDIENCE], algorithms: ['ES256'], jwks: { secretRef: { name: 'bench-jwks' } } } },
      rateLimit: { requestsPerSecond: 1_000_000, burst: 1_000_000 },
      quota: { requests: 1_000_000_000_000, period: 'Month' },
    }),
  ];
}

/** The dataplane on the proxy CPU, serving a snapshot file, with its audit log in a file. */
export async function startDataplane(snapshot: string, header = API_KEY_HEADER, path = PATH, extraArgs: readonly string[] = [], dataplaneArgs: readonly string[] = []): Promise<Running & { port: number }> {
  const port = await freePort();
  const audit = join(mkdtempSync(join(tmpdir(), 'gozargah-bench-audit-')), 'audit.jsonl');
  const args = [...IMAGE_NODE_FLAGS, ...extraArgs, join(ROOT, 'dataplane/main.ts'), '--snapshot', snapshot, '--listen', `127.0.0.1:${port}`, '--admin-listen', '127.0.0.1:0', '--audit-log', audit, ...dataplaneArgs];
  const child = pinned(CPU.proxy, process.execPath, args);
  await Promise.all([printed(child, '"listening"'), printed(child, '"snapshot loaded"')]);
  return { ...running(`http://127.0.0.1:${port}`, header, child, path), port };
}

export async function startContender(name: ContenderName, agency: Running): Promise<Running> {
  const target = agency.url;
  switch (name) {
    case 'direct':
      return running(target, null, null);
    case 'nginx': {
      const port = await freePort();
      const agencyPort = Number(new URL(target).port);
      return running(`http://127.0.0.1:${port}`, null, await startNginxProxy(CPU.proxy, port, agencyPort));
    }
    case 'http-proxy': {
      const port = await freePort();
      const child = pinned(CPU.proxy, process.execPath, [join(ROOT, 'bench/http-proxy.ts'), String(port), target]);
      await printed(child, 'ready');
      await accepting(port, child);
      return running(`http://127.0.0.1:${port}`, null, child);
    }
    case 'dataplane':
      return startDataplane(snapshotFile(pipelineObjects(target)));
    case 'dataplane-jwt':
      return startDataplane(snapshotFile(pipelineObjects(target)), IDP.header);
    case 'dataplane-redis': {
      // The same dataplane counting its quota, rate limit and usage in a real redis-server.
      const redis = await startRedis({ aof: true });
      const dp = await startDataplane(snapshotFile(pipelineObjects(target)), API_KEY_HEADER, PATH, [], ['--redis', redis.url]);
      return { ...dp, stop: async () => (await dp.stop(), await redis.close()) };
    }
    case 'dataplane-plain-audit':
      return startDataplane(snapshotFile(pipelineObjects(target, true)), API_KEY_HEADER, PATH, [], ['--audit-evidence', 'off']);
    case 'dataplane-signed-audit': {
      const keys = auditKeys();
      return startDataplane(snapshotFile(pipelineObjects(target, true)), API_KEY_HEADER, PATH, [], ['--audit-signing-key', keys.signing, '--audit-pseudonym-key', keys.pseudonym]);
    }
  }
}

/** A fresh Ed25519 signing key and pseudonym key, for the benchmark only. */
function auditKeys(): { signing: string; pseudonym: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-bench-keys-'));
  const signing = join(dir, 'audit-signing.pem');
  const pseudonym = join(dir, 'audit-pseudonym.key');
  writeFileSync(signing, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pseudonym, randomBytes(32).toString('hex'));
  return { signing, pseudonym };
}

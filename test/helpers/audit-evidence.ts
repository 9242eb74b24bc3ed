// Synthetic audit chains for the tests of `gozargah audit`, written with api/audit/record.ts's
// seal() in the format of docs/decisions/0002-audit-evidence.md: a chain start, transactions,
// checkpoints (signed with a real Ed25519 key when one is given), rotations that start a new
// file whose first line carries `prev`, and the process-log copy of each checkpoint. Keys are
// real files in a temporary directory, as an operator would hold them.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Test } from 'tap';
import { checkpointMessage, newChainId, pseudonym, pseudonymKeyId, readPseudonymKey, readSigningKey, seal, signCheckpoint, ZERO_HASH, type CheckpointReason, type SigningKey } from '../../api/audit/index.ts';

export interface Head {
  chain: string;
  seq: number;
  hash: string;
}

export interface AuditKeys {
  signingKey: SigningKey;
  signingKeyFile: string;
  publicKeyFile: string;
  pseudonymKey: Buffer;
  pseudonymKeyFile: string;
}

/** A temporary directory, removed when the test ends. */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An Ed25519 signing key and its public key as PEM files, and a pseudonym key file, in `dir`. */
export function makeKeys(dir: string, name = 'audit'): AuditKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signingKeyFile = join(dir, `${name}-signing.pem`);
  const publicKeyFile = join(dir, `${name}-public.pem`);
  const pseudonymKeyFile = join(dir, `${name}-pseudonym.key`);
  writeFileSync(signingKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(pseudonymKeyFile, `${randomBytes(32).toString('hex')}\n`);
  return { signingKey: readSigningKey(signingKeyFile), signingKeyFile, publicKeyFile, pseudonymKey: readPseudonymKey(pseudonymKeyFile), pseudonymKeyFile };
}

export interface TransactionSpec {
  startMs?: number;
  client?: string;
  route?: string;
  method?: string;
  status?: number;
  code?: string;
  /** path parameters in clear; `sensitive` ones become pseudonyms */
  params?: Record<string, string>;
  sensitive?: string[];
  /** body fields marked sensitive, in clear: they become pseudonyms */
  fields?: Record<string, string[]>;
}

export interface ChainOptions {
  bus?: string;
  replica?: string;
  keys?: AuditKeys | null;
  /** sign checkpoints (default: when keys are given) */
  sign?: boolean;
  previous?: Head | null;
  startMs?: number;
}

const q = JSON.stringify;

/** One replica run, written line by line into files (a new file at each rotation). */
export class SyntheticChain {
  readonly id: string;
  /** the lines of each file, in order; the last is the file being written */
  readonly files: string[][] = [[]];
  /** the process log's copy of each checkpoint, as the dataplane logs it */
  readonly checkpointLog: string[] = [];
  readonly bus: string;
  #o: Required<ChainOptions>;
  #seq = 0;
  #hash = ZERO_HASH;
  #carryPrev = false;
  #records = 0;
  #clock: number;

  constructor(options: ChainOptions = {}) {
    this.#o = { bus: 'public', replica: 'dp-0', keys: null, sign: options.keys != null, previous: null, startMs: Date.parse('2026-12-01T08:00:00.000Z'), ...options };
    this.bus = this.#o.bus;
    this.#clock = this.#o.startMs;
    this.id = newChainId(randomBytes(4).toString('hex'), this.#o.startMs);
    this.start();
  }

  get head(): Head {
    return { chain: this.id, seq: this.#seq, hash: this.#hash };
  }

  /** Every line of every file. */
  get lines(): string[] {
    return this.files.flat();
  }

  #time(): string {
    return new Date(this.#clock).toISOString();
  }

  #push(body: string): string {
    const sealed = seal(body, this.id, ++this.#seq, this.#hash, this.#carryPrev);
    this.#carryPrev = false;
    this.#hash = sealed.hash;
    (this.files[this.files.length - 1] as string[]).push(sealed.line);
    return sealed.line;
  }

  start(): void {
    const k = this.#o.keys;
    const previous = this.#o.previous === null ? 'null' : `{"chain":${q(this.#o.previous.chain)},"seq":${this.#o.previous.seq},"hash":${q(this.#o.previous.hash)}}`;
    this.#push(
      `{"type":"chain-start","time":"${this.#time()}","bus":${q(this.#o.bus)},"replica":${q(this.#o.replica)},"keyId":${q(k?.signingKey.keyId ?? null)},` +
        `"publicKey":${q(k?.signingKey.publicKeyBase64 ?? null)},"pseudonymKeyId":${q(k === null ? null : pseudonymKeyId(k.pseudonymKey))},"previousChain":${previous}`,
    );
  }

  /** A transaction record like the dataplane's auditBody, its sensitive values as pseudonyms. */
  tx(spec: TransactionSpec = {}): string {
    this.#records++;
    this.#clock = spec.startMs ?? this.#clock + 1000;
    const hide = (v: string): string => (this.#o.keys === null ? '[redacted]' : pseudonym(this.#o.keys.pseudonymKey, v));
    const params = spec.params === undefined ? null : Object.fromEntries(Object.entries(spec.params).map(([k, v]) => [k, spec.sensitive?.includes(k) === true ? hide(v) : v]));
    const fields = spec.fields === undefined ? null : Object.fromEntries(Object.entries(spec.fields).map(([k, vs]) => [k, vs.map(hide)]));
    return this.#push(
      `{"requestId":${q(`req-${this.#seq + 1}`)},"bus":${q(this.#o.bus)},"start":"${this.#time()}","durationMs":12.5,` +
        `"client":${q(spec.client ?? 'bank-a/app')},"binding":${q(`${spec.client ?? 'bank-a/app'}-binding`)},"provider":"civil/registry","route":${q(spec.route ?? 'civil/person')},` +
        `"method":${q(spec.method ?? 'GET')},"status":${spec.status ?? 200},"code":${q(spec.code ?? 'ok')},"requestBytes":0,"responseBytes":321,"params":${params === null ? 'null' : q(params)},` +
        `"fields":${fields === null ? 'null' : q(fields)},"requestHash":null,"responseHash":"${'ab'.repeat(32)}"`,
    );
  }

  /** `n` plain transactions. */
  txs(n: number): void {
    for (let i = 0; i < n; i++) this.tx();
  }

  checkpoint(reason: CheckpointReason = 'interval', dropped = 0): string {
    const seq = this.#seq + 1;
    const coversHash = this.#hash;
    const time = this.#time();
    const key = this.#o.sign ? (this.#o.keys as AuditKeys).signingKey : null;
    const sig = key === null ? null : signCheckpoint(key, checkpointMessage({ bus: this.#o.bus, chain: this.id, seq, coversHash, time, reason, records: this.#records, dropped }));
    const line = this.#push(
      `{"type":"checkpoint","time":"${time}","bus":${q(this.#o.bus)},"reason":"${reason}","covers":{"seq":${seq - 1},"hash":"${coversHash}"},` +
        `"records":${this.#records},"dropped":${dropped},"keyId":${q(key?.keyId ?? null)},"sig":${q(sig)}`,
    );
    this.checkpointLog.push(JSON.stringify({ level: 'info', time, msg: 'audit checkpoint', chain: this.id, seq, reason, line }));
    return line;
  }

  /** SIGHUP after logrotate: the old file ends with a rotate checkpoint, the next line opens a new file. */
  rotate(): void {
    this.checkpoint('rotate');
    this.files.push([]);
    this.#carryPrev = true;
  }

  shutdown(): void {
    this.checkpoint('shutdown');
  }
}

/** Writes lines as a file (each ending in a newline; gzip when the name ends in .gz); returns its path. */
export function writeLines(dir: string, name: string, lines: readonly string[]): string {
  const path = join(dir, name);
  const text = lines.map((l) => `${l}\n`).join('');
  writeFileSync(path, name.endsWith('.gz') ? gzipSync(text) : text);
  return path;
}

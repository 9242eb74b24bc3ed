// The audit chain of this replica run: seals every line (api/audit/record.ts), writes the
// chain-start record and the checkpoints, and signs them when a signing key is given. No I/O:
// the audit log decides when a line may be sealed (only once it is sure to enter the queue, so a
// chain never has a hole in the middle) and where it goes.
import { randomBytes } from 'node:crypto';
import { checkpointMessage, newChainId, seal, signCheckpoint, ZERO_HASH, type CheckpointReason, type SigningKey } from '../api/audit/index.ts';

/** The last record of a chain that is known to be in the audit file. */
export interface ChainHead {
  chain: string;
  seq: number;
  hash: string;
}

export interface ChainOptions {
  bus: string;
  replica: string;
  signingKey: SigningKey | null;
  pseudonymKeyId: string | null;
  /** the last checkpoint the previous run of this replica wrote (from --state-dir) */
  previous: ChainHead | null;
}

export interface Checkpoint {
  line: string;
  head: ChainHead;
  reason: CheckpointReason;
}

const q = JSON.stringify;

export class AuditChain {
  readonly id: string;
  #options: ChainOptions;
  /** `"bus":"name"`, built once */
  #busMember: string;
  #seq = 0;
  #hash = ZERO_HASH;
  /** the next line sealed is the first of a new file: it carries the hash before it */
  #carryPrev = false;
  /** transaction records sealed */
  #records = 0;
  #checkpointedSeq = 0;

  constructor(options: ChainOptions, startMs = Date.now()) {
    this.#options = options;
    this.id = newChainId(randomBytes(4).toString('hex'), startMs);
    this.#busMember = `"bus":${q(options.bus)}`;
  }

  get seq(): number {
    return this.#seq;
  }

  get keyId(): string | null {
    return this.#options.signingKey?.keyId ?? null;
  }

  /** Seq 1: who writes this chain, with which keys, and which chain of this replica came before. */
  start(time: string): string {
    const o = this.#options;
    const previous = o.previous === null ? 'null' : `{"chain":${q(o.previous.chain)},"seq":${o.previous.seq},"hash":${q(o.previous.hash)}}`;
    return this.#seal(
      `{"type":"chain-start","time":"${time}",${this.#busMember},"replica":${q(o.replica)},"keyId":${q(o.signingKey?.keyId ?? null)},` +
        `"publicKey":${q(o.signingKey?.publicKeyBase64 ?? null)},"pseudonymKeyId":${q(o.pseudonymKeyId)},"previousChain":${previous}`,
    );
  }

  /** A transaction record: `body` is its JSON object without the closing brace. */
  transaction(body: string): string {
    this.#records++;
    return this.#seal(body);
  }

  /**
   * A checkpoint over every record so far, signed when there is a key; null for an interval
   * checkpoint when nothing was added since the last one.
   */
  checkpoint(reason: CheckpointReason, dropped: number, time: string): Checkpoint | null {
    if (reason === 'interval' && this.#seq === this.#checkpointedSeq) return null;
    const seq = this.#seq + 1;
    const key = this.#options.signingKey;
    const coversHash = this.#hash;
    const sig = key === null ? null : signCheckpoint(key, checkpointMessage({ bus: this.#options.bus, chain: this.id, seq, coversHash, time, reason, records: this.#records, dropped }));
    const line = this.#seal(
      `{"type":"checkpoint","time":"${time}",${this.#busMember},"reason":"${reason}","covers":{"seq":${seq - 1},"hash":"${coversHash}"},` +
        `"records":${this.#records},"dropped":${dropped},"keyId":${q(key?.keyId ?? null)},"sig":${q(sig)}`,
    );
    this.#checkpointedSeq = seq;
    return { line, head: { chain: this.id, seq, hash: this.#hash }, reason };
  }

  /** The audit file is being reopened: the next line sealed opens the new file. */
  fileStart(): void {
    this.#carryPrev = true;
  }

  #seal(body: string): string {
    const sealed = seal(body, this.id, ++this.#seq, this.#hash, this.#carryPrev);
    this.#carryPrev = false;
    this.#hash = sealed.hash;
    return sealed.line;
  }
}

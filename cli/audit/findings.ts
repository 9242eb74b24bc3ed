// What `gozargah audit verify` found wrong, each naming the file, line, chain and seq, and kept
// in file order so the first bad record is named first. A log tampered with on a large scale can
// yield millions: only the first KEPT are held (pruned as they come), the rest are counted.

/**
 * edited: a hash does not match (this record or the one before it was changed); deleted: seqs
 * missing; reordered: a smaller seq after a larger one; inserted: a line that is not a sealed
 * record, or a second record claiming a seq; truncated: a chain's end cut; signature: a
 * checkpoint's signature missing, unknown or wrong; covers: a checkpoint not over the record
 * before it; invalid: a chain record whose members are wrong; unverifiable: signatures that
 * cannot be checked without a key.
 */
export type FailureKind = 'edited' | 'deleted' | 'reordered' | 'inserted' | 'truncated' | 'signature' | 'covers' | 'invalid' | 'unverifiable';

export interface Failure {
  file: string;
  /** null for a finding about a chain as a whole */
  line: number | null;
  chain: string | null;
  seq: number | null;
  kind: FailureKind;
  message: string;
}

/** How each kind reads in text. */
export const KIND_LABEL: Record<FailureKind, string> = {
  edited: 'edited',
  deleted: 'deleted',
  reordered: 'reordered',
  inserted: 'inserted',
  truncated: 'truncated',
  signature: 'bad signature',
  covers: 'bad checkpoint',
  invalid: 'invalid record',
  unverifiable: 'cannot check signatures',
};

interface Held extends Failure {
  fileIndex: number;
}

/** Failures held in full; beyond them, only counted. */
export const KEPT = 1000;

const order = (a: Held, b: Held): number => a.fileIndex - b.fileIndex || (a.line ?? Infinity) - (b.line ?? Infinity) || (a.seq ?? 0) - (b.seq ?? 0);

export class Findings {
  #held: Held[] = [];
  #total = 0;

  /** `fileIndex` orders files as given (external checkpoint files after the audit files). */
  add(fileIndex: number, failure: Failure): void {
    this.#total++;
    this.#held.push({ ...failure, fileIndex });
    if (this.#held.length > KEPT * 10) this.#prune();
  }

  get total(): number {
    return this.#total;
  }

  /** The first KEPT failures in file and line order. */
  first(): Failure[] {
    this.#prune();
    return this.#held.map(({ fileIndex: _, ...failure }) => failure);
  }

  #prune(): void {
    this.#held.sort(order);
    this.#held.length = Math.min(this.#held.length, KEPT);
  }
}

export function failureText(f: Failure): string {
  const where = f.line === null ? f.file : `${f.file}:${f.line}`;
  const what = f.chain === null ? '' : f.seq === null ? ` chain ${f.chain}:` : ` chain ${f.chain} seq ${f.seq}:`;
  return `${where}:${what} ${KIND_LABEL[f.kind]}: ${f.message}`;
}

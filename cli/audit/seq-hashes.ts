// One chain's record hashes by seq, whichever file and order they came in: what tells a
// duplicate line from a second record claiming a seq, checks a record against the one before it
// when that one was in another file, and finds the seqs no file has. 32 bytes a record (32 MB a
// million), in blocks of 64Ki seqs allocated as seqs arrive: a chain that begins at seq 5,000,000
// costs nothing for the seqs before it.
const BLOCK_BITS = 16;
const BLOCK = 1 << BLOCK_BITS;
const HASH_BYTES = 32;

interface Block {
  hashes: Buffer;
  present: Uint8Array;
}

export class SeqHashes {
  #blocks = new Map<number, Block>();
  /** records held */
  count = 0;
  /** smallest and largest seq held (0 while empty) */
  min = 0;
  max = 0;

  has(seq: number): boolean {
    const block = this.#blocks.get(Math.floor(seq / BLOCK));
    return block !== undefined && block.present[seq % BLOCK] === 1;
  }

  /** The hash of seq as its record carries it, or null when no record of that seq was read. */
  get(seq: number): string | null {
    const block = this.#blocks.get(Math.floor(seq / BLOCK));
    const i = seq % BLOCK;
    if (block === undefined || block.present[i] !== 1) return null;
    return block.hashes.toString('hex', i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  /** Holds the hash (64 hex characters) of a seq not held yet. */
  set(seq: number, hash: string): void {
    const index = Math.floor(seq / BLOCK);
    let block = this.#blocks.get(index);
    if (block === undefined) {
      block = { hashes: Buffer.allocUnsafe(BLOCK * HASH_BYTES), present: new Uint8Array(BLOCK) };
      this.#blocks.set(index, block);
    }
    const i = seq % BLOCK;
    block.hashes.write(hash, i * HASH_BYTES, HASH_BYTES, 'hex');
    block.present[i] = 1;
    this.count++;
    if (this.min === 0 || seq < this.min) this.min = seq;
    if (seq > this.max) this.max = seq;
  }

  /** The runs of seqs between min and max that no record has, in order, as [first, last]. */
  missing(): [number, number][] {
    const runs: [number, number][] = [];
    if (this.count === 0) return runs;
    /** the seq the next record held should have */
    let expected = this.min;
    for (const index of [...this.#blocks.keys()].sort((a, b) => a - b)) {
      const present = (this.#blocks.get(index) as Block).present;
      const base = index * BLOCK;
      for (let i = Math.max(0, expected - base); i < BLOCK; i++) {
        if (present[i] !== 1) continue;
        if (base + i > expected) runs.push([expected, base + i - 1]);
        expected = base + i + 1;
      }
    }
    return runs;
  }
}

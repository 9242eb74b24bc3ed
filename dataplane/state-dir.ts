// What a replica keeps on disk across restarts (--state-dir): without Redis, the quota each
// binding used this period, so a restart does not hand every client a fresh quota; with Redis,
// a batch of counts that could not reach Redis at shutdown, sent when the replica next starts
// (a batch counts once however often it is sent: fleet-store.ts); and the last audit
// checkpoint written, which the next run's chain names (audit-chain.ts). Files are written
// whole (a temporary file renamed over), so a crash mid-write leaves the previous one.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChainHead } from './audit-chain.ts';
import type { Batch } from './fleet-store.ts';
import type { Log } from './loader.ts';

const QUOTAS = 'quotas.json';
const BATCH_PREFIX = 'unflushed-';

export interface SavedQuota {
  period: string;
  used: number;
}

export class StateDir {
  readonly dir: string;
  #log: Log;
  #writing: Promise<void> | null = null;
  #auditWrite: Promise<void> = Promise.resolve();

  constructor(dir: string, log: Log) {
    this.dir = dir;
    this.#log = log;
    mkdirSync(dir, { recursive: true });
  }

  /** The quotas saved by the last run; an unreadable file is reported and treated as none. */
  loadQuotas(): Map<string, SavedQuota> {
    const saved = new Map<string, SavedQuota>();
    let text: string;
    try {
      text = readFileSync(join(this.dir, QUOTAS), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#log({ level: 'warn', msg: 'saved quotas unreadable; counting from zero', file: join(this.dir, QUOTAS), error: (err as Error).message });
      return saved;
    }
    try {
      const doc = JSON.parse(text) as Record<string, unknown>;
      for (const [binding, value] of Object.entries(doc)) {
        const q = value as Partial<SavedQuota>;
        if (typeof q.period === 'string' && Number.isSafeInteger(q.used) && (q.used as number) >= 0) saved.set(binding, { period: q.period, used: q.used as number });
      }
    } catch (err) {
      this.#log({ level: 'warn', msg: 'saved quotas are not JSON; counting from zero', file: join(this.dir, QUOTAS), error: (err as Error).message });
    }
    return saved;
  }

  /** Starts writing the quotas in the background; false when a write is still running (try at the next tick). */
  saveQuotas(quotas: Map<string, SavedQuota>): boolean {
    if (this.#writing !== null) return false;
    const file = join(this.dir, QUOTAS);
    const tmp = `${file}.${process.pid}.tmp`;
    this.#writing = writeFile(tmp, JSON.stringify(Object.fromEntries(quotas)))
      .then(() => rename(tmp, file))
      .catch((err: unknown) => this.#log({ level: 'error', msg: 'quotas not saved', file, error: (err as Error).message }))
      .finally(() => (this.#writing = null));
    return true;
  }

  /** Resolves once no background write is running. */
  async idle(): Promise<void> {
    await this.#writing;
  }

  /** At shutdown (after idle()): written at once, the process is about to end. */
  saveQuotasNow(quotas: Map<string, SavedQuota>): void {
    const file = join(this.dir, QUOTAS);
    try {
      writeFileSync(`${file}.${process.pid}.final.tmp`, JSON.stringify(Object.fromEntries(quotas)));
      renameSync(`${file}.${process.pid}.final.tmp`, file);
    } catch (err) {
      this.#log({ level: 'error', msg: 'quotas not saved at shutdown', file, error: (err as Error).message });
    }
  }

  saveBatch(batch: Batch): boolean {
    const file = this.#batchFile(batch);
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(batch));
      renameSync(`${file}.tmp`, file);
      return true;
    } catch (err) {
      this.#log({ level: 'error', msg: 'unflushed counts not saved', file, records: batch.records, error: (err as Error).message });
      return false;
    }
  }

  /** The saved batches, oldest first (by run, then sequence number); none when the directory cannot be read. */
  loadBatches(): Batch[] {
    const batches: Batch[] = [];
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      this.#log({ level: 'error', msg: 'state directory unreadable; saved counts not sent', dir: this.dir, error: (err as Error).message });
      return batches;
    }
    for (const name of names) {
      if (!name.startsWith(BATCH_PREFIX) || !name.endsWith('.json')) continue;
      try {
        batches.push(JSON.parse(readFileSync(join(this.dir, name), 'utf8')) as Batch);
      } catch (err) {
        this.#log({ level: 'warn', msg: 'unflushed counts unreadable; left in place', file: join(this.dir, name), error: (err as Error).message });
      }
    }
    return batches.sort((a, b) => (a.run === b.run ? a.seq - b.seq : a.run < b.run ? -1 : 1));
  }

  removeBatch(batch: Batch): void {
    try {
      rmSync(this.#batchFile(batch), { force: true });
    } catch (err) {
      this.#log({ level: 'error', msg: 'sent counts could not be removed; they would be sent again, and counted once', file: this.#batchFile(batch), error: (err as Error).message });
    }
  }

  /** The last checkpoint the previous run of this replica put in its audit file, if it is known. */
  loadAuditHead(bus: string): ChainHead | null {
    const file = join(this.dir, auditHeadFile(bus));
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#log({ level: 'warn', msg: 'last audit checkpoint unreadable; the new chain names no previous one', file, error: (err as Error).message });
      return null;
    }
    try {
      const h = JSON.parse(text) as Partial<ChainHead>;
      if (typeof h.chain === 'string' && Number.isSafeInteger(h.seq) && typeof h.hash === 'string' && /^[0-9a-f]{64}$/.test(h.hash)) return { chain: h.chain, seq: h.seq as number, hash: h.hash };
    } catch {
      // reported below
    }
    this.#log({ level: 'warn', msg: 'last audit checkpoint is not a chain head; the new chain names no previous one', file });
    return null;
  }

  /** Keeps the head for the next run: in the background, and at once when `now` (shutdown). */
  saveAuditHead(bus: string, head: ChainHead, now: boolean): void {
    const file = join(this.dir, auditHeadFile(bus));
    const text = JSON.stringify(head);
    if (now) {
      try {
        writeFileSync(`${file}.final.tmp`, text);
        renameSync(`${file}.final.tmp`, file);
      } catch (err) {
        this.#log({ level: 'error', msg: 'last audit checkpoint not kept', file, error: (err as Error).message });
      }
      return;
    }
    // Written in order: a newer head waits for the write before it.
    this.#auditWrite = this.#auditWrite
      .then(() => writeFile(`${file}.tmp`, text))
      .then(() => rename(`${file}.tmp`, file))
      .catch((err: unknown) => this.#log({ level: 'error', msg: 'last audit checkpoint not kept', file, error: (err as Error).message }));
  }

  #batchFile(batch: Batch): string {
    return join(this.dir, `${BATCH_PREFIX}${batch.run.replaceAll('/', '_')}-${batch.seq}.json`);
  }
}

const auditHeadFile = (bus: string): string => `audit-chain-${bus}.json`;

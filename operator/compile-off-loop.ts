// Runs the compiler in a worker thread (operator/compile-worker.ts), one pass at a time, and
// starts a new worker if one dies. The input goes over by structured clone: the informers'
// objects are plain JSON, and cloning them costs the main thread a fraction of compiling them.
import { Worker } from 'node:worker_threads';
import type { CompileInput, CompileOutput } from '../compiler/types.ts';

const WORKER = new URL('./compile-worker.ts', import.meta.url);

interface Pending {
  id: number;
  resolve: (output: CompileOutput) => void;
  reject: (err: Error) => void;
}

export class OffLoopCompiler {
  #worker: Worker | null = null;
  #pending: Pending | null = null;
  #next = 1;
  #delayMs: number;

  /** `delayMs`: the test hook of compile-worker.ts (GOZARGAH_TEST_COMPILE_DELAY_MS), 0 in production. */
  constructor(delayMs = 0) {
    this.#delayMs = delayMs;
  }

  compile(input: CompileInput): Promise<CompileOutput> {
    if (this.#pending !== null) return Promise.reject(new Error('a compile is already running'));
    const worker = this.#start();
    const id = this.#next++;
    return new Promise<CompileOutput>((resolve, reject) => {
      this.#pending = { id, resolve, reject };
      worker.postMessage({ id, input });
    });
  }

  /** Stops the worker; a compile in flight is refused. */
  async stop(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    this.#fail(new Error('the operator is stopping'));
    await worker?.terminate();
  }

  #start(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = new Worker(WORKER, { workerData: { delayMs: this.#delayMs } });
    // An idle worker must not keep the process alive.
    worker.unref();
    worker.on('message', (m: { id: number; output?: CompileOutput; error?: string }) => {
      const pending = this.#pending;
      if (pending === null || pending.id !== m.id) return;
      this.#pending = null;
      if (m.error !== undefined) pending.reject(new Error(`compile failed: ${m.error}`));
      else pending.resolve(m.output as CompileOutput);
    });
    worker.on('error', (err) => this.#fail(err));
    worker.on('exit', (code) => {
      if (this.#worker === worker) this.#worker = null;
      this.#fail(new Error(`the compile worker exited (code ${code})`));
    });
    this.#worker = worker;
    return worker;
  }

  #fail(err: Error): void {
    const pending = this.#pending;
    this.#pending = null;
    pending?.reject(err);
  }
}

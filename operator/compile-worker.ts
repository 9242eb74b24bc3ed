// The compiler in a worker thread: a pass over a national store takes seconds, and the main
// thread must keep renewing the leader Lease, following watches and answering /healthz and
// /metrics meanwhile. The compiler is pure, so the worker holds no state between passes.
import { parentPort, workerData } from 'node:worker_threads';
import { compile } from '../compiler/index.ts';
import type { CompileInput } from '../compiler/types.ts';

interface Request {
  id: number;
  input: CompileInput;
}

/**
 * Test hook (GOZARGAH_TEST_COMPILE_DELAY_MS, passed as workerData): the worker spins that long
 * before each compile, standing in for a store too big to compile within a Lease, so a test can
 * show the leader keeps renewing meanwhile. Unset in production.
 */
const delayMs = Number((workerData as { delayMs?: number } | undefined)?.delayMs ?? 0);

parentPort?.on('message', ({ id, input }: Request) => {
  try {
    if (delayMs > 0) {
      const until = performance.now() + delayMs;
      while (performance.now() < until);
    }
    parentPort?.postMessage({ id, output: compile(input) });
  } catch (err) {
    parentPort?.postMessage({ id, error: (err as Error).stack ?? String(err) });
  }
});

// make bench-compile-worker: what running the compiler in the operator's worker thread costs a
// pass (operator/compile-off-loop.ts: the store and the result cross by structured clone), at
// 10,000 routes / 5,000 bindings: the same input compiled inline and through the worker, in
// alternating rounds, in one process. Not part of make test.
import { compile } from '../compiler/index.ts';
import { OffLoopCompiler } from '../operator/compile-off-loop.ts';
import { scaleObjects } from '../test/helpers/scale.ts';

const [routes, bindings] = [Number(process.env['ROUTES'] ?? 10_000), Number(process.env['BINDINGS'] ?? 5_000)];
const ROUNDS = Number(process.env['ROUNDS'] ?? 5);
const input = { objects: scaleObjects(routes, bindings), now: new Date().toISOString() };
const worker = new OffLoopCompiler();
// Warm both: the first pass of each pays for loading and JIT.
compile(input);
await worker.compile(input);
const inline: number[] = [];
const offLoop: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  let started = performance.now();
  compile(input);
  inline.push(performance.now() - started);
  started = performance.now();
  await worker.compile(input);
  offLoop.push(performance.now() - started);
}
await worker.stop();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
process.stdout.write(
  `compile of ${routes} routes and ${bindings} bindings, ${ROUNDS} rounds: inline median ${Math.round(median(inline))} ms ` +
    `(${inline.map(Math.round).join(', ')}), through the worker median ${Math.round(median(offLoop))} ms (${offLoop.map(Math.round).join(', ')}); ` +
    `the worker costs ${Math.round(median(offLoop) - median(inline))} ms a pass\n`,
);

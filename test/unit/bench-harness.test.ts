// The benchmark harness keeps working: a one-second run of direct, http-proxy and the dataplane (alone, with Redis, with and without audit evidence)
// with autocannon (no nginx or wrk needed), checked for the shape of its result. It asserts
// nothing about speed: timing belongs to `make bench`, not to `make test`.
import t from 'tap';
import { benchTable, runBench } from '../../bench/harness.ts';
import { parseWrk } from '../../bench/generators.ts';
import { IMAGE_NODE_FLAGS } from '../../bench/processes.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/dataplane.ts';

t.test('a short run measures each contender and the ratios', async (t2) => {
  const r = await runBench({
    contenders: ['direct', 'http-proxy', 'dataplane', 'dataplane-redis', 'dataplane-plain-audit', 'dataplane-signed-audit'],
    generator: 'autocannon',
    agency: 'node',
    connections: 4,
    seconds: 1,
    warmupSeconds: 0,
    runs: 1,
    rate: 200,
    rateConnections: 2,
    log: () => undefined,
  });
  t2.same(
    r.contenders.map((c) => c.name),
    ['direct', 'http-proxy', 'dataplane', 'dataplane-redis', 'dataplane-plain-audit', 'dataplane-signed-audit'],
  );
  for (const c of r.contenders) {
    t2.ok(c.saturation.requests > 0, `${c.name}: requests were answered`);
    t2.equal(c.saturation.errors, 0, `${c.name}: no connection errors`);
    t2.equal(c.saturation.non2xx, 0, `${c.name}: every answer is 2xx (the dataplane's pipeline admitted the load)`);
    t2.ok(c.saturation.p50 > 0 && c.saturation.p99 >= c.saturation.p50, `${c.name}: p50 and p99 at saturation`);
    t2.equal(c.runs.length, 1);
    t2.ok(c.fixedRate !== null && c.fixedRate.requests > 0 && c.fixedRate.p99 >= c.fixedRate.p50, `${c.name}: latency at a fixed rate`);
  }
  t2.type(r.ratios['dataplane/http-proxy'], 'number');
  t2.type(r.ratios['dataplane/direct'], 'number');
  t2.type(r.ratios['dataplane-redis/dataplane'], 'number');
  t2.type(r.ratios['dataplane-signed-audit/dataplane-plain-audit'], 'number');
  const table = benchTable(r);
  t2.match(table, /\| gozargah dataplane, whole pipeline, 1 worker \| [\d,]+ \|/);
  t2.match(table, /dataplane\/http-proxy req\/s: \d+\.\d\d/);
});

t.test('wrk --latency output is parsed', async (t2) => {
  const out = `Running 10s test @ http://127.0.0.1:8080/x
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.50ms  300.00us   9.00ms   90.00%
    Req/Sec    33.00k     1.00k   35.00k    70.00%
  Latency Distribution
     50%  850.00us
     75%    1.20ms
     90%    1.80ms
     99%    3.25ms
  330000 requests in 10.00s, 50.00MB read
  Non-2xx or 3xx responses: 7
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  33000.12
Transfer/sec:      5.00MB
`;
  t2.same(parseWrk(out, 10), { rps: 33000.12, p50: 0.85, p99: 3.25, requests: 330000, errors: 3, non2xx: 7 });
});

t.test('the benchmarks run Node with the flags the image sets', async (t2) => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  t2.match(dockerfile, new RegExp(`^ENV NODE_OPTIONS=${IMAGE_NODE_FLAGS.join(' ')}$`, 'm'));
});

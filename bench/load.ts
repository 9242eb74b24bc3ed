// One load run with autocannon, as its own process (run it pinned); prints the result as JSON.
//   node bench/load.ts <url> <connections> <seconds> [rate|0] [api-key | 'name: value']
// With a rate, autocannon holds that many requests per second overall (overallRate). Latency
// comes from every response's own time (autocannon's histogram rounds to whole milliseconds,
// too coarse to compare p99s a fraction of a millisecond apart).
import autocannon from 'autocannon';
import { percentile, type LoadResult } from './generators.ts';

const [url, connections, seconds, rate, credential] = process.argv.slice(2) as [string, string, string, string | undefined, string | undefined];
/** A bare value is an API key; `name: value` is the header itself (Authorization: Bearer ...). */
function credentialHeader(value: string | undefined): Record<string, string> {
  if (value === undefined || value === '') return {};
  const colon = value.indexOf(': ');
  return colon < 0 ? { 'x-api-key': value } : { [value.slice(0, colon)]: value.slice(colon + 2) };
}
const overallRate = Number(rate ?? 0);
let times = new Float64Array(1 << 16);
let n = 0;
const result = await new Promise<autocannon.Result>((resolve, reject) => {
  const instance = autocannon(
    {
      url,
      connections: Number(connections),
      duration: Number(seconds),
      headers: credentialHeader(credential),
      ...(overallRate > 0 ? { overallRate } : {}),
    },
    (err, result) => (err === null || err === undefined ? resolve(result) : reject(err)),
  );
  instance.on('response', (_client, _status, _bytes, ms) => {
    if (n === times.length) {
      const grown = new Float64Array(times.length * 2);
      grown.set(times);
      times = grown;
    }
    times[n++] = ms;
  });
});
const sorted = times.subarray(0, n).sort();
const out: LoadResult = {
  rps: result.requests.total / Number(seconds),
  p50: percentile(sorted, 50),
  p99: percentile(sorted, 99),
  requests: result.requests.total,
  errors: result.errors + result.timeouts,
  non2xx: result.non2xx,
};
process.stdout.write(`${JSON.stringify(out)}\n`);

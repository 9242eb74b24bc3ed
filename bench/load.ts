// One load run with autocannon; prints its result as JSON. Run pinned to its own CPU.
import autocannon from 'autocannon';

const [url, connections, seconds, key] = process.argv.slice(2) as [string, string, string, string | undefined];
const result = await autocannon({
  url,
  connections: Number(connections),
  duration: Number(seconds),
  headers: key === undefined ? {} : { 'x-api-key': key },
});
process.stdout.write(
  `${JSON.stringify({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx, timeouts: result.timeouts, total: result.requests.total })}\n`,
);

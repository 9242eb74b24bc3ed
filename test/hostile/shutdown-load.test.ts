// SIGTERM while clients keep sending on keep-alive connections: no request that reached the
// dataplane is reset, every answered request is audited, and the process exits 0.
import t from 'tap';
import { Pool } from 'undici';
import { startAgency } from '../helpers/agency.ts';
import { startDataplane } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const KEY = 'test-key-shutdown-load-01234567';
const CONNECTIONS = 16;

const agency = await startAgency();
t.teardown(() => agency.close());
const dir = manifestDir([
  provider('agency', agency.url),
  route('person', 'agency', '/registry/v1/persons/{nationalId}', { upstreamPath: '/slow/15' }),
  keySecret('client-keys', { k: KEY }),
  binding('client', 'client', [{ namespace: 'gov', name: 'person' }]),
]);

t.test('SIGTERM under load: no reset, every answer audited, exit 0', async (t2) => {
  const dp = await startDataplane(['--manifests', dir, '--grace', '5']);
  const pool = new Pool(dp.url, { connections: CONNECTIONS, pipelining: 1 });
  let answered = 0;
  let refusedConnections = 0;
  const otherErrors: string[] = [];
  let stopping = false;
  const worker = async (): Promise<void> => {
    // Bounded: at most 2,000 requests per worker, and it stops once the dataplane has gone.
    for (let i = 0; i < 2_000; i++) {
      try {
        const res = await pool.request({ path: `/registry/v1/persons/00${i}`, method: 'GET', headers: { 'x-api-key': KEY } });
        await res.body.dump();
        answered++;
      } catch (err) {
        const code = (err as { code?: string }).code ?? (err as Error).message;
        // After the listener closes, new connections are refused: that is the stop, not a reset.
        if (code === 'ECONNREFUSED') refusedConnections++;
        else otherErrors.push(code);
        if (stopping) return;
      }
    }
  };
  const workers = Array.from({ length: CONNECTIONS }, () => worker());
  await new Promise((r) => setTimeout(r, 1_000));
  stopping = true;
  const exit = await dp.stop('SIGTERM');
  await Promise.all(workers);
  await pool.close();
  t2.equal(exit, 0, 'the dataplane exits 0');
  t2.ok(answered > 100, `requests were answered under load (${answered})`);
  t2.same(otherErrors, [], 'no request was reset or cut: the only failures are connections refused after the stop');
  const audit = dp.audit();
  t2.equal(audit.length, answered, 'every answered request has its audit record');
  t2.ok(audit.every((r) => r['status'] === 200), 'every record says the request was served');
  t2.comment(`answered ${answered}, connections refused after the stop ${refusedConnections}`);
});

// Baseline: a bare forwarder on undici's Pool, no checks at all.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [port, target] = [Number(process.argv[2]), process.argv[3] as string];
const pool = new Pool(target, { connections: 256 });
createServer((req, res) => {
  pool
    .request({ path: req.url ?? '/', method: 'GET' })
    .then((answer) => {
      res.writeHead(answer.statusCode, answer.headers as Record<string, string>);
      answer.body.pipe(res);
    })
    .catch(() => res.writeHead(502).end());
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));

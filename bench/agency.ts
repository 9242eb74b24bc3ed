// The benchmark's agency: a fixed JSON answer, as cheap as Node can make it.
import { createServer } from 'node:http';

const body = JSON.stringify({ nationalId: '0012345678', valid: true, person: { firstName: 'Sara', lastName: 'Ahmadi' } });
const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
const server = createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('ready\n'));

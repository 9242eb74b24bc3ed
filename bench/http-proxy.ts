// Baseline: what a team writes by hand in Node, http-proxy 1.18 with a keep-alive agent.
import { Agent, createServer, type ServerResponse } from 'node:http';
import httpProxy from 'http-proxy';

const [port, target] = [Number(process.argv[2]), process.argv[3] as string];
const proxy = httpProxy.createProxyServer({ target, agent: new Agent({ keepAlive: true, maxSockets: 256 }) });
proxy.on('error', (_err, _req, res) => {
  (res as ServerResponse).writeHead(502).end();
});
createServer((req, res) => proxy.web(req, res)).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));

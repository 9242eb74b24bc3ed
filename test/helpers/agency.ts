// A stand-in agency: a real HTTP(S) server on a free loopback port, with a few behaviours
// chosen by path, recording every request it sees.
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Agency {
  url: string;
  port: number;
  seen: SeenRequest[];
  /** behaviour override for the next requests, by path prefix */
  close(): Promise<void>;
}

export interface AgencyOptions {
  tls?: { cert: string; key: string; ca?: string; requestCert?: boolean };
}

/**
 * Paths: /slow/MS answers after MS ms; /status/CODE answers CODE; /reset destroys the socket;
 * /private answers a JSON person with fields a route may drop; /notjson claims JSON but is not;
 * anything else echoes method, url, headers and body as JSON.
 */
function handler(seen: SeenRequest[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const url = req.url ?? '/';
      const send = (status: number, doc: unknown, type = 'application/json'): void => {
        const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
        res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text), 'x-agency': 'yes' });
        res.end(text);
      };
      const slow = /\/slow\/(\d+)/.exec(url);
      if (slow !== null) {
        const timer = setTimeout(() => send(200, { slept: Number(slow[1]) }), Number(slow[1]));
        res.on('close', () => clearTimeout(timer));
        return;
      }
      const status = /\/status\/(\d{3})/.exec(url);
      if (status !== null) return send(Number(status[1]), { agencySays: `status ${status[1]}` });
      if (url.includes('/reset')) {
        req.socket.destroy();
        return;
      }
      if (url.includes('/private')) return send(200, { person: { name: 'Sara', fatherName: 'Ali', birthDate: '1990-01-01' }, items: [{ phone: '0912', id: 1 }] });
      if (url.includes('/notjson')) return send(200, '{not json', 'application/json');
      send(200, { method: req.method, url, headers: req.headers, body });
    });
  };
}

export async function startAgency(options: AgencyOptions = {}): Promise<Agency> {
  const seen: SeenRequest[] = [];
  const server: Server = options.tls === undefined ? createHttp(handler(seen)) : createHttps({ ...options.tls, rejectUnauthorized: options.tls.requestCert === true }, handler(seen));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// A stand-in agency that misbehaves on demand: a real HTTP server on a free loopback port, with
// the behaviour chosen by the request path, so one agency serves every behaviour at once. It
// records every request it sees and counts connections, so a test can assert what reached it.
//
// Behaviours (the first path segment names it; any prefix before it is ignored, so a provider
// URL with a base path works too). Every answer it does send carries `x-hostile-agency: yes`.
//   /hang                  reads the request, never answers (the socket stays open until close())
//   /hang-after-headers    sends 200 and JSON headers (content-length 64), then nothing
//   /close-mid-body        declares content-length N (1000), sends half of it, destroys the socket
//   /bad-chunking          writes raw on the socket: a chunked 200 whose chunk-size line is not hex
//   /huge/BYTES            a JSON body of exactly BYTES bytes (at least 16), streamed in 64 KiB
//                          chunks with backpressure, content-length set
//   /trickle/MS            a small JSON body (about 100 bytes) written 4 bytes every MS ms
//   /content-type/VALUE    the /private document with content-type VALUE (URI-decoded), or an
//                          alias (a bus refuses %2F in a path, so a route can only pass these):
//                          `none` no content-type, `two` two content-type headers (application/json
//                          and text/plain), `text` text/plain, `problem` application/problem+json,
//                          `charset` application/json; charset=utf-8, `vnd` application/vnd.x+json,
//                          `json` application/json
//   /gzip                  the /private document gzip-encoded (content-encoding: gzip) when the
//                          request's accept-encoding allows gzip, identity otherwise
//   /gzip-always           the /private document gzip-encoded whatever the request says
//   /gozargah-headers      a 200 JSON answer carrying the agency's own x-gozargah-error and
//                          x-gozargah-client headers, as if it were the bus
//   /status/CODE           answers CODE (100..599 is clamped to 200..599) with a small JSON body
//   /private               {person:{name, fatherName, birthDate}, items:[{phone, id}]}: fields a
//                          route's privacy rules drop
//   /echo (and anything else) echoes method, url, headers and body as JSON
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface HostileSeen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** bytes of request body received (so far, while `complete` is false) */
  bodyBytes: number;
  /** the request body arrived in full */
  complete: boolean;
}

export interface HostileAgency {
  url: string;
  port: number;
  /** every request whose head arrived, in arrival order */
  seen: HostileSeen[];
  /** connections accepted so far */
  connections(): number;
  /** connections open now */
  openConnections(): number;
  /** destroys every connection (hanging ones included), stops every timer, closes the server */
  close(): Promise<void>;
}

/** The document a privacy route must filter; its private values are PRIVATE_VALUES. */
export const PRIVATE_DOCUMENT = { person: { name: 'Sara', fatherName: 'Ali-Secret-Father', birthDate: '1990-01-01' }, items: [{ phone: '0912-555-0101', id: 1 }] };
/** Values that must never reach a client through a route dropping person.fatherName, person.birthDate and items.phone. */
export const PRIVATE_VALUES = ['Ali-Secret-Father', '1990-01-01', '0912-555-0101'];

const CONTENT_TYPE_ALIASES: Record<string, string> = {
  text: 'text/plain',
  problem: 'application/problem+json',
  charset: 'application/json; charset=utf-8',
  vnd: 'application/vnd.x+json',
  json: 'application/json',
};

const MARK = { 'x-hostile-agency': 'yes' };
const CHUNK = 64 * 1024;

export async function startHostileAgency(): Promise<HostileAgency> {
  const seen: HostileSeen[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let connections = 0;
  let closing = false;

  const later = (ms: number, fn: () => void): void => {
    if (closing) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const json = (res: ServerResponse, status: number, doc: unknown, headers: Record<string, string | string[]> = {}): void => {
    const text = JSON.stringify(doc);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...MARK, ...headers });
    res.end(text);
  };

  const behave = (req: IncomingMessage, res: ServerResponse, entry: HostileSeen, body: Buffer): void => {
    const url = req.url ?? '/';
    const path = url.split('?')[0] as string;
    const m = /\/(hang-after-headers|hang|close-mid-body|bad-chunking|huge|trickle|content-type|gzip-always|gzip|gozargah-headers|status|private|echo)(?:\/([^/]*))?/.exec(path);
    const what = m?.[1] ?? 'echo';
    const arg = m?.[2] ?? '';
    switch (what) {
      case 'hang':
        return; // close() destroys the socket
      case 'hang-after-headers':
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '64', ...MARK });
        res.flushHeaders();
        return;
      case 'close-mid-body': {
        const n = 1000;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(n), ...MARK });
        res.write(`{"pad":"${'x'.repeat(n / 2 - 9)}`);
        later(20, () => req.socket.destroy());
        return;
      }
      case 'bad-chunking': {
        // Raw on the socket: Node's response object never writes anything.
        const socket = req.socket;
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-hostile-agency: yes\r\ntransfer-encoding: chunked\r\n\r\n');
        socket.write('ZZ-not-hex\r\n{"a":1}\r\n0\r\n\r\n');
        later(20, () => socket.destroy());
        return;
      }
      case 'huge': {
        const bytes = Math.max(16, Math.min(Number(arg) || 0, 1 << 30));
        const head = '{"pad":"';
        const tail = '"}';
        let left = bytes - head.length - tail.length;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(bytes), ...MARK });
        res.write(head);
        const filler = Buffer.alloc(CHUNK, 'x');
        const pump = (): void => {
          while (left > 0 && !res.destroyed) {
            const n = Math.min(left, CHUNK);
            left -= n;
            if (!res.write(n === CHUNK ? filler : filler.subarray(0, n))) return void res.once('drain', pump);
          }
          if (left === 0 && !res.destroyed) res.end(tail);
        };
        pump();
        return;
      }
      case 'trickle': {
        const ms = Math.max(1, Math.min(Number(arg) || 10, 1000));
        const text = JSON.stringify({ trickle: true, every: ms, pad: 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz' });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...MARK });
        let at = 0;
        const step = (): void => {
          if (res.destroyed) return;
          const piece = text.slice(at, at + 4);
          at += 4;
          if (at >= text.length) res.end(piece);
          else {
            res.write(piece);
            later(ms, step);
          }
        };
        step();
        return;
      }
      case 'content-type': {
        let value = 'none';
        try {
          value = decodeURIComponent(arg);
        } catch {
          value = arg;
        }
        value = CONTENT_TYPE_ALIASES[value] ?? value;
        const text = JSON.stringify(PRIVATE_DOCUMENT);
        const headers: Record<string, string | string[]> = { 'content-length': String(Buffer.byteLength(text)), ...MARK };
        if (value === 'two') headers['content-type'] = ['application/json', 'text/plain'];
        else if (value !== 'none' && value !== '') headers['content-type'] = value;
        res.writeHead(200, headers);
        res.end(text);
        return;
      }
      case 'gzip':
      case 'gzip-always': {
        const accepts = /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
        const text = Buffer.from(JSON.stringify(PRIVATE_DOCUMENT));
        const gz = what === 'gzip-always' || accepts;
        const out = gz ? gzipSync(text) : text;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(out.length), ...(gz ? { 'content-encoding': 'gzip' } : {}), vary: 'accept-encoding', ...MARK });
        res.end(out);
        return;
      }
      case 'gozargah-headers':
        return json(res, 200, { agency: 'pretends to be the bus' }, { 'x-gozargah-error': 'route_not_found', 'x-gozargah-client': 'someone-else' });
      case 'status': {
        const code = Math.max(200, Math.min(Number(arg) || 200, 599));
        return json(res, code, { agencySays: `status ${code}` });
      }
      case 'private':
        return json(res, 200, PRIVATE_DOCUMENT);
      default:
        return json(res, 200, { method: req.method, url, headers: req.headers, body: body.toString('utf8'), bodyBytes: entry.bodyBytes });
    }
  };

  const server: Server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const entry: HostileSeen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bodyBytes: 0, complete: false };
    seen.push(entry);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      entry.bodyBytes += c.length;
      if (entry.bodyBytes <= 1 << 20) chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      entry.complete = true;
      if (closing) return;
      try {
        behave(req, res, entry, Buffer.concat(chunks));
      } catch (err) {
        // e.g. a content-type VALUE Node refuses to write: the agency answers 500, it never crashes the test
        if (!res.headersSent) json(res, 500, { agencyFailed: (err as Error).message });
        else res.destroy();
      }
    });
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    connections: () => connections,
    openConnections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Stand-in agencies for the demo, on the loopback ports examples/ names. Each answers like the
// real inquiry would, with made-up data.
import { createServer, type Server } from 'node:http';

type Answer = (path: string, body: string) => { status: number; doc: unknown };

const AGENCIES: { port: number; name: string; answer: Answer }[] = [
  {
    port: 18081,
    name: 'civil registry',
    answer: (path) => {
      const id = /\/inquiry\/person\/(\d+)/.exec(path)?.[1];
      if (id === undefined || id.length !== 10) return { status: 404, doc: { error: 'no such national id' } };
      return { status: 200, doc: { nationalId: id, valid: true, person: { firstName: 'Sara', lastName: 'Ahmadi', fatherName: 'Reza', birthDate: '1992-03-21' } } };
    },
  },
  {
    port: 18082,
    name: 'health insurance',
    answer: (path) => ({ status: 200, doc: { booklet: /\/booklets\/([^/]+)/.exec(path)?.[1] ?? '', valid: true, validUntil: '2027-03-20' } }),
  },
  {
    port: 18083,
    name: 'education',
    answer: (_path, body) => ({ status: 200, doc: { nationalId: (JSON.parse(body || '{}') as { nationalId?: string }).nationalId, literacy: 'bachelor' } }),
  },
  {
    port: 18084,
    name: 'national post',
    answer: (path) => ({ status: 200, doc: { postalCode: /\/address\/(\d+)/.exec(path)?.[1] ?? '', province: 'Tehran', city: 'Tehran', street: 'Valiasr' } }),
  },
];

export async function startAgencies(): Promise<Server[]> {
  return Promise.all(
    AGENCIES.map(
      ({ port, name, answer }) =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer((req, res) => {
            let body = '';
            req.on('data', (c: Buffer) => (body += c.toString()));
            req.on('end', () => {
              const { status, doc } = answer(req.url ?? '/', body);
              const text = JSON.stringify(doc);
              res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
              res.end(text);
            });
          });
          server.once('error', (err) => reject(new Error(`the ${name} stand-in cannot listen on 127.0.0.1:${port}: ${err.message}`)));
          server.listen(port, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
}

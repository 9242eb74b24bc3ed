// The operator's admin port: /healthz (the process answers), /readyz (every watch has listed:
// a standby is ready too, it only waits for the Lease), /metrics.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { OperatorMetrics } from './metrics.ts';

export interface AdminDeps {
  metrics: OperatorMetrics;
  ready: () => boolean;
  /** what /readyz shows besides `ready` */
  state: () => Record<string, unknown>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function createAdminServer(deps: AdminDeps): Server {
  return createServer((req, res) => {
    switch ((req.url ?? '/').split('?')[0]) {
      case '/metrics':
        return deps.metrics.serve(req, res);
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz': {
        const ready = deps.ready();
        return json(res, ready ? 200 : 503, { ready, ...deps.state() });
      }
      default:
        return json(res, 404, { error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] });
    }
  });
}

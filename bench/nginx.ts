// nginx for the benchmark, from Debian's package, one worker, in a scratch prefix: as the
// reverse proxy contender (keep-alive upstream), or as the agency (a fixed JSON answer from
// `return`, so the agency is never the bottleneck).
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepting, pinned } from './processes.ts';

export const AGENCY_BODY = JSON.stringify({ nationalId: '0012345678', valid: true, person: { firstName: 'Sara', lastName: 'Ahmadi' } });

function config(dir: string, server: string, upstream = ''): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`).join('\n');
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
${temp}
  keepalive_requests 10000000;
  keepalive_timeout 65s;
${upstream}
${server}
}
`;
}

async function start(cpu: number, port: number, conf: string): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-bench-nginx-'));
  chmodSync(dir, 0o755); // the worker may run as nobody
  writeFileSync(join(dir, 'nginx.conf'), conf.replaceAll('@DIR@', dir));
  const child = pinned(cpu, 'nginx', ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')]);
  await accepting(port, child);
  return child;
}

/** nginx as a reverse proxy to the agency, with a keep-alive upstream pool. */
export function startNginxProxy(cpu: number, port: number, agencyPort: number): Promise<ChildProcess> {
  const upstream = `  upstream agency {
    server 127.0.0.1:${agencyPort};
    keepalive 256;
    keepalive_requests 10000000;
  }`;
  const server = `  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://agency;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }`;
  return start(cpu, port, config('@DIR@', server, upstream));
}

/** nginx as the agency: the same fixed JSON answer as bench/agency.ts. */
export function startNginxAgency(cpu: number, port: number): Promise<ChildProcess> {
  const server = `  server {
    listen 127.0.0.1:${port};
    location / {
      default_type application/json;
      return 200 '${AGENCY_BODY}';
    }
  }`;
  return start(cpu, port, config('@DIR@', server));
}

// The dataplane's own answers as problem documents (RFC 9457), from the error contract in
// api/problems.ts. Clients and tests match on `code`; the agency's own answers never carry the
// x-gozargah-error header, so a client can always tell the two apart.
import type { ServerResponse } from 'node:http';
import type { ErrorKind } from '../api/problems.ts';

export { Errors, type ErrorKind } from '../api/problems.ts';

export interface Problem {
  kind: ErrorKind;
  detail: string;
  /** extra headers: Retry-After, Allow, RateLimit-* */
  headers: Record<string, string> | null;
  /** extra members of the problem document, e.g. the failing schema paths */
  extra: Record<string, unknown> | null;
}

export function problem(kind: ErrorKind, detail: string, headers: Record<string, string> | null = null, extra: Record<string, unknown> | null = null): Problem {
  return { kind, detail, headers, extra };
}

/**
 * Writes an application/problem+json answer (RFC 9457), its head unless one went out already.
 * Returns the body sent, encoded once: its length and hash are taken from the same bytes.
 */
export function sendProblem(res: ServerResponse, p: Problem, requestId: string): Buffer {
  const body = Buffer.from(JSON.stringify({
    type: `https://gozargah.io/problems/${p.kind.code}`,
    title: p.kind.title,
    status: p.kind.status,
    detail: p.detail,
    code: p.kind.code,
    requestId,
    ...p.extra,
  }));
  if (!res.headersSent) {
    res.statusCode = p.kind.status;
    res.setHeader('content-type', 'application/problem+json');
    res.setHeader('content-length', body.length);
    res.setHeader('x-gozargah-error', p.kind.code);
    res.setHeader('x-request-id', requestId);
    res.setHeader('cache-control', 'no-store');
    if (p.headers !== null) for (const name in p.headers) res.setHeader(name, p.headers[name] as string);
  }
  res.end(body);
  return body;
}

/** Not sent to anyone (the client left); recorded so every transaction is counted. */
export const CLIENT_GONE = 'client_gone';

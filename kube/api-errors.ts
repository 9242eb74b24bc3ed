// Reading the status code of a failed Kubernetes API call.
import { ApiException } from '@kubernetes/client-node';

/** True when err is the apiserver answering `code` (404 Not Found, 409 Conflict, ...). */
export const isCode = (err: unknown, code: number): boolean => err instanceof ApiException && err.code === code;

/**
 * What to log about a failed call: an ApiException's message carries the whole response body and
 * headers; the status code and the API server's own message are what a person needs.
 */
export function describeError(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    let parsed: unknown = body;
    if (typeof body === 'string') {
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = { message: body.slice(0, 200) };
      }
    }
    const message = (parsed as { message?: unknown } | null)?.message;
    return `HTTP ${err.code}${typeof message === 'string' && message !== '' ? `: ${message}` : ''}`;
  }
  return (err as Error)?.message ?? String(err);
}

// Forwarding to the agency over the provider's keep-alive pool: per-try timeout within the
// route's deadline, retries for idempotent methods within the provider's retry budget, and
// the circuit breaker's verdict on every attempt.
import type { Dispatcher } from 'undici';
import { IDEMPOTENT_METHODS } from '../api/v1alpha1/index.ts';
import { Errors, problem, type Problem } from './errors.ts';
import type { RouteContext } from './runtime.ts';
import { send, type Cancellation, type UpstreamResponse } from './upstream.ts';

export type UpstreamAnswer = UpstreamResponse;

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const RETRYABLE_STATUS = new Set([502, 503, 504]);

function failureProblem(err: unknown, route: RouteContext): Problem {
  const code = (err as { code?: string }).code ?? '';
  if (TIMEOUT_CODES.has(code)) {
    return problem(Errors.upstreamTimeout, `The agency behind ${route.id} did not answer within ${route.perTryTimeoutMs} ms.`);
  }
  return problem(Errors.upstreamUnavailable, `The agency behind ${route.id} could not be reached (${code || (err as Error).message}).`);
}

export function upstreamPath(route: RouteContext, params: readonly string[], query: string): string {
  let path = '';
  const parts = route.upstream;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string | number;
    path += typeof part === 'number' ? encodeURIComponent(params[part] as string) : part;
  }
  return query.length === 0 ? path : path + query;
}

/**
 * Sends the request, retrying what may be retried. Resolves with the agency's answer or the
 * problem to answer instead; rejects with ClientGoneError once `cancel` is cancelled.
 */
export async function forward(
  route: RouteContext,
  method: string,
  path: string,
  headers: string[],
  body: Buffer | null,
  cancel: Cancellation,
  started: number,
): Promise<UpstreamAnswer | Problem> {
  const provider = route.provider;
  const attempts = IDEMPOTENT_METHODS.has(method) ? 1 + route.retries : 1;
  provider.budget.earn();
  for (let attempt = 1; ; attempt++) {
    const timeout = Math.max(1, Math.min(route.perTryTimeoutMs, route.timeoutMs - (performance.now() - started)));
    let outcome: UpstreamAnswer | Problem;
    try {
      const answer = await send(provider.pool, { path, method: method as Dispatcher.HttpMethod, headers, body, headersTimeout: timeout, bodyTimeout: timeout }, cancel);
      if (answer.status >= 500) provider.breaker.failure(performance.now());
      else provider.breaker.success();
      outcome = answer;
      if (!RETRYABLE_STATUS.has(answer.status)) return outcome;
    } catch (err) {
      if (cancel.cancelled) throw err;
      provider.breaker.failure(performance.now());
      outcome = failureProblem(err, route);
    }
    const timeLeft = route.timeoutMs - (performance.now() - started) >= 1;
    if (attempt >= attempts || !timeLeft || !provider.budget.spend()) return outcome;
    if ('body' in outcome) outcome.body.dump();
  }
}

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

/**
 * Errors that mean the agency failed: it refused or dropped the connection, did not answer in
 * time, broke the protocol, or failed TLS. Only these count against its circuit breaker.
 * Anything else was raised here, before the agency was reached (a request undici refuses to
 * send, a pool closed by a reload): a client must never be able to open the breaker with it.
 */
const AGENCY_FAILURE = /^(E[A-Z]+|UND_ERR_(SOCKET|HEADERS_TIMEOUT|BODY_TIMEOUT|CONNECT_TIMEOUT|RES_[A-Z_]+)|HPE_[A-Z_]+|ERR_TLS_[A-Z_]+|ERR_SSL_[A-Z_]+|ERR_OSSL_[A-Z_]+|CERT_[A-Z_]+|UNABLE_TO_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH)$/;

export function isAgencyFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && AGENCY_FAILURE.test(code);
}

function failureProblem(err: unknown, route: RouteContext): Problem {
  const code = (err as { code?: string }).code ?? '';
  if (TIMEOUT_CODES.has(code)) {
    return problem(Errors.upstreamTimeout, `The agency behind ${route.id} did not answer within ${route.perTryTimeoutMs} ms.`);
  }
  if (!isAgencyFailure(err)) {
    return problem(Errors.internal, `The request to the agency behind ${route.id} could not be sent (${code || (err as Error).message}); the agency was not called.`);
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
 * The breaker hears every failure here; a success only once the caller has the whole answer
 * (an agency that breaks off mid-body has failed), so the caller reports it.
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
      outcome = answer;
      if (!RETRYABLE_STATUS.has(answer.status)) return outcome;
    } catch (err) {
      if (cancel.cancelled) throw err;
      if (!isAgencyFailure(err)) return failureProblem(err, route);
      provider.breaker.failure(performance.now());
      outcome = failureProblem(err, route);
    }
    const timeLeft = route.timeoutMs - (performance.now() - started) >= 1;
    if (attempt >= attempts || !timeLeft || !provider.budget.spend()) return outcome;
    if ('body' in outcome) outcome.body.dump();
  }
}

// The request pipeline. Each step is one small function; `handle` reads as the list of steps:
// match route -> authenticate -> authorize -> limits -> read and validate body -> forward ->
// privacy -> meter. A request keeps the runtime it started with, so a reload never changes a
// request in flight.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate, checkIdentity, credentialsInQuery } from './auth.ts';
import { readBody } from './body.ts';
import { CLIENT_GONE, Errors, problem, sendProblem, type Problem } from './errors.ts';
import { forward, upstreamPath, type UpstreamAnswer } from './forward.ts';
import { Cancellation, type BodySink } from './upstream.ts';
import { downstreamHeaders, upstreamHeaders, wellFormedRequestId } from './headers.ts';
import type { Metering, Transaction } from './metering.ts';
import { dropFields } from './privacy.ts';
import { pathProblem, splitPath } from './router.ts';
import { releaseProvider, type BindingContext, type RouteContext, type Runtime } from './runtime.ts';

const isProblem = (value: unknown): value is Problem => typeof value === 'object' && value !== null && 'kind' in value && 'detail' in value;

interface Matched {
  route: RouteContext;
  params: string[];
  query: string;
}

/** Step 1: the route for this method and path, or why there is none. */
function matchRoute(req: IncomingMessage, runtime: Runtime): Matched | Problem {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const why = pathProblem(rawPath);
  if (why !== null) return problem(Errors.pathInvalid, `The path is refused: ${why}.`);
  const segments = splitPath(rawPath);
  if (segments === null) return problem(Errors.pathInvalid, 'The path is refused: a segment is not valid percent-encoded UTF-8.');
  const params: string[] = [];
  const match = runtime.router.find(segments, params);
  if (match === null) return problem(Errors.routeNotFound, `No inquiry is published at ${rawPath} on this bus.`);
  const route = match.methods.get(req.method ?? 'GET');
  if (route === undefined) return problem(Errors.methodNotAllowed, `This inquiry accepts ${match.allow}.`, { allow: match.allow });
  if (query.length > 0 && credentialsInQuery(query)) {
    return problem(Errors.credentialsInQuery, 'Query strings end up in logs; send the API key in the x-api-key header.');
  }
  return { route, params, query };
}

/** Step 3: the binding was granted this route. */
function authorize(binding: BindingContext, route: RouteContext): Problem | null {
  if (binding.routes.has(route.id)) return null;
  return problem(Errors.routeNotGranted, `Client ${binding.clientId} (binding ${binding.id}) has not been granted ${route.id}.`);
}

/** Step 4: the client's rate limit and quota, then the breaker and protection toward the agency. */
function applyLimits(binding: BindingContext, route: RouteContext, mono: number, wall: number): Problem | null {
  if (binding.bucket !== null) {
    const wait = binding.bucket.take(mono);
    if (wait > 0) {
      const seconds = String(Math.max(1, Math.ceil(wait)));
      return problem(Errors.rateLimited, `Binding ${binding.id} allows ${binding.bucket.rate} requests per second (burst ${binding.bucket.burst}).`, {
        'retry-after': seconds,
        'ratelimit-limit': String(binding.bucket.rate),
        'ratelimit-remaining': '0',
        'ratelimit-reset': seconds,
      });
    }
  }
  if (binding.quota !== null) {
    const wait = binding.quota.take(wall);
    if (wait > 0) {
      return problem(Errors.quotaExhausted, `Binding ${binding.id} used its ${binding.quota.limit} requests for ${binding.quota.periodLabel()}.`, { 'retry-after': String(wait) });
    }
  }
  const provider = route.provider;
  const open = provider.breaker.allow(mono);
  if (open > 0) return problem(Errors.providerUnavailable, `Calls to ${provider.id} are paused after repeated failures.`, { 'retry-after': String(open) });
  const admitted = provider.guard.admit(mono);
  if (admitted !== 'ok') {
    const what = admitted === 'concurrency' ? `${provider.guard.maxConcurrent} calls in flight` : 'its calls per second';
    return problem(Errors.providerSaturated, `${provider.id} is protected at ${what}; try again shortly.`, { 'retry-after': '1' });
  }
  provider.calls++; // holds the provider's pool open across a reload until releaseProvider
  return null;
}

/** Step 5: the body against the route's schema, compiled when the snapshot loaded. */
function validateBody(route: RouteContext, body: Buffer | null): Problem | null {
  if (route.validate === null) return null;
  let document: unknown;
  try {
    document = body === null ? undefined : JSON.parse(body.toString('utf8'));
  } catch {
    return problem(Errors.requestInvalid, 'The body is not valid JSON.', null, { errors: [{ path: '', message: 'not JSON' }] });
  }
  if (document === undefined) return problem(Errors.requestInvalid, 'This inquiry needs a JSON body.', null, { errors: [{ path: '', message: 'missing body' }] });
  if (route.validate(document)) return null;
  const errors = (route.validate.errors ?? []).map((e) => ({ path: e.instancePath || '/', message: e.message ?? e.keyword }));
  return problem(Errors.requestInvalid, `The body does not match the schema of ${route.id}.`, null, { errors });
}

export interface PipelineOptions {
  metering: Metering;
}

export class Pipeline {
  #runtime: Runtime | null = null;
  #metering: Metering;
  #draining = false;
  /** requests whose response has not closed yet */
  inFlight = 0;
  /** requests whose transaction is not recorded yet: a request cut off at shutdown is recorded after its response closed */
  unrecorded = 0;

  constructor(options: PipelineOptions) {
    this.#metering = options.metering;
  }

  get runtime(): Runtime | null {
    return this.#runtime;
  }

  /** Swaps the runtime in one step; requests in flight keep theirs. */
  swap(runtime: Runtime): void {
    this.#runtime = runtime;
  }

  drain(): void {
    this.#draining = true;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.inFlight++;
    this.unrecorded++;
    res.once('close', this.#done);
    void this.#serve(req, res);
  };

  #done = (): void => {
    this.inFlight--;
  };

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startMono = performance.now();
    const runtime = this.#runtime;
    const incomingId = req.headers['x-request-id'];
    const tx: Transaction = {
      requestId: wellFormedRequestId(incomingId) ? incomingId : randomUUID(),
      client: '',
      binding: '',
      provider: '',
      route: '',
      method: req.method ?? '',
      status: 0,
      code: '',
      start: performance.timeOrigin + startMono,
      durationMs: 0,
      upstreamMs: -1,
      requestBytes: 0,
      responseBytes: 0,
      params: null,
    };
    if (this.#draining) res.setHeader('connection', 'close');
    try {
      if (runtime === null) return this.#refuse(res, tx, startMono, problem(Errors.notReady, 'No configuration snapshot has been loaded yet.'));
      // 1. route
      const matched = matchRoute(req, runtime);
      if (isProblem(matched)) return this.#refuse(res, tx, startMono, matched);
      const { route, params } = matched;
      tx.route = route.id;
      tx.provider = route.providerId;
      tx.params = loggableParams(route, params);
      // 2. authenticate
      const binding = authenticate(req, runtime);
      if (isProblem(binding)) return this.#refuse(res, tx, startMono, binding);
      tx.client = binding.clientId;
      tx.binding = binding.id;
      const identityProblem = checkIdentity(req, binding, Date.now());
      if (identityProblem !== null) return this.#refuse(res, tx, startMono, identityProblem);
      // 3. authorize
      const denied = authorize(binding, route);
      if (denied !== null) return this.#refuse(res, tx, startMono, denied);
      // 4. limits (on success the provider guard holds a slot until the call ends)
      const limited = applyLimits(binding, route, startMono, Date.now());
      if (limited !== null) return this.#refuse(res, tx, startMono, limited);
      try {
        await this.#call(req, res, tx, startMono, route, binding, matched);
      } finally {
        releaseProvider(route.provider);
      }
    } catch (err) {
      process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'request failed', requestId: tx.requestId, error: (err as Error).message })}\n`);
      if (!res.headersSent) this.#refuse(res, tx, startMono, problem(Errors.internal, 'The dataplane failed; the request id identifies the failure in its logs.'));
      else {
        res.destroy();
        this.#finish(tx, startMono, res.statusCode, Errors.internal.code);
      }
    }
  }

  /** Steps 5 to 8, once the request holds a slot toward the agency. */
  async #call(req: IncomingMessage, res: ServerResponse, tx: Transaction, startMono: number, route: RouteContext, binding: BindingContext, matched: Matched): Promise<void> {
    // 5. body
    const read = readBody(req, route.maxBodyBytes);
    const result = read instanceof Promise ? await read : read;
    if (!result.ok) {
      if (result.tooLarge) res.setHeader('connection', 'close');
      return this.#refuse(res, tx, startMono, problem(result.tooLarge ? Errors.bodyTooLarge : Errors.requestInvalid, result.message));
    }
    tx.requestBytes = result.body?.length ?? 0;
    const invalid = validateBody(route, result.body);
    if (invalid !== null) return this.#refuse(res, tx, startMono, invalid);

    // 6. forward; the client going away aborts the upstream call
    const cancel = new Cancellation();
    res.once('close', () => {
      if (!res.writableFinished) cancel.cancel();
    });
    const headers = upstreamHeaders(
      req.rawHeaders,
      { client: binding.clientId, binding: binding.id, route: route.id, requestId: tx.requestId, clientAddress: req.socket.remoteAddress ?? '' },
      tx.requestBytes,
      typeof req.headers['x-forwarded-for'] === 'string' ? req.headers['x-forwarded-for'] : undefined,
    );
    const upstreamStart = performance.now();
    let answer: UpstreamAnswer | Problem;
    try {
      answer = await forward(route, tx.method, upstreamPath(route, matched.params, matched.query), headers, result.body, cancel, startMono);
    } catch (err) {
      if (cancel.cancelled) return this.#finish(tx, startMono, 499, CLIENT_GONE);
      throw err;
    }
    tx.upstreamMs = performance.now() - upstreamStart;
    if (isProblem(answer)) return this.#refuse(res, tx, startMono, answer);
    // 7. privacy, 8. meter (when the response ends)
    if (route.dropFields.length > 0 && isJson(answer.headers['content-type'])) return this.#relayFiltered(res, tx, startMono, route, answer);
    this.#relay(res, tx, startMono, answer);
  }

  /** Streams the agency's answer unchanged (minus hop-by-hop headers). */
  #relay(res: ServerResponse, tx: Transaction, startMono: number, answer: UpstreamAnswer): void {
    const headers = downstreamHeaders(answer.headers, false);
    headers['x-request-id'] = tx.requestId;
    res.writeHead(answer.status, headers);
    answer.body.pipeTo(new Relay(res, answer, tx, startMono, this.#finish));
  }

  /** Buffers a JSON answer, drops the route's private fields, and sends the rest. */
  async #relayFiltered(res: ServerResponse, tx: Transaction, startMono: number, route: RouteContext, answer: UpstreamAnswer): Promise<void> {
    const text = await answer.body.text();
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      return this.#refuse(res, tx, startMono, problem(Errors.responseInvalid, `The agency's answer for ${route.id} claims JSON but is not; it is withheld because privacy rules apply.`));
    }
    dropFields(document, route.dropFields);
    const out = JSON.stringify(document);
    const headers = downstreamHeaders(answer.headers, true);
    headers['content-length'] = String(Buffer.byteLength(out));
    headers['x-request-id'] = tx.requestId;
    res.writeHead(answer.status, headers);
    res.end(out);
    tx.responseBytes = Buffer.byteLength(out);
    this.#finish(tx, startMono, answer.status, outcomeOf(answer.status));
  }

  #refuse(res: ServerResponse, tx: Transaction, startMono: number, p: Problem): void {
    tx.responseBytes = sendProblem(res, p, tx.requestId);
    this.#finish(tx, startMono, p.kind.status, p.kind.code);
  }

  #finish = (tx: Transaction, startMono: number, status: number, code: string): void => {
    this.unrecorded--;
    tx.status = status;
    tx.code = code;
    tx.durationMs = performance.now() - startMono;
    this.#metering.record(tx);
  };
}

type Finish = (tx: Transaction, startMono: number, status: number, code: string) => void;

/** Writes the agency's body into the client's response, with backpressure; meters when it ends. */
class Relay implements BodySink {
  #res: ServerResponse;
  #answer: UpstreamAnswer;
  #tx: Transaction;
  #startMono: number;
  #finish: Finish;
  #bytes = 0;

  constructor(res: ServerResponse, answer: UpstreamAnswer, tx: Transaction, startMono: number, finish: Finish) {
    this.#res = res;
    this.#answer = answer;
    this.#tx = tx;
    this.#startMono = startMono;
    this.#finish = finish;
  }

  data(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    if (this.#res.write(chunk)) return true;
    this.#res.once('drain', () => this.#answer.body.resume());
    return false;
  }

  end(): void {
    this.#res.end();
    this.#tx.responseBytes = this.#bytes;
    this.#finish(this.#tx, this.#startMono, this.#answer.status, outcomeOf(this.#answer.status));
  }

  error(): void {
    const res = this.#res;
    res.destroy();
    this.#tx.responseBytes = this.#bytes;
    const status = this.#answer.status;
    this.#finish(this.#tx, this.#startMono, res.writableFinished ? status : 499, res.writableFinished ? outcomeOf(status) : CLIENT_GONE);
  }
}

const outcomeOf = (status: number): string => (status >= 500 ? 'upstream_error' : 'ok');

function isJson(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && /[/+]json\b/i.test(contentType);
}

/** Path parameters for the audit record, without those the route marks never-to-log. */
function loggableParams(route: RouteContext, params: readonly string[]): Record<string, string> | null {
  if (params.length === 0) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < params.length; i++) out[route.paramNames[i] as string] = route.loggableParams[i] === true ? (params[i] as string) : '[redacted]';
  return out;
}

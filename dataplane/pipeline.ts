// The request pipeline. Each step is one small function; `#serve` reads as the list of steps:
// match route -> authenticate -> authorize -> client limits -> read and validate the body ->
// agency protection -> forward -> privacy -> meter. A request keeps the runtime it started
// with, so a reload never changes a request in flight.
//
// What a request holds is released in one place, `#finish`, which every transaction passes
// exactly once: the agency slot, the breaker's trial, the pool, and the quota of a request the
// agency never answered. So no path, however it ends, can leave an agency switched off.
import { createHash, hash, randomUUID, type Hash } from 'node:crypto';
import { EMPTY_BODY_HASH, pseudonym } from '../api/audit/index.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate, checkIdentity, credentialsInQuery } from './auth.ts';
import { hasBody, readBody } from './body.ts';
import { Deadlines, type Expiring } from './deadlines.ts';
import { CLIENT_GONE, Errors, problem, sendProblem, type Problem } from './errors.ts';
import { forward, upstreamPath, type UpstreamAnswer } from './forward.ts';
import { Cancellation, ClientGoneError, DeadlineError, TooLargeError, type BodySink } from './upstream.ts';
import { downstreamHeaders, upstreamHeaders, wellFormedRequestId } from './headers.ts';
import { jsonBodyProblem, jsonText } from './json-body.ts';
import type { Accounting } from './accounting.ts';
import type { Metering, Transaction } from './metering.ts';
import { decodeForFilter, filterAnswer, MAX_FILTERED_BYTES } from './privacy-relay.ts';
import { pathProblem, splitPath } from './router.ts';
import { catalogueBody, documentsFor, DOCUMENT_ROUTES, DOCUMENTS_PROVIDER, isDocumentPath, type DocumentPath } from './catalogue.ts';
import { CATALOGUE_PATH } from '../api/catalogue/index.ts';
import { beginCall, endCall, type BindingContext, type RouteContext, type Runtime } from './runtime.ts';

const isProblem = (value: unknown): value is Problem => typeof value === 'object' && value !== null && 'kind' in value && 'detail' in value;

/** Longest path-parameter value an audit record keeps; the rest is cut, so no client can grow the log at will. */
const MAX_LOGGED_PARAM = 256;
/**
 * Most sensitive body values (items.*.id) one audit record holds: about 40 KiB of pseudonyms.
 * Beyond it the record says how many were left out ("+N more"), so a lookup hidden behind decoys
 * shows; a route's schema should bound such arrays (maxItems).
 */
const MAX_FIELD_VALUES = 1024;
/** The request hash, to the client on every answer and to the agency with the call (X-Road's X-Road-Request-Hash is the precedent). */
export const REQUEST_HASH_HEADER = 'x-gozargah-request-hash';

interface Matched {
  route: RouteContext;
  params: string[];
  query: string;
}

/** One request on its way through the steps, and what it holds that `#finish` must release. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  tx: Transaction;
  startMono: number;
  /** the client sent Expect: 100-continue and has not been told to go on */
  expectContinue: boolean;
  route: RouteContext | null;
  /** the matched route's Deprecation and Sunset headers, on every answer once the route is known */
  deprecation: RouteContext['deprecationHeaders'];
  /** the provider's pool is held open for this request (beginCall) */
  holdsCall: boolean;
  /** a unit of the binding's quota is taken, to be given back unless the agency answers */
  quota: BindingContext['quota'];
  /** when the unit was taken (wall ms): it is settled in that period */
  quotaAt: number;
  /** the agency answered (a status line arrived): the quota stays charged */
  answered: boolean;
  /** the breaker trial this request holds, 0 when none */
  trial: number;
  /** holds one of the provider's maxConcurrent slots */
  holdsSlot: boolean;
  finished: boolean;
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
  const leak = queryProblem(query, runtime);
  if (leak !== null) return leak;
  return { route, params, query };
}

/** A query string (with its '?', or empty) that carries a credential is refused, never forwarded. */
function queryProblem(query: string, runtime: Runtime): Problem | null {
  if (query.length === 0 || !credentialsInQuery(query, runtime.byKeyHash)) return null;
  return problem(Errors.credentialsInQuery, 'Query strings end up in logs; send the API key in the x-api-key header.');
}

/** The bus document a request asks for (its path without the query), or null. */
function documentPathOf(url: string): DocumentPath | null {
  if (!url.startsWith('/.well-known/')) return null;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return isDocumentPath(path) ? path : null;
}

/** Step 3: the binding was granted this route. */
function authorize(binding: BindingContext, route: RouteContext): Problem | null {
  if (binding.routes.has(route.id)) return null;
  return problem(Errors.routeNotGranted, `Client ${binding.clientId} (binding ${binding.id}) has not been granted ${route.id}.`);
}

/** Step 4: the client's own limits, its rate and its quota. The quota taken is given back if the agency never answers. */
function clientLimits(ex: Exchange, binding: BindingContext, mono: number, wall: number): Problem | null | Promise<Problem | null> {
  const rate = takeRate(binding, mono);
  if (rate instanceof Promise) return rate.then((limited) => limited ?? takeQuota(ex, binding, wall));
  return rate ?? takeQuota(ex, binding, wall);
}

/** The client's rate limit alone: null when a token was taken (or there is no limit). */
function takeRate(binding: BindingContext, mono: number): Problem | null | Promise<Problem | null> {
  if (binding.bucket === null) return null;
  // A fleet's bucket may have to ask Redis first (once per chunk of tokens, not per request).
  const wait = binding.bucket.take(mono);
  if (wait instanceof Promise) return wait.then((w) => (w > 0 ? rateLimited(binding, w) : null));
  return wait > 0 ? rateLimited(binding, wait) : null;
}

function rateLimited(binding: BindingContext, wait: number): Problem {
  const bucket = binding.bucket as NonNullable<BindingContext['bucket']>;
  const seconds = String(Math.max(1, Math.ceil(wait)));
  return problem(Errors.rateLimited, `Binding ${binding.id} allows ${bucket.rate} requests per second (burst ${bucket.burst}).`, {
    'retry-after': seconds,
    'ratelimit-limit': String(bucket.rate),
    'ratelimit-remaining': '0',
    'ratelimit-reset': seconds,
  });
}

function takeQuota(ex: Exchange, binding: BindingContext, wall: number): Problem | null | Promise<Problem | null> {
  const quota = binding.quota;
  if (quota === null) return null;
  const wait = quota.take(wall);
  if (wait instanceof Promise) return wait.then((w) => quotaTaken(ex, binding, w, wall));
  return quotaTaken(ex, binding, wait, wall);
}

function quotaTaken(ex: Exchange, binding: BindingContext, wait: number, wall: number): Problem | null {
  const quota = binding.quota as NonNullable<BindingContext['quota']>;
  if (wait > 0) return problem(Errors.quotaExhausted, `Binding ${binding.id} used its ${quota.limit} requests for ${quota.periodLabel()}.`, { 'retry-after': String(wait) });
  ex.quota = quota;
  ex.quotaAt = wall;
  return null;
}

/**
 * Step 5b: the body against the route's schema, compiled when the snapshot loaded. The body
 * fields the route marks sensitive go to the audit record as pseudonyms, valid or not: a refused
 * lookup of an ID is a lookup too.
 */
function validateBody(route: RouteContext, body: Buffer | null, tx: Transaction, pseudonymKey: Buffer | null): Problem | null {
  if (route.validate === null) return null;
  let document: unknown;
  if (body !== null) {
    // Refused before parsing: what the schema would check differently from the agency's parser.
    const text = jsonText(body);
    if (text === null) return problem(Errors.requestInvalid, 'The body is not valid UTF-8.', null, { errors: [{ path: '', message: 'not UTF-8' }] });
    const ambiguous = jsonBodyProblem(text);
    if (ambiguous !== null) return problem(Errors.requestInvalid, ambiguous.message, null, { errors: [{ path: ambiguous.path, message: ambiguous.message }] });
    try {
      document = JSON.parse(text);
    } catch {
      return problem(Errors.requestInvalid, 'The body is not valid JSON.', null, { errors: [{ path: '', message: 'not JSON' }] });
    }
  }
  if (document === undefined) return problem(Errors.requestInvalid, 'This inquiry needs a JSON body.', null, { errors: [{ path: '', message: 'missing body' }] });
  if (pseudonymKey !== null && route.sensitiveFields.length > 0) tx.fields = sensitiveFields(route, document, pseudonymKey);
  if (route.validate(document)) return null;
  const errors = (route.validate.errors ?? []).map((e) => ({ path: e.instancePath || '/', message: e.message ?? e.keyword }));
  return problem(Errors.requestInvalid, `The body does not match the schema of ${route.id}.`, null, { errors });
}

/**
 * Step 6: the agency's protection, taken only now that the body is read and valid, so a client
 * trickling a body holds nothing toward the agency. In half-open, the request that passes holds
 * the breaker's trial.
 */
function agencyProtection(ex: Exchange, route: RouteContext, mono: number): Problem | null {
  const provider = route.provider;
  const breaker = provider.breaker;
  const open = breaker.allow(mono);
  if (open > 0) return problem(Errors.providerUnavailable, `Calls to ${provider.id} are paused after repeated failures.`, { 'retry-after': String(open) });
  if (breaker.state === 'half-open') ex.trial = breaker.trial;
  const admitted = provider.guard.admit(mono);
  if (admitted !== 'ok') {
    const what = admitted === 'concurrency' ? `${provider.guard.maxConcurrent} calls in flight` : 'its calls per second';
    return problem(Errors.providerSaturated, `${provider.id} is protected at ${what}; try again shortly.`, { 'retry-after': '1' });
  }
  ex.holdsSlot = true;
  return null;
}

export interface PipelineOptions {
  metering: Metering;
  accounting: Accounting;
  /** hash request and response bodies into the audit record (--audit-evidence=on) */
  evidence: boolean;
  /** sensitive values are recorded as HMACs under this key (--audit-pseudonym-key), else redacted */
  pseudonymKey: Buffer | null;
}

export class Pipeline {
  #runtime: Runtime | null = null;
  #metering: Metering;
  #accounting: Accounting;
  #pseudonymKey: Buffer | null;
  /** bodies are hashed for the audit record */
  readonly evidence: boolean;
  #deadlines = new Deadlines();
  #draining = false;
  /** set when the grace period is over and connections are being closed */
  #cutting = false;
  /** requests whose response has not closed yet */
  inFlight = 0;
  /** requests whose transaction is not recorded yet: a request cut off at shutdown is recorded after its response closed */
  unrecorded = 0;

  constructor(options: PipelineOptions) {
    this.#metering = options.metering;
    this.#accounting = options.accounting;
    this.evidence = options.evidence;
    this.#pseudonymKey = options.pseudonymKey;
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

  /** The grace period is over: requests cut from now on are recorded as cut_at_shutdown, not as their clients leaving. */
  cut(): void {
    this.#cutting = true;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => this.#begin(req, res, false);

  /**
   * Requests with `Expect: 100-continue` (curl adds it to larger POSTs): the client is told to
   * send its body only once the bus would read it (RFC 9110, 10.1.1); a refusal before that is
   * a final answer and the connection closes, since the client may or may not send the body.
   */
  handleContinue = (req: IncomingMessage, res: ServerResponse): void => this.#begin(req, res, true);

  #begin(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): void {
    this.inFlight++;
    this.unrecorded++;
    res.once('close', this.#done);
    void this.#serve(req, res, expectContinue);
  }

  #done = (): void => {
    this.inFlight--;
  };

  async #serve(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    const startMono = performance.now();
    const runtime = this.#runtime;
    const incomingId = req.headers['x-request-id'];
    const ex: Exchange = {
      req,
      res,
      tx: {
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
        fields: null,
        // A request without a body is known to be empty before anything is read.
        requestHash: this.evidence && !hasBody(req) ? EMPTY_BODY_HASH : null,
        responseHash: null,
      },
      startMono,
      expectContinue,
      route: null,
      deprecation: null,
      holdsCall: false,
      quota: null,
      quotaAt: 0,
      answered: false,
      trial: 0,
      holdsSlot: false,
      finished: false,
    };
    const tx = ex.tx;
    if (this.#draining) res.setHeader('connection', 'close');
    try {
      if (runtime === null) return this.#refuse(ex, problem(Errors.notReady, 'No configuration snapshot has been loaded yet.'));
      // --audit-unavailable=refuse: no call reaches an agency while its record could not be kept.
      if (!this.#metering.auditAvailable()) return this.#refuse(ex, problem(Errors.auditUnavailable, 'The audit log is failing or full; try again shortly.', { 'retry-after': '5' }));
      // 0. the bus's own documents for its clients
      const document = documentPathOf(req.url ?? '/');
      if (document !== null) return await this.#document(ex, runtime, document);
      // 1. route
      const matched = matchRoute(req, runtime);
      if (isProblem(matched)) return this.#refuse(ex, matched);
      const { route, params } = matched;
      tx.route = route.id;
      tx.provider = route.providerId;
      ex.deprecation = route.deprecationHeaders;
      // 2. authenticate; path parameters are recorded only for clients the bus knows
      const authenticated = authenticate(req, runtime);
      const binding = authenticated instanceof Promise ? await authenticated : authenticated;
      if (isProblem(binding)) return this.#refuse(ex, binding);
      tx.client = binding.clientId;
      tx.binding = binding.id;
      tx.params = loggableParams(route, params, this.#pseudonymKey);
      const wall = Date.now();
      const identityProblem = checkIdentity(req, binding, wall);
      if (identityProblem !== null) return this.#refuse(ex, identityProblem);
      if (wall >= route.sunsetAt) return this.#refuse(ex, sunsetProblem(route));
      // 3. authorize
      const denied = authorize(binding, route);
      if (denied !== null) return this.#refuse(ex, denied);
      // The pool stays open across a reload until this request ends (released in #finish).
      ex.route = route;
      beginCall(route.provider);
      ex.holdsCall = true;
      // 4. the client's rate limit and quota, the fleet's when Redis counts them
      if (!this.#accounting.available()) return this.#refuse(ex, problem(Errors.accountingUnavailable, "The fleet's accounting store is unreachable; try again shortly.", { 'retry-after': '5' }));
      const checked = clientLimits(ex, binding, startMono, Date.now());
      const limited = checked instanceof Promise ? await checked : checked;
      if (limited !== null) return this.#refuse(ex, limited);
      // 5. body, read and validated before anything is taken from the agency's protection
      if (ex.expectContinue && hasBody(req)) {
        res.writeContinue();
        ex.expectContinue = false;
      }
      const read = readBody(req, route.maxBodyBytes, this.#deadlines);
      const body = read instanceof Promise ? await read : read;
      if (body.kind === 'gone') return this.#finish(ex, 499, CLIENT_GONE);
      if (body.kind !== 'ok') {
        res.setHeader('connection', 'close');
        return this.#refuse(ex, problem(bodyErrors[body.kind], body.message));
      }
      tx.requestBytes = body.body?.length ?? 0;
      if (this.evidence && body.body !== null) tx.requestHash = hash('sha256', body.body);
      const invalid = validateBody(route, body.body, tx, this.#pseudonymKey);
      if (invalid !== null) return this.#refuse(ex, invalid);
      // 6. the agency's protection: breaker, then calls in flight and per second
      const protectedBy = agencyProtection(ex, route, performance.now());
      if (protectedBy !== null) return this.#refuse(ex, protectedBy);
      // 7. forward, then 8. privacy and 9. meter as the answer ends
      await this.#call(ex, route, binding, matched, body.body);
    } catch (err) {
      process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'request failed', requestId: tx.requestId, error: (err as Error).message })}\n`);
      if (ex.finished) return;
      if (!res.headersSent) this.#refuse(ex, problem(Errors.internal, 'The dataplane failed; the request id identifies the failure in its logs.'));
      else {
        res.destroy();
        this.#finish(ex, res.statusCode, Errors.internal.code);
      }
    }
  }

  /**
   * The catalogue or the OpenAPI document, for an authenticated client within its validity and
   * rate limit: a client polling them spends its rate, never its quota, and never reaches an agency.
   */
  async #document(ex: Exchange, runtime: Runtime, path: DocumentPath): Promise<void> {
    const { req, res, tx } = ex;
    tx.route = DOCUMENT_ROUTES[path];
    tx.provider = DOCUMENTS_PROVIDER;
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.#refuse(ex, problem(Errors.methodNotAllowed, 'This document accepts GET, HEAD.', { allow: 'GET, HEAD' }));
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const leak = queryProblem(q < 0 ? '' : url.slice(q), runtime);
    if (leak !== null) return this.#refuse(ex, leak);
    const authenticated = authenticate(req, runtime);
    const binding = authenticated instanceof Promise ? await authenticated : authenticated;
    if (isProblem(binding)) return this.#refuse(ex, binding);
    tx.client = binding.clientId;
    tx.binding = binding.id;
    const wall = Date.now();
    const identityProblem = checkIdentity(req, binding, wall);
    if (identityProblem !== null) return this.#refuse(ex, identityProblem);
    const rate = takeRate(binding, ex.startMono);
    const limited = rate instanceof Promise ? await rate : rate;
    if (limited !== null) return this.#refuse(ex, limited);
    const documents = documentsFor(runtime, binding, wall);
    const headers: Record<string, string | string[]> = { 'content-type': 'application/json', 'x-request-id': tx.requestId };
    let body: Buffer;
    if (path === CATALOGUE_PATH) {
      body = catalogueBody(documents, binding, wall);
      headers['cache-control'] = 'no-store';
    } else {
      body = documents.openapi;
      headers.etag = documents.etag;
      headers['cache-control'] = 'private, no-cache';
      if (req.headers['if-none-match'] === documents.etag) {
        res.writeHead(304, headers);
        res.end();
        return this.#finish(ex, 304, 'ok');
      }
    }
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    tx.responseBytes = req.method === 'HEAD' ? 0 : body.length;
    if (this.evidence) tx.responseHash = req.method === 'HEAD' ? EMPTY_BODY_HASH : hash('sha256', body);
    this.#finish(ex, 200, 'ok');
  }

  /** Steps 7 to 9, once the request holds a slot toward the agency. */
  async #call(ex: Exchange, route: RouteContext, binding: BindingContext, matched: Matched, body: Buffer | null): Promise<void> {
    const { req, res, tx } = ex;
    // The client going away aborts the upstream call.
    const cancel = new Cancellation();
    res.once('close', () => {
      if (!res.writableFinished) cancel.cancel();
    });
    const headers = upstreamHeaders(
      req.rawHeaders,
      { client: binding.clientId, binding: binding.id, route: route.id, requestId: tx.requestId, clientAddress: req.socket.remoteAddress ?? '' },
      tx.requestBytes,
      route.dropFields.length > 0, // an encoded answer cannot be filtered: ask for it plain
    );
    if (tx.requestHash !== null) headers.push(REQUEST_HASH_HEADER, tx.requestHash);
    const upstreamStart = performance.now();
    let answer: UpstreamAnswer | Problem;
    try {
      answer = await forward(route, tx.method, upstreamPath(route, matched.params, matched.query), headers, body, cancel, ex.startMono);
    } catch (err) {
      if (cancel.cancelled) return this.#finish(ex, 499, CLIENT_GONE);
      throw err;
    }
    tx.upstreamMs = performance.now() - upstreamStart;
    if (isProblem(answer)) return this.#refuse(ex, answer);
    ex.answered = true;
    // The route's timeout bounds the whole answer, body included, not only its head.
    const deadline = new AnswerDeadline(answer, ex.startMono + route.timeoutMs, route.timeoutMs);
    this.#deadlines.add(deadline);
    try {
      if (route.dropFields.length > 0) await this.#relayFiltered(ex, route, answer);
      else await this.#relay(ex, answer);
    } finally {
      this.#deadlines.delete(deadline);
    }
  }

  /**
   * Streams the agency's answer unchanged (minus hop-by-hop headers); resolves when it has ended.
   * The head goes out with the first byte of the body, so an answer that breaks before any byte
   * can still be answered with a problem instead of a cut connection.
   */
  #relay(ex: Exchange, answer: UpstreamAnswer): Promise<void> {
    // A 204 or 304 never has a body; a Content-Length on it only trips clients that hold it to one.
    const headers = downstreamHeaders(answer.headers, answer.status === 204 || answer.status === 304);
    stampAnswer(headers, ex);
    return new Promise((resolve) => answer.body.pipeTo(new Relay(ex, answer, headers, this, resolve, this.evidence)));
  }

  /** For Relay: the answer broke off; `started` says whether any of it reached the client. */
  relayBroken(ex: Exchange, err: Error, started: boolean): void {
    const route = ex.route as RouteContext;
    if (!started) return this.#answerBroken(ex, route, err);
    // Part of the answer is out: the client's response is cut, so it cannot take a partial
    // answer for a whole one, and the record says whose failure it was.
    ex.res.destroy();
    if (err instanceof ClientGoneError) return this.#finish(ex, 499, CLIENT_GONE);
    route.provider.breaker.failure(performance.now());
    const kind = isTimeout(err) ? Errors.upstreamTimeout : Errors.upstreamBroken;
    this.#finish(ex, kind.status, kind.code);
  }

  /**
   * Privacy rules apply: the whole answer is buffered (bounded), decoded, parsed and filtered
   * whatever its Content-Type claims. What cannot be filtered is refused, never passed through.
   */
  async #relayFiltered(ex: Exchange, route: RouteContext, answer: UpstreamAnswer): Promise<void> {
    let raw: Buffer;
    try {
      raw = await answer.body.collect(MAX_FILTERED_BYTES);
    } catch (err) {
      if (!bodiless(answer.status, err as Error)) return this.#answerBroken(ex, route, err as Error);
      raw = Buffer.alloc(0);
    }
    const decoded = decodeForFilter(raw, answer.headers['content-encoding']);
    if (typeof decoded === 'string') return this.#withhold(ex, answer, `The agency's answer for ${route.id} ${decoded}; it is withheld because privacy rules apply.`);
    const filtered = filterAnswer(decoded, route.dropFields);
    if (filtered === null) return this.#withhold(ex, answer, `The agency's answer for ${route.id} is not JSON; it is withheld because privacy rules apply to it.`);
    const headers = downstreamHeaders(answer.headers, true);
    delete headers['content-encoding'];
    headers['content-length'] = String(filtered.length);
    stampAnswer(headers, ex);
    ex.res.writeHead(answer.status, headers);
    ex.res.end(filtered);
    ex.tx.responseBytes = filtered.length;
    if (this.evidence) ex.tx.responseHash = ex.tx.method === 'HEAD' ? EMPTY_BODY_HASH : hash('sha256', filtered);
    this.verdict(ex, answer.status);
    this.#finish(ex, answer.status, outcomeOf(answer.status));
  }

  /** The agency's answer could not be had whole: say why, and count it against the agency when it failed. */
  #answerBroken(ex: Exchange, route: RouteContext, err: Error): void {
    if (err instanceof ClientGoneError) return this.#finish(ex, 499, CLIENT_GONE);
    if (err instanceof TooLargeError) {
      return this.#refuse(ex, problem(Errors.responseTooLarge, `The agency's answer for ${route.id} exceeds ${MAX_FILTERED_BYTES} bytes, the most the bus filters; it is withheld because privacy rules apply.`));
    }
    route.provider.breaker.failure(performance.now());
    if (isTimeout(err)) return this.#refuse(ex, problem(Errors.upstreamTimeout, `The agency behind ${route.id} did not finish its answer within ${route.timeoutMs} ms.`));
    return this.#refuse(ex, problem(Errors.upstreamBroken, `The agency behind ${route.id} broke off its answer (${(err as { code?: string }).code ?? err.message}).`));
  }

  /** A whole answer that privacy rules cannot be applied to: the agency answered, the client gets 502. */
  #withhold(ex: Exchange, answer: UpstreamAnswer, detail: string): void {
    this.verdict(ex, answer.status);
    this.#refuse(ex, problem(Errors.responseInvalid, detail));
  }

  /** The agency gave a whole answer: below 500 it counts as a success (a 5xx was counted as a failure when it arrived). */
  verdict(ex: Exchange, status: number): void {
    if (status < 500 && ex.route !== null) ex.route.provider.breaker.success();
  }

  #refuse(ex: Exchange, p: Problem): void {
    const { res, tx } = ex;
    if (!res.headersSent) {
      if (ex.expectContinue) res.setHeader('connection', 'close');
      if (tx.requestHash !== null) res.setHeader(REQUEST_HASH_HEADER, tx.requestHash);
      if (ex.deprecation !== null) for (const name in ex.deprecation) res.setHeader(name, ex.deprecation[name] as string);
    }
    const body = sendProblem(res, p, tx.requestId);
    tx.responseBytes = body.length;
    // Node sends no body in answer to HEAD.
    if (this.evidence) tx.responseHash = tx.method === 'HEAD' ? EMPTY_BODY_HASH : hash('sha256', body);
    this.#finish(ex, p.kind.status, p.kind.code);
  }

  /** Records the transaction and releases everything the request held. Runs once per request. */
  #finish(ex: Exchange, status: number, code: string): void {
    if (ex.finished) return;
    ex.finished = true;
    const route = ex.route;
    if (route !== null) {
      const provider = route.provider;
      if (ex.trial !== 0) provider.breaker.abandon(ex.trial); // a no-op once the agency gave its verdict
      if (ex.holdsSlot) provider.guard.release();
      if (ex.holdsCall) endCall(provider);
    }
    if (ex.quota !== null) ex.quota.settle(ex.answered, ex.quotaAt);
    this.unrecorded--;
    const tx = ex.tx;
    const cut = code === CLIENT_GONE && this.#cutting;
    tx.status = cut ? Errors.cutAtShutdown.status : status;
    tx.code = cut ? Errors.cutAtShutdown.code : code;
    tx.durationMs = performance.now() - ex.startMono;
    this.#metering.record(tx);
  }

  /** For Relay: the streamed answer ended one way or another. */
  end(ex: Exchange, status: number, code: string): void {
    this.#finish(ex, status, code);
  }
}

const bodyErrors = { too_large: Errors.bodyTooLarge, timeout: Errors.bodyTimeout, failed: Errors.requestInvalid } as const;

/** Aborts an answer still arriving when the route's deadline passes. */
class AnswerDeadline implements Expiring {
  deadline: number;
  #answer: UpstreamAnswer;
  #ms: number;

  constructor(answer: UpstreamAnswer, deadline: number, ms: number) {
    this.#answer = answer;
    this.deadline = deadline;
    this.#ms = ms;
  }

  expire(): void {
    this.#answer.body.abort(new DeadlineError(this.#ms));
  }
}

/** Writes the agency's body into the client's response, with backpressure; meters when it ends. */
class Relay implements BodySink {
  #ex: Exchange;
  #answer: UpstreamAnswer;
  #headers: Record<string, string | string[]>;
  #pipeline: Pipeline;
  #done: () => void;
  #started = false;
  #bytes = 0;
  /** the response is hashed, over the bytes as they go to the client */
  #hashing: boolean;
  /** the only chunk so far: most answers come in one, hashed in one call at the end */
  #first: Buffer | null = null;
  /** from the second chunk on */
  #hash: Hash | null = null;

  constructor(ex: Exchange, answer: UpstreamAnswer, headers: Record<string, string | string[]>, pipeline: Pipeline, done: () => void, hashing: boolean) {
    this.#ex = ex;
    this.#answer = answer;
    this.#headers = headers;
    this.#pipeline = pipeline;
    this.#done = done;
    this.#hashing = hashing;
  }

  #update(chunk: Buffer): void {
    if (this.#hash !== null) this.#hash.update(chunk);
    else if (this.#first === null) this.#first = chunk;
    else {
      this.#hash = createHash('sha256').update(this.#first).update(chunk);
      this.#first = null;
    }
  }

  /** SHA-256 of the bytes sent so far. */
  #digest(): string {
    if (this.#hash !== null) return this.#hash.digest('hex');
    return this.#first === null ? EMPTY_BODY_HASH : hash('sha256', this.#first);
  }

  #start(): void {
    this.#started = true;
    this.#ex.res.writeHead(this.#answer.status, this.#headers);
  }

  data(chunk: Buffer): boolean {
    if (!this.#started) this.#start();
    this.#bytes += chunk.length;
    if (this.#hashing) this.#update(chunk);
    if (this.#ex.res.write(chunk)) return true;
    this.#ex.res.once('drain', () => this.#answer.body.resume());
    return false;
  }

  end(): void {
    if (!this.#started) this.#start();
    this.#ex.res.end();
    this.#ex.tx.responseBytes = this.#bytes;
    if (this.#hashing) this.#ex.tx.responseHash = this.#digest();
    const status = this.#answer.status;
    this.#pipeline.verdict(this.#ex, status);
    this.#pipeline.end(this.#ex, status, outcomeOf(status));
    this.#done();
  }

  error(err: Error): void {
    // undici holds a 204 or 304 to its Content-Length, which RFC 9110 (8.6) lets such an answer carry without a body.
    if (this.#bytes === 0 && bodiless(this.#answer.status, err)) return this.end();
    this.#ex.tx.responseBytes = this.#bytes;
    // What reached the client before the cut, when anything did.
    if (this.#hashing && this.#started) this.#ex.tx.responseHash = this.#digest();
    this.#pipeline.relayBroken(this.#ex, err, this.#started);
    this.#done();
  }
}

/** What the bus adds to every agency answer it relays: the request id, and the request hash once the body was read. */
function stampAnswer(headers: Record<string, string | string[]>, ex: Exchange): void {
  headers['x-request-id'] = ex.tx.requestId;
  if (ex.tx.requestHash !== null) headers[REQUEST_HASH_HEADER] = ex.tx.requestHash;
  if (ex.deprecation !== null) Object.assign(headers, ex.deprecation);
}

/** A route past its sunset: gone, and said so with the date and where to read about it. */
function sunsetProblem(route: RouteContext): Problem {
  const link = route.deprecationHeaders?.link;
  return problem(
    Errors.routeSunset,
    `${route.id} was retired on ${new Date(route.sunsetAt).toISOString()}${link === undefined ? '' : `; see ${link.slice(1, link.indexOf('>'))}`}.`,
  );
}

/** An answer that never has a body, whose declared Content-Length undici took for a promise of one. */
const bodiless = (status: number, err: Error): boolean => (status === 204 || status === 304) && (err as { code?: string }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH';

const outcomeOf = (status: number): string => (status >= 500 ? 'upstream_error' : 'ok');

/** The answer stalled: the route's deadline passed, or undici saw no byte for the per-try timeout. */
const isTimeout = (err: Error): boolean => err instanceof DeadlineError || (err as { code?: string }).code === 'UND_ERR_BODY_TIMEOUT';

/**
 * Path parameters for the audit record, each cut to MAX_LOGGED_PARAM; those the route marks
 * never-to-log are pseudonyms (of the whole value) with a pseudonym key, else redacted.
 */
function loggableParams(route: RouteContext, params: readonly string[], pseudonymKey: Buffer | null): Record<string, string> | null {
  if (params.length === 0) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < params.length; i++) {
    const value = params[i] as string;
    out[route.paramNames[i] as string] =
      route.loggableParams[i] !== true
        ? pseudonymKey === null ? '[redacted]' : pseudonym(pseudonymKey, value)
        : value.length > MAX_LOGGED_PARAM ? `${value.slice(0, MAX_LOGGED_PARAM)}…` : value;
  }
  return out;
}

/** The route's sensitive body fields found in the document, as pseudonyms; null when none is there. */
function sensitiveFields(route: RouteContext, document: unknown, key: Buffer): Record<string, string[]> | null {
  let out: Record<string, string[]> | null = null;
  const found: Found = { values: [], more: 0, room: MAX_FIELD_VALUES };
  for (const field of route.sensitiveFields) {
    found.values = [];
    found.more = 0;
    collectValues(document, field.path, 0, found);
    if (found.values.length === 0) continue;
    out ??= {};
    const pseudonyms = found.values.map((v) => pseudonym(key, v));
    if (found.more > 0) pseudonyms.push(`+${found.more} more`);
    out[field.name] = pseudonyms;
  }
  return out;
}

interface Found {
  values: string[];
  /** values of this field left out */
  more: number;
  /** values the record may still take, all fields together */
  room: number;
}

/** The scalar values at a field path (`*` any child; a path through an array applies to each element); past the record's room, only counted. */
function collectValues(value: unknown, path: readonly string[], i: number, found: Found): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value) && path[i] !== '*') {
    for (const child of value) collectValues(child, path, i, found);
    return;
  }
  if (i === path.length) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return;
    if (found.room === 0) found.more++;
    else {
      found.room--;
      found.values.push(typeof value === 'string' ? value : JSON.stringify(value));
    }
    return;
  }
  if (typeof value !== 'object') return;
  const key = path[i] as string;
  if (key === '*') {
    for (const child of Array.isArray(value) ? value : Object.values(value)) collectValues(child, path, i + 1, found);
    return;
  }
  if (Object.hasOwn(value, key)) collectValues((value as Record<string, unknown>)[key], path, i + 1, found);
}

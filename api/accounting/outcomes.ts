// The three outcomes the bus publishes, from the bus's own codes (dataplane/errors.ts).
export type Outcome = 'served' | 'refused' | 'agency_error';

/**
 * The provider the bus's own documents (its catalogue and OpenAPI, answered to a client without
 * an agency) are recorded under: in audit records and metrics, but never an inquiry in a report.
 */
export const BUS_DOCUMENTS_PROVIDER = 'gozargah';

/** The agency failed: it answered 5xx, timed out, was unreachable, or broke or oversized its answer. */
const AGENCY_ERRORS: ReadonlySet<string> = new Set([
  'upstream_error',
  'upstream_timeout',
  'upstream_unavailable',
  'upstream_broken',
  'response_invalid',
  'response_too_large',
]);

/**
 * served: the agency answered below 500 (`ok`). agency_error: the agency failed. refused:
 * everything else, the calls the bus did not deliver for its own reasons (each code says which:
 * a refusal by policy, the client leaving, the bus's own failure).
 */
export function outcomeOf(code: string): Outcome {
  if (code === 'ok') return 'served';
  return AGENCY_ERRORS.has(code) ? 'agency_error' : 'refused';
}

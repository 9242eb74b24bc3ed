// How a route's request/response JSON Schema is compiled. Shared so that the compiler refuses
// exactly the schemas the dataplane could not compile.
//
// Patterns (`pattern`, `patternProperties`) come from the people who write routes and run on
// bodies sent by clients, on the thread that serves every request: they are compiled with RE2
// (re2js, linear time in the input), never with JavaScript's backtracking RegExp, so '^(a+)+$'
// cannot stall the event loop. What RE2 cannot compile (backreferences, lookaround) is refused.
import { Ajv, type ValidateFunction } from 'ajv';
import { addFormats } from '../ajv-formats.ts';
import { re2 } from '../re2.ts';

export { UnsupportedPatternError } from '../re2.ts';

const OPTIONS = { allErrors: true, strict: false, coerceTypes: false, code: { regExp: re2 } } as const;

/** Checks schemas against the meta-schema; compiles none, so it holds no route's `$id`. */
let metaAjv: Ajv | null = null;

/**
 * A fresh ajv for one schema; `strict: false` tolerates annotations such as `example`. One per
 * schema, never one per snapshot: two routes whose schemas share an `$id` would otherwise make
 * the second fail to compile in one place and not in the other. The meta-schema check, the
 * costly part, is done once by a shared instance.
 */
export function newRouteSchemaAjv(): Ajv {
  const ajv = new Ajv({ ...OPTIONS, validateSchema: false });
  addFormats(ajv);
  return ajv;
}

/** Compiles a schema on its own ajv, or returns why it cannot be. */
export function compileRouteSchema(schema: Record<string, unknown>): ValidateFunction | string {
  try {
    if (metaAjv === null) {
      metaAjv = new Ajv(OPTIONS);
      addFormats(metaAjv);
    }
    if (!metaAjv.validateSchema(schema)) return `schema is invalid: ${metaAjv.errorsText(metaAjv.errors)}`;
    return newRouteSchemaAjv().compile(schema);
  } catch (err) {
    return (err as Error).message;
  }
}

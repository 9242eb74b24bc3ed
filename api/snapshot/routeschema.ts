// How a route's request/response JSON Schema is compiled. Shared so that the compiler refuses
// exactly the schemas the dataplane could not compile.
import { Ajv, type ValidateFunction } from 'ajv';
import { addFormats } from '../ajv-formats.ts';


/** A fresh ajv for one snapshot's route schemas; `strict: false` tolerates annotations such as `example`. */
export function newRouteSchemaAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: false });
  addFormats(ajv);
  return ajv;
}

/** Compiles a schema or returns why it cannot be. */
export function compileRouteSchema(ajv: Ajv, schema: Record<string, unknown>): ValidateFunction | string {
  try {
    return ajv.compile(schema);
  } catch (err) {
    return (err as Error).message;
  }
}

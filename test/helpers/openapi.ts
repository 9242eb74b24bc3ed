// Checks an OpenAPI document with a maintained validator against the official OpenAPI 3.1
// schema (@seriousme/openapi-schema-validator): what a client's code generator would reject.
import { Validator } from '@seriousme/openapi-schema-validator';

/** The validator's complaints; empty when the document is a valid OpenAPI 3.1 document. */
export async function openApiProblems(document: unknown): Promise<string[]> {
  const validator = new Validator();
  const result = await validator.validate(document as Parameters<Validator["validate"]>[0]);
  if (validator.version !== '3.1') return [`not an OpenAPI 3.1 document (version ${String(validator.version)})`];
  if (result.valid) return [];
  return Array.isArray(result.errors) ? result.errors.map((e) => JSON.stringify(e)) : [String(result.errors)];
}

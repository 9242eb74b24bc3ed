// Runtime validation of the three kinds with ajv: the same schema the CRDs carry, the same
// defaults the apiserver applies, and the CEL rules through their declared predicates.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { addFormats } from '../ajv-formats.ts';
import { re2 } from '../re2.ts';
import { predicateFor, type CelRule } from './cel.ts';
import { KINDS } from './kinds.ts';


export interface SchemaError {
  /** JSON pointer-ish dotted path, e.g. spec.rateLimit.burst */
  path: string;
  message: string;
}

/**
 * A predicate reads fields its object's schema requires, and throws on an object missing one or
 * holding the wrong type. That object already fails its schema, which says why; like the
 * apiserver, which skips CEL rules after such errors, the rule is then not reported.
 */
function ruleFails(check: (self: unknown) => boolean, data: unknown): boolean {
  try {
    return !check(data);
  } catch {
    return false;
  }
}

function newAjv(): Ajv {
  // RE2 for the schema's patterns: linear time whatever a manifest holds (the apiserver uses RE2 too).
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false, verbose: true, code: { regExp: re2 } });
  addFormats(ajv, ['date-time', 'uri']);
  ajv.addKeyword({ keyword: 'x-kubernetes-list-type', schemaType: 'string' });
  ajv.addKeyword({ keyword: 'x-kubernetes-list-map-keys', schemaType: 'array' });
  ajv.addKeyword({ keyword: 'x-kubernetes-preserve-unknown-fields', schemaType: 'boolean' });
  ajv.addKeyword({
    keyword: 'x-kubernetes-validations',
    schemaType: 'array',
    errors: true,
    validate: function celRules(rules: CelRule[], data: unknown): boolean {
      const failed: Partial<ErrorObject>[] = [];
      for (const { rule, message } of rules) {
        const check = predicateFor(rule);
        if (check === undefined) throw new Error(`no predicate declared for CEL rule ${rule}`);
        if (ruleFails(check, data)) failed.push({ keyword: 'x-kubernetes-validations', message, params: { rule } });
      }
      (celRules as unknown as { errors: Partial<ErrorObject>[] }).errors = failed;
      return failed.length === 0;
    },
  });
  return ajv;
}

const ajv = newAjv();
const validators = new Map<string, ValidateFunction>(KINDS.map((k) => [k.kind, ajv.compile(k.schema)]));

function pathOf(error: ErrorObject): string {
  const base = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    return base === '' ? extra : `${base}.${extra}`;
  }
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return base === '' ? missing : `${base}.${missing}`;
  }
  return base === '' ? '<root>' : base;
}

function messageOf(error: ErrorObject): string {
  switch (error.keyword) {
    case 'additionalProperties':
      return 'unknown field';
    case 'required':
      return 'required field is missing';
    case 'enum':
      return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    default:
      return error.message ?? error.keyword;
  }
}

/**
 * Validates one object of a known kind, applying schema defaults in place (as the apiserver
 * does). Returns the errors, empty when valid.
 */
export function validateObject(obj: { kind?: unknown }): SchemaError[] {
  const validate = typeof obj.kind === 'string' ? validators.get(obj.kind) : undefined;
  if (validate === undefined) return [{ path: 'kind', message: `unknown kind ${String(obj.kind)}` }];
  if (validate(obj)) return [];
  const seen = new Set<string>();
  const errors: SchemaError[] = [];
  for (const error of validate.errors ?? []) {
    // A union of literals reports one error per branch; keep the enum-like summary only.
    if (error.keyword === 'const') continue;
    if (error.keyword === 'anyOf') {
      const branches = error.schema as { const?: unknown }[];
      const allowed = branches.map((b) => b.const).filter((v) => v !== undefined);
      const message = allowed.length === branches.length ? `must be one of ${allowed.join(', ')}` : 'matches none of the allowed forms';
      errors.push({ path: pathOf(error), message });
      continue;
    }
    const e = { path: pathOf(error), message: messageOf(error) };
    const key = `${e.path}|${e.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      errors.push(e);
    }
  }
  return errors;
}

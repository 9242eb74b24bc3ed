// A linear-time regular expression engine for ajv (`code: { regExp }`): re2js, a pure
// JavaScript port of RE2. Patterns that come from users (route schemas) or that run on what
// users write (the CRD patterns the compiler checks) never backtrack, so no input can stall
// the event loop. RE2 has no backreferences and no lookaround; such a pattern does not compile.
import { RE2JS } from 're2js';

/** A pattern RE2 refused; the message says which and why. */
export class UnsupportedPatternError extends Error {}

/** ajv's RegExpEngine: (pattern, flags) -> { test }, with a `code` name for generated code. */
export function re2(pattern: string, _flags: string): { test(s: string): boolean; toString(): string } {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (err) {
    throw new UnsupportedPatternError(
      `pattern ${JSON.stringify(pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern)} does not compile on the linear-time engine patterns run on (RE2, which has no backreferences or lookaround): ${(err as Error).message}`,
    );
  }
  // ajv keys compiled patterns by toString(): each must name its own pattern.
  return { test: (s: string) => compiled.test(s), toString: () => `re2:${pattern}` };
}
re2.code = 're2';

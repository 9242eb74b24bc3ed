// Path templates: `/civil-registry/v1/persons/{nationalId}`. Shared by the schema rules,
// the compiler and the dataplane's router so that all three read a template the same way.

/** One literal segment or one `{param}`; `.`/`..` are refused separately. */
export const SEGMENT = '([A-Za-z0-9._~!$&\'()*+,;=:@-]+|\\{[A-Za-z][A-Za-z0-9_]*\\})';
export const PATH_TEMPLATE_PATTERN = `^(/${SEGMENT})+$`;
/** The CEL-side regular expression finding parameters (RE2 syntax). */
export const PARAM_CEL_REGEX = '\\\\{[A-Za-z][A-Za-z0-9_]*\\\\}';

const PARAM = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;

/** Parameter names in order of appearance, duplicates included. */
export function templateParams(template: string): string[] {
  return Array.from(template.matchAll(PARAM), (m) => m[1] as string);
}

/** The template with parameter names erased: two templates with the same shape match the same paths. */
export function templateShape(template: string): string {
  return template.replace(PARAM, '{}');
}

export function hasDotSegment(path: string): boolean {
  return /\/\.\.?(\/|$)/.test(path);
}

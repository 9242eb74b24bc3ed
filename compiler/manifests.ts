// YAML/JSON manifest text to objects, each tagged with where it came from. Pure: the callers
// (CLI, dataplane standalone mode) read the files.
import { parseAllDocuments } from 'yaml';

export interface ManifestFile {
  name: string;
  text: string;
}

export interface ManifestObject {
  file: string;
  /** 1-based document number inside the file */
  document: number;
  object: Record<string, unknown>;
}

export interface ManifestError {
  file: string;
  document: number;
  message: string;
}

export interface ParsedManifests {
  objects: ManifestObject[];
  errors: ManifestError[];
}

const KNOWN_KINDS = new Set(['gozargah.io/v1alpha1 ServiceProvider', 'gozargah.io/v1alpha1 InquiryRoute', 'gozargah.io/v1alpha1 ClientBinding', 'v1 Secret', 'v1 Namespace']);

export function isKnownKind(obj: Record<string, unknown>): boolean {
  return KNOWN_KINDS.has(`${String(obj['apiVersion'])} ${String(obj['kind'])}`);
}

const GOZARGAH_KINDS = ['ServiceProvider', 'InquiryRoute', 'ClientBinding'];

/** Edit distance, for "did you mean": kinds are short, so the quadratic table is nothing. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next.push(Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length] as number;
}

/**
 * An object that was surely meant for Gozargah but is not one of its kinds: a gozargah.io
 * apiVersion with an unknown kind or version, or a kind a letter or two from one of ours. Such
 * an object would otherwise be skipped in silence, and a typo pass as "all accepted". Null for
 * what is simply not Gozargah's (a Deployment, a ConfigMap).
 */
export function kindMistake(obj: Record<string, unknown>): string | null {
  if (isKnownKind(obj)) return null;
  const apiVersion = String(obj['apiVersion']);
  const kind = String(obj['kind']);
  const near = GOZARGAH_KINDS.find((k) => distance(k.toLowerCase(), kind.toLowerCase()) <= 2);
  if (!apiVersion.startsWith('gozargah.io/') && near === undefined) return null;
  const meant = near ?? GOZARGAH_KINDS.find((k) => k === kind);
  const hint = meant === undefined ? `Gozargah's kinds are ${GOZARGAH_KINDS.join(', ')} (gozargah.io/v1alpha1)` : `did you mean apiVersion gozargah.io/v1alpha1, kind ${meant}?`;
  return `apiVersion ${apiVersion}, kind ${kind} is not a Gozargah kind: ${hint}`;
}

/**
 * Deeper than any manifest needs (a JSON Schema in a route included): the YAML parser recurses
 * per level, and 100,000 levels would block for seconds before overflowing the stack.
 */
export const MAX_NESTING = 256;

/**
 * The deepest nesting a text may reach, estimated without parsing: flow brackets outside quoted
 * scalars and comments, and block indentation plus `- ` and `? ` markers at the start of a line. It may
 * count too high, never too low by much; it is only compared with MAX_NESTING.
 */
export function nestingDepth(text: string): number {
  let max = 0;
  let flow = 0;
  let quote = '';
  let lineStart = true;
  let indent = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote !== '') {
      if (c === 92 /* \ */ && quote === '"') i++;
      else if (text[i] === quote) quote = '';
      else if (c === 10) lineStart = true;
      continue;
    }
    if (c === 10) {
      lineStart = true;
      indent = 0;
      continue;
    }
    if (lineStart) {
      if (c === 32) {
        indent++;
        continue;
      }
      if ((c === 45 /* - */ || c === 63 /* ? */) && text.charCodeAt(i + 1) === 32) {
        indent += 2;
        i++;
        continue;
      }
      lineStart = false;
      max = Math.max(max, Math.floor(indent / 2));
    }
    if (c === 35 /* # */) {
      while (i < text.length && text.charCodeAt(i) !== 10) i++;
      i--;
    } else if (c === 34 || c === 39) quote = text[i] as string;
    else if (c === 91 || c === 123) max = Math.max(max, ++flow);
    else if ((c === 93 || c === 125) && flow > 0) flow--;
  }
  return max;
}

/** Parses every document of every file; a `List` (kubectl get -o yaml) is unpacked. Never throws: a file that cannot be read is an error naming it. */
export function parseManifests(files: readonly ManifestFile[]): ParsedManifests {
  const out: ParsedManifests = { objects: [], errors: [] };
  const seen = new Map<string, string>();
  for (const file of files) {
    const depth = nestingDepth(file.text);
    if (depth > MAX_NESTING) {
      out.errors.push({ file: file.name, document: 1, message: `nested more than ${MAX_NESTING} levels deep (about ${depth}); refused unparsed` });
      continue;
    }
    let docs;
    try {
      docs = parseAllDocuments(file.text, { uniqueKeys: true });
    } catch (err) {
      out.errors.push({ file: file.name, document: 1, message: `YAML error: ${(err as Error).message}` });
      continue;
    }
    if (!Array.isArray(docs)) continue; // an empty stream
    docs.forEach((doc, i) => {
      const document = i + 1;
      if (doc.errors.length > 0) {
        out.errors.push({ file: file.name, document, message: `YAML error: ${doc.errors[0]?.message ?? 'unparsable'}` });
        return;
      }
      let value: unknown;
      try {
        // toJS expands aliases (bounded by the yaml package's maxAliasCount: a "billion laughs"
        // document is refused, not expanded) and recurses per level.
        value = doc.toJS();
      } catch (err) {
        out.errors.push({ file: file.name, document, message: `YAML error: ${(err as Error).message}` });
        return;
      }
      if (value === null || value === undefined) return; // an empty document between ---
      const items = isList(value) ? value['items'] : [value];
      for (const item of items as unknown[]) {
        const problem = shapeProblem(item);
        if (problem !== null) {
          out.errors.push({ file: file.name, document, message: problem });
          continue;
        }
        const obj = item as Record<string, unknown>;
        const meta = obj['metadata'] as { name: string; namespace?: string };
        const key = `${String(obj['kind'])}/${meta.namespace ?? 'default'}/${meta.name}`;
        const first = seen.get(key);
        const here = `${file.name} document ${document}`;
        if (first !== undefined) {
          out.errors.push({ file: file.name, document, message: `${key} is defined twice: first in ${first}` });
          continue;
        }
        seen.set(key, here);
        out.objects.push({ file: file.name, document, object: obj });
      }
    });
  }
  return out;
}

function isList(value: unknown): value is { items: unknown[] } {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'List' && Array.isArray((value as { items?: unknown }).items);
}

function shapeProblem(item: unknown): string | null {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return 'not a Kubernetes object (expected a mapping with apiVersion, kind, metadata)';
  const obj = item as Record<string, unknown>;
  if (typeof obj['apiVersion'] !== 'string') return 'apiVersion is missing';
  if (typeof obj['kind'] !== 'string') return 'kind is missing';
  const meta = obj['metadata'];
  if (typeof meta !== 'object' || meta === null || typeof (meta as { name?: unknown }).name !== 'string') {
    return `${String(obj['kind'])} has no metadata.name`;
  }
  return null;
}

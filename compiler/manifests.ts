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

/** Parses every document of every file; a `List` (kubectl get -o yaml) is unpacked. */
export function parseManifests(files: readonly ManifestFile[]): ParsedManifests {
  const out: ParsedManifests = { objects: [], errors: [] };
  const seen = new Map<string, string>();
  for (const file of files) {
    const docs = parseAllDocuments(file.text, { uniqueKeys: true });
    if (!Array.isArray(docs)) continue; // an empty stream
    docs.forEach((doc, i) => {
      const document = i + 1;
      if (doc.errors.length > 0) {
        out.errors.push({ file: file.name, document, message: `YAML error: ${doc.errors[0]?.message ?? 'unparsable'}` });
        return;
      }
      const value: unknown = doc.toJS();
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

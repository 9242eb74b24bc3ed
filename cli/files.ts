// Reads -f arguments: files and directories (recursively), YAML and JSON, and `-` for standard
// input (so `helm template ... | gozargah validate -f -` works).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ManifestFile } from '../compiler/index.ts';

const MANIFEST = /\.(ya?ml|json)$/i;

export function readManifestFiles(paths: readonly string[]): ManifestFile[] {
  const files: ManifestFile[] = [];
  const visit = (path: string, explicit: boolean): void => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        if (!entry.startsWith('.')) visit(join(path, entry), false);
      }
    } else if (explicit || MANIFEST.test(path)) {
      files.push({ name: path, text: readFileSync(path, 'utf8') });
    }
  };
  let stdinRead = false;
  for (const p of paths) {
    if (p !== '-') visit(p, true);
    else if (!stdinRead) {
      stdinRead = true;
      files.push({ name: '<stdin>', text: readFileSync(0, 'utf8') });
    }
  }
  return files;
}

// Writes crds/ from api/v1alpha1 (--write) or fails when crds/ differs from it (--check).
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateCRDs } from '../api/v1alpha1/index.ts';

const HEADER = '# Generated from api/v1alpha1 by `make crds`. Do not edit by hand.\n';
const dirs = ['crds'];
const mode = process.argv[2];
if (mode !== '--write' && mode !== '--check') {
  process.stderr.write('usage: gen-crds.ts --write|--check\n');
  process.exit(2);
}

const wanted = new Map<string, string>();
for (const [file, crd] of generateCRDs()) wanted.set(file, HEADER + stringify(crd, { lineWidth: 0 }));

let stale = 0;
for (const dir of dirs) {
  for (const [file, text] of wanted) {
    const path = join(dir, file);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
    if (current === text) continue;
    if (mode === '--write') {
      writeFileSync(path, text);
      process.stdout.write(`wrote ${path}\n`);
    } else {
      process.stderr.write(`${path} is ${current === null ? 'missing' : 'out of date'}\n`);
      stale++;
    }
  }
  for (const file of existsSync(dir) ? readdirSync(dir) : []) {
    if (file.endsWith('.yaml') && !wanted.has(file)) {
      process.stderr.write(`${join(dir, file)} is not generated from api/v1alpha1; remove it\n`);
      stale++;
    }
  }
}
if (stale > 0) {
  process.stderr.write('crds/ differs from api/v1alpha1: run `make crds` and commit the result.\n');
  process.exit(1);
}

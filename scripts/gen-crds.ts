// Writes crds/ and the Helm chart's CRD templates from api/v1alpha1 (--write), or fails when
// either differs from it (--check).
import { readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateCRDs } from '../api/v1alpha1/index.ts';

const HEADER = '# Generated from api/v1alpha1 by `make crds`. Do not edit by hand.\n';
const CHART_CRDS = 'charts/gozargah/templates/crds';
const mode = process.argv[2];
if (mode !== '--write' && mode !== '--check') {
  process.stderr.write('usage: gen-crds.ts --write|--check\n');
  process.exit(2);
}

interface CRD {
  metadata: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * The chart's copy: the same CRD as a template, behind crds.enabled, with the chart's labels and
 * commonAnnotations and, with crds.keep, helm.sh/resource-policy: keep (templates rather than Helm's crds/ folder, which
 * installs CRDs but never upgrades them).
 */
function chartTemplate(crd: CRD): string {
  const { name, labels = {}, annotations = {}, ...rest } = crd.metadata as { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  if (Object.keys(rest).length > 0) throw new Error(`${name}: metadata keys the chart template does not carry: ${Object.keys(rest).join(', ')}`);
  const indent = (fields: Record<string, string>, chartHas: string[]): string =>
    Object.entries(fields)
      .filter(([k]) => !chartHas.includes(k))
      .map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}\n`)
      .join('');
  const { metadata: _metadata, ...body } = crd;
  // The text goes through Helm's template engine: keep a literal {{ literal.
  const yaml = stringify(body, { lineWidth: 0 }).replaceAll('{{', '{{ "{{" }}');
  const [head, ...spec] = yaml.split(/^(?=spec:)/m);
  return (
    HEADER +
    '{{- if .Values.crds.enabled }}\n' +
    head +
    'metadata:\n' +
    `  name: ${name}\n` +
    '  labels:\n' +
    '    {{- include "gozargah.labels" . | nindent 4 }}\n' +
    indent(labels, ['app.kubernetes.io/part-of']) +
    // The CRD's own annotations, keep with crds.keep, and the chart's commonAnnotations.
    `  {{- $annotations := dict${Object.entries(annotations)
      .map(([k, v]) => ` ${JSON.stringify(k)} ${JSON.stringify(v)}`)
      .join('')} }}\n` +
    '  {{- if .Values.crds.keep }}{{ $_ := set $annotations "helm.sh/resource-policy" "keep" }}{{ end }}\n' +
    '  {{- with include "gozargah.annotations" (list . $annotations) }}\n  {{- . | nindent 2 }}\n  {{- end }}\n' +
    spec.join('') +
    '{{- end }}\n'
  );
}

const outputs: { dir: string; files: Map<string, string> }[] = [
  { dir: 'crds', files: new Map() },
  { dir: CHART_CRDS, files: new Map() },
];
for (const [file, crd] of generateCRDs()) {
  outputs[0]!.files.set(file, HEADER + stringify(crd, { lineWidth: 0 }));
  outputs[1]!.files.set(file, chartTemplate(crd as unknown as CRD));
}

let stale = 0;
for (const { dir, files: wanted } of outputs) {
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
  process.stderr.write(`crds/ or ${CHART_CRDS}/ differs from api/v1alpha1: run \`make crds\` and commit the result.\n`);
  process.exit(1);
}

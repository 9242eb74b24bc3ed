// The generated CustomResourceDefinitions: structural schemas the apiserver accepts, with the
// names, columns and CEL rules that `kubectl get` and `kubectl apply` rely on.
import t from 'tap';
import { generateCRDs } from '../../api/v1alpha1/index.ts';
import { predicateFor } from '../../api/v1alpha1/cel.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string; listKind: string; shortNames: string[]; categories: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: JsonObject;
      additionalPrinterColumns: { name: string; type: string; jsonPath: string; priority?: number }[];
      schema: { openAPIV3Schema: JsonObject };
    }[];
  };
}

const crds = new Map([...generateCRDs()].map(([file, crd]) => [file, crd as unknown as Crd]));
const byKind = new Map([...crds.values()].map((crd) => [crd.spec.names.kind, crd]));

/** Every object node of a schema with the path leading to it. */
function* nodes(value: Json, path = ''): Generator<[string, JsonObject]> {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* nodes(v, `${path}[${i}]`);
  } else if (value !== null && typeof value === 'object') {
    yield [path, value];
    for (const [k, v] of Object.entries(value)) yield* nodes(v, `${path}.${k}`);
  }
}

/** Structural schemas give every property, item and map value a type. */
function untyped(schema: JsonObject, path: string): string[] {
  const problems = typeof schema['type'] === 'string' ? [] : [`${path}: no type`];
  for (const [k, v] of Object.entries((schema['properties'] ?? {}) as Record<string, JsonObject>)) problems.push(...untyped(v, `${path}.${k}`));
  if (typeof schema['items'] === 'object' && schema['items'] !== null) problems.push(...untyped(schema['items'] as JsonObject, `${path}[]`));
  const values = schema['additionalProperties'];
  if (typeof values === 'object' && values !== null) problems.push(...untyped(values as JsonObject, `${path}{}`));
  return problems;
}

t.test('one CRD per kind, with its file name', async (t) => {
  t.same([...crds.keys()].sort(), ['gozargah.io_clientbindings.yaml', 'gozargah.io_inquiryroutes.yaml', 'gozargah.io_serviceproviders.yaml']);
  for (const [file, crd] of crds) {
    t.equal(file, `gozargah.io_${crd.spec.names.plural}.yaml`);
    t.equal(crd.metadata.name, `${crd.spec.names.plural}.gozargah.io`);
    t.equal(crd.spec.group, 'gozargah.io');
    t.equal(crd.spec.scope, 'Namespaced');
  }
});

t.test('schemas are structural', async (t) => {
  for (const crd of crds.values()) {
    const schema = crd.spec.versions[0]?.schema.openAPIV3Schema as Json;
    const problems: string[] = [];
    for (const [path, node] of nodes(schema)) {
      if (node['additionalProperties'] === false) problems.push(`${path}: additionalProperties: false`);
      for (const key of ['patternProperties', 'const', 'anyOf', 'oneOf', 'allOf', '$id', 'uniqueItems']) {
        if (key in node) problems.push(`${path}: ${key}`);
      }
    }
    t.same(problems, [], `${crd.spec.names.kind}: no keyword the apiserver refuses`);
    t.same(untyped(schema as JsonObject, ''), [], `${crd.spec.names.kind}: every node has a type`);
    const root = schema as JsonObject;
    t.equal(root['type'], 'object');
    t.same(root['required'], ['spec'], `${crd.spec.names.kind}: spec is required`);
    const metadata = (root['properties'] as JsonObject)['metadata'] as JsonObject;
    t.same(Object.keys(metadata).sort(), ['type'], 'metadata is left to the apiserver: a type and nothing else (it refuses even a description)');
    t.equal(metadata['type'], 'object');
  }
});

t.test('version, status subresource, names and category', async (t) => {
  const expected = {
    ServiceProvider: ['serviceproviders', 'serviceprovider', ['sp', 'gzsp']],
    InquiryRoute: ['inquiryroutes', 'inquiryroute', ['ir', 'gzir']],
    ClientBinding: ['clientbindings', 'clientbinding', ['cb', 'gzcb']],
  } as const;
  for (const [kind, [plural, singular, shortNames]] of Object.entries(expected)) {
    const crd = byKind.get(kind);
    if (crd === undefined) {
      t.fail(`no CRD for ${kind}`);
      continue;
    }
    const [version, ...others] = crd.spec.versions;
    t.same(others, [], `${kind}: one version`);
    t.match(version, { name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } }, `${kind}: served, stored, with a status subresource`);
    t.match(crd.spec.names, { kind, plural, singular, listKind: `${kind}List`, shortNames: [...shortNames] }, `${kind}: names`);
    t.same(crd.spec.names.categories, ['gozargah'], `${kind}: kubectl get gozargah lists it`);
  }
});

t.test('printer columns answer the everyday questions', async (t) => {
  const expected = {
    ServiceProvider: ['Upstream', 'Routes', 'Ready', 'Age'],
    InquiryRoute: ['Provider', 'Path', 'Buses', 'Clients', 'Programmed', 'Age'],
    ClientBinding: ['Client', 'Routes', 'Rate', 'Quota', 'Ready', 'Age'],
  };
  for (const [kind, names] of Object.entries(expected)) {
    const columns = byKind.get(kind)?.spec.versions[0]?.additionalPrinterColumns ?? [];
    const shown = columns.filter((c) => (c.priority ?? 0) === 0);
    t.same(shown.map((c) => c.name), names, `${kind}: the columns of kubectl get, in order`);
    t.match(shown.at(-1), { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }, `${kind}: Age is the creation time`);
    for (const c of columns) t.match(c.jsonPath, /^\.(spec|status|metadata)\./, `${kind} ${c.name}: a jsonPath into the object`);
  }
  for (const kind of Object.keys(expected)) {
    const columns = byKind.get(kind)?.spec.versions[0]?.additionalPrinterColumns ?? [];
    t.match(
      columns.find((c) => c.name === 'Reason'),
      { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.status=="False")].reason', priority: 1 },
      `${kind}: kubectl get -o wide shows the reason of the first failing condition`,
    );
  }
  const ready = byKind.get('ClientBinding')?.spec.versions[0]?.additionalPrinterColumns.find((c) => c.name === 'Ready');
  t.equal(ready?.jsonPath, '.status.conditions[?(@.type=="Ready")].status', 'Ready reads the Ready condition');
});

t.test('every CEL rule has its predicate', async (t) => {
  let count = 0;
  for (const crd of crds.values()) {
    for (const [path, node] of nodes(crd.spec.versions[0]?.schema.openAPIV3Schema as Json)) {
      const rules = node['x-kubernetes-validations'];
      if (rules === undefined) continue;
      t.ok(Array.isArray(rules), `${crd.spec.names.kind}${path}: a list of rules`);
      for (const r of rules as { rule: string; message: string }[]) {
        count++;
        t.type(predicateFor(r.rule), 'function', `${crd.spec.names.kind}${path}: ${r.message}`);
        t.ok(r.message.length > 0, 'with a message for people');
      }
    }
  }
  t.equal(count, 20, 'the twenty rules of v1alpha1');
  t.equal(predicateFor('self.nobody == "declared this"'), undefined, 'an undeclared rule has no predicate');
});

// Every field of every generated CRD has a description, so `kubectl explain` reads like
// documentation: properties, array items' properties and map values' properties, at any depth.
import t from 'tap';
import { generateCRDs } from '../../api/v1alpha1/index.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (value: Json | undefined): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Each property below `schema`, by path (`spec.routes[].name`, `metadata.labels{}`), with its schema. */
function* properties(schema: JsonObject, path: string): Generator<[string, JsonObject]> {
  const props = schema['properties'];
  if (isObject(props)) {
    for (const [name, child] of Object.entries(props)) {
      if (!isObject(child)) continue;
      const at = path === '' ? name : `${path}.${name}`;
      yield [at, child];
      yield* properties(child, at);
    }
  }
  const items = schema['items'];
  if (isObject(items)) yield* properties(items, `${path}[]`);
  const values = schema['additionalProperties'];
  if (isObject(values)) yield* properties(values, `${path}{}`);
}

const described = (schema: JsonObject): boolean => typeof schema['description'] === 'string' && schema['description'].trim().length > 0;

t.test('every property of every CRD has a description', async (t) => {
  const crds = [...generateCRDs().values()] as unknown as { spec: { names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: JsonObject } }[] } }[];
  t.equal(crds.length, 3, 'the three CRDs');
  for (const crd of crds) {
    const kind = crd.spec.names.kind;
    for (const version of crd.spec.versions) {
      const root = version.schema.openAPIV3Schema;
      t.ok(described(root), `${kind} ${version.name}: the kind itself is described`);
      const all = [...properties(root, '')];
      // metadata is the apiserver's: it refuses a CRD that says anything there but `type: object`
      // (kubectl explain shows ObjectMeta's own documentation).
      const missing = all.filter(([path, schema]) => path !== 'metadata' && !described(schema)).map(([path]) => path);
      t.ok(all.length > 10, `${kind} ${version.name}: the walk reached the fields (${all.length})`);
      t.same(missing, [], `${kind} ${version.name}: every property has a description`);
    }
  }
});

t.test('the walk finds a property without a description at any depth', async (t) => {
  const schema: JsonObject = {
    type: 'object',
    description: 'root',
    properties: {
      a: { type: 'array', description: 'a', items: { type: 'object', properties: { b: { type: 'string' } } } },
      m: { type: 'object', description: 'm', additionalProperties: { type: 'object', properties: { c: { type: 'string', description: ' ' } } } },
      d: { type: 'string', description: 'd' },
    },
  };
  const missing = [...properties(schema, '')].filter(([, s]) => !described(s)).map(([path]) => path);
  t.same(missing, ['a[].b', 'm{}.c'], 'items, map values and blank descriptions');
});

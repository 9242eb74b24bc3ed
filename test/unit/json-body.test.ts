// jsonBodyProblem: a key twice in one object (exactly, through escapes, or in another case) is
// found wherever it hides, nesting is bounded without recursion, and valid bodies pass.
import t from 'tap';
import { jsonBodyProblem, MAX_JSON_DEPTH } from '../../dataplane/json-body.ts';

/** [body, JSON Pointer of the duplicate] */
const DUPLICATES: readonly [string, string][] = [
  ['{"nationalId":"good","nationalId":"evil"}', '/nationalId'],
  ['{"nationalId":"good","nationalId":"good"}', '/nationalId'],
  ['{ "a" : 1 , "a" : 1 }', '/a'],
  ['{"nationalId":"good","national\\u0049d":"evil"}', '/nationalId'],
  ['{"\\u006eationalId":"good","nationalId":"evil"}', '/nationalId'],
  ['{"a\\"b":1,"a\\u0022b":2}', '/a"b'],
  ['{"a\\/b":1,"a/b":2}', '/a~1b'],
  ['{"nationalId":"good","NATIONALID":"evil"}', '/NATIONALID'],
  ['{"nationalId":"good","NationalId":"evil"}', '/NationalId'],
  ['{"kind":"good","\\u212aind":"evil"}', '/\u212aind'], // KELVIN SIGN folds to k
  ['{"person":{"nationalId":"1","nationalId":"2"}}', '/person/nationalId'],
  ['{"items":[{"id":1},{"id":2,"id":3}]}', '/items/1/id'],
  ['[{"a":1},{"b":[1,2,{"c":1,"c":2}]}]', '/1/b/2/c'],
  ['{"s":"{\\"x\\":1,\\"x\\":2}","t":1,"t":2}', '/t'],
  ['{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"e":12}', '/e'],
  ['{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"E":12}', '/E'],
  ['{"a~b":1,"a~b":2}', '/a~0b'],
  ['{"":1,"":2}', '/'],
];

/** Bodies JSON.parse accepts with no duplicate: each must pass. */
const VALID: readonly string[] = [
  '{"nationalId":"0012345678","asOf":"2026-01-01"}',
  '{"a":{"a":{"a":1}}}',
  '{"a":1,"b":{"a":2}}',
  '[{"id":1},{"id":2}]',
  '{"s":"\\"a\\":1,\\"a\\":2"}',
  '{"a\\\\":1,"a":2}',
  '"just a string"',
  '42',
  'null',
  '{}',
  '[]',
  '{"k":"\\u212a","v":"K"}',
  `{${Array.from({ length: 500 }, (_, i) => `"k${i}":${i}`).join(',')}}`,
];

t.test('a duplicate key is found, with its JSON Pointer', async (t2) => {
  for (const [body, path] of DUPLICATES) {
    const found = jsonBodyProblem(body);
    t2.equal(found?.path, path, body);
    t2.match(found?.message ?? '', /appears twice|differ only in case/, `${body}: says why`);
  }
});

t.test('the message names the key and the object', async (t2) => {
  t2.equal(jsonBodyProblem('{"person":{"nationalId":"1","nationalId":"2"}}')?.message, 'The key "nationalId" appears twice in the object at /person: JSON parsers disagree on which value counts.');
  t2.equal(jsonBodyProblem('{"nationalId":"1","NationalID":"2"}')?.message, 'The keys "nationalId" and "NationalID" in the top-level object differ only in case: an agency\'s parser may read them as one field.');
});

t.test('valid bodies without duplicates pass, and agree with JSON.parse', async (t2) => {
  for (const body of VALID) {
    t2.doesNotThrow(() => JSON.parse(body), `${body.slice(0, 40)} is valid JSON`);
    t2.equal(jsonBodyProblem(body), null, body.slice(0, 60));
  }
});

t.test('nesting is bounded, and deep input costs no stack', async (t2) => {
  const nested = (depth: number): string => `${'['.repeat(depth - 1)}{"a":1}${']'.repeat(depth - 1)}`;
  t2.equal(jsonBodyProblem(nested(MAX_JSON_DEPTH)), null, `${MAX_JSON_DEPTH} levels pass`);
  const deeper = jsonBodyProblem(nested(MAX_JSON_DEPTH + 1));
  t2.match(deeper?.message, /deeper than 64 levels/);
  t2.equal(deeper?.path, '/0'.repeat(MAX_JSON_DEPTH), 'the path of the value that goes too deep');
  t2.match(jsonBodyProblem(`${'{"a":'.repeat(500_000)}1${'}'.repeat(500_000)}`)?.message, /deeper than/, '500,000 open objects: refused, no stack overflow');
  t2.match(jsonBodyProblem('['.repeat(1_000_000))?.message, /deeper than/, 'a million open brackets');
});

t.test('malformed input never throws; JSON.parse reports it', async (t2) => {
  const malformed = ['', '{', '}', ']]]]', '{"a', '{"a":"\\', '{"a\\u12":1,"a\\u12":2', ',,,', '{"a":1}}}', '\u0000', '{"a":1,}'];
  for (const body of malformed) t2.doesNotThrow(() => jsonBodyProblem(body), JSON.stringify(body));
});

t.test('a large body is scanned in linear time (1 MiB of keys and arrays)', async (t2) => {
  const item = '{"id":1,"name":"x","tags":["a","b"]},';
  const big = `{"items":[${item.repeat(Math.floor(1_048_576 / item.length) - 1)}{"id":2}],"items2":1}`;
  t2.equal(jsonBodyProblem(big), null);
  t2.equal(jsonBodyProblem(`${big.slice(0, -1)},"items":2}`)?.path, '/items', 'the duplicate after a megabyte');
});

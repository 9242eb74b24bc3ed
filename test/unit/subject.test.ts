// Certificate subjects as RFC 4514 names (api/v1alpha1/subject.ts): escapes, multi-valued RDNs,
// OIDs and aliases, refusals with a reason; and, for thousands of generated attribute lists
// (seeded: SUBJECT_SEED replays), the canonical form parses back to the same attributes and two
// lists have the same canonical form exactly when they hold the same attributes.
import t from 'tap';
import { normalizeSubject, parseSubject, subjectOf, subjectProblem, type SubjectAttribute } from '../../api/v1alpha1/index.ts';

t.test('names written by people', async (t2) => {
  t2.equal(normalizeSubject('CN=dispatch,O=Snapp'), 'CN=dispatch,O=Snapp');
  t2.equal(normalizeSubject('O=Snapp, CN=dispatch'), 'CN=dispatch,O=Snapp', 'order and spaces around separators do not matter');
  t2.equal(normalizeSubject('CN=evil\\,O=Gov'), 'CN=evil\\,O\\=Gov', 'an escaped comma stays in the value');
  t2.not(normalizeSubject('CN=evil\\,O=Gov'), normalizeSubject('CN=evil,O=Gov'), 'one attribute holding a comma is not two attributes');
  t2.equal(normalizeSubject('CN=multi+O=Gov'), normalizeSubject('CN=multi,O=Gov'), 'a multi-valued RDN is flattened, as TLS libraries report subjects');
  t2.equal(normalizeSubject('2.5.4.3=x,0.9.2342.19200300.100.1.25=example'), 'CN=x,DC=example', 'OIDs become their short names');
  t2.equal(normalizeSubject('cn=x,emailAddress=a@b.example'), 'CN=x,EMAILADDRESS=a@b.example', 'types are case-insensitive');
  t2.equal(normalizeSubject('CN=\\C3\\A9t\\C3\\A9'), 'CN=été', 'hex escapes are UTF-8 bytes');
  t2.equal(normalizeSubject('CN=a\\ '), 'CN=a\\ ', 'an escaped trailing space is kept');
  t2.equal(normalizeSubject('CN=a   ,O=b'), 'CN=a,O=b', 'unescaped trailing spaces are formatting');
  t2.equal(normalizeSubject('CN=x=y'), 'CN=x\\=y', 'an equals sign may stand unescaped in a value');
});

t.test('what is refused, and why', async (t2) => {
  const cases: [string, RegExp][] = [
    ['', /no "="/],
    ['CN', /no "="/],
    ['CN=', /empty/],
    ['CN=a,', /ends with a separator/],
    ['CN=a;b', /unescaped ";"/],
    ['CN=a"b', /unescaped/],
    ['CN="quoted"', /quoted/],
    ['CN=#0403616263', /hex-encoded/],
    ['CN=a\\', /invalid escape/],
    ['CN=a\\q', /invalid escape/],
    ['CN=\\FF', /not valid UTF-8/],
    ['1x=a', /not a name or an OID/],
  ];
  for (const [subject, why] of cases) {
    t2.match(subjectProblem(subject), why, JSON.stringify(subject));
    t2.equal(normalizeSubject(subject), null);
  }
});

t.test('generated attribute lists round-trip through the canonical form', async (t2) => {
  const seed = Number(process.env['SUBJECT_SEED'] ?? 4514);
  t2.comment(`seed ${seed} (SUBJECT_SEED=${seed} replays it)`);
  let state = seed >>> 0;
  const rand = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const CHARS = ['a', 'Z', '0', ' ', ',', '+', '"', '\\', '<', '>', ';', '=', '#', 'é', '中', '\u0001', '\n', '/', '.', '-'];
  const value = (): string => {
    let v = '';
    for (let n = 1 + Math.floor(rand() * 8); n > 0; n--) v += pick(CHARS);
    return v.trim() === '' ? `${v}x` : v;
  };
  const failures: string[] = [];
  let cases = 0;
  for (; cases < 3000; cases++) {
    const attrs: SubjectAttribute[] = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => ({ type: pick(['CN', 'O', 'OU', 'C', 'DC', 'UID']), value: value() }));
    const canonical = subjectOf(attrs);
    const parsed = parseSubject(canonical);
    if (typeof parsed === 'string') {
      failures.push(`${JSON.stringify(attrs)} -> ${JSON.stringify(canonical)} does not parse: ${parsed}`);
      continue;
    }
    if (subjectOf(parsed) !== canonical) failures.push(`${JSON.stringify(canonical)} is not stable: ${JSON.stringify(subjectOf(parsed))}`);
    const same = (a: readonly SubjectAttribute[], b: readonly SubjectAttribute[]): boolean =>
      JSON.stringify(a.map((x) => [x.type, x.value]).sort()) === JSON.stringify(b.map((x) => [x.type, x.value]).sort());
    if (!same(parsed, attrs)) failures.push(`${JSON.stringify(attrs)} came back as ${JSON.stringify(parsed)}`);
    // Moving one character from a value into the next attribute's (a comma smuggled across) changes the identity.
    if (attrs.length > 1) {
      const other = attrs.map((a) => ({ ...a }));
      (other[0] as SubjectAttribute).value += `,${(other[1] as SubjectAttribute).type}=${(other[1] as SubjectAttribute).value}`;
      other.splice(1, 1);
      if (subjectOf(other) === canonical) failures.push(`${JSON.stringify(attrs)} and ${JSON.stringify(other)} share ${JSON.stringify(canonical)}`);
    }
    if (failures.length > 10) break;
  }
  t2.same(failures, [], `${cases} generated subjects (seed ${seed})`);
});

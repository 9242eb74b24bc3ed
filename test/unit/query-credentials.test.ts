// credentialsInQuery: a credential in the query string is found whatever its spelling, encoding
// or separator, and a query with no credential is left alone. The hostile rows are spellings
// attackers and careless clients were seen to use.
import t from 'tap';
import { hash } from 'node:crypto';
import { credentialsInQuery } from '../../dataplane/auth.ts';

const KEY = 'live-key-0123456789abcdef';

/** Queries that name a credential: each must be refused. */
const CREDENTIAL_QUERIES: readonly string[] = [
  '?api_key=x',
  '?api-key=x',
  '?apikey=x',
  '?API_KEY=x',
  '?ApiKey=x',
  '?x-api-key=x',
  '?X_API_KEY=x',
  '?access_token=x',
  '?Access-Token=x',
  '?token=x',
  '?TOKEN=',
  '?auth_token=x',
  '?authorization=Bearer%20x',
  '?client_secret=x',
  '?password=x',
  '?a=1&api_key=x',
  '?a=1;api_key=x',
  '?a=1?api_key=x',
  'api_key=x',
  'a=1&api_key=x',
  '?api%2Dkey=x',
  '?api%5Fkey=x',
  '?api%5fkey=x',
  '?%61pi_key=x',
  '?api%255Fkey=x',
  '?api%25255Fkey=x',
  '?api+key=x',
  '?api.key=x',
  '?api%20key=x',
  '?api%00key=x',
  '?my_api_key=x',
  '?user[api_key]=x',
  '?apikey',
  '?a=1%26api_key%3Dx',
  '?a=1%2526api_key%253Dx',
  '?%EF%BD%81%EF%BD%90%EF%BD%89%EF%BD%8B%EF%BD%85%EF%BD%99=x', // fullwidth "apikey"
  '?api_%E2%84%AAey=x', // KELVIN SIGN for k
  '?&&;;api_key=x',
  '?x=1#api_key=x',
];

/** Queries a client may send: none names a credential. */
const INNOCENT_QUERIES: readonly string[] = [
  '',
  '?',
  '?a=1',
  '?asOf=2026-01-01&lang=fa',
  '?q=api',
  '?monkey=1',
  '?key=postal',
  '?tokens_left=3',
  '?q=100%25',
  '?q=%E2%9C%93',
  '?api=1&key=2',
  '?next=%2Fpersons%2F1',
  '?%',
  '?%zz=1',
];

t.test('every spelling of a credential name is refused', async (t2) => {
  for (const query of CREDENTIAL_QUERIES) t2.equal(credentialsInQuery(query), true, query);
});

t.test('queries that name no credential pass', async (t2) => {
  for (const query of INNOCENT_QUERIES) t2.equal(credentialsInQuery(query), false, JSON.stringify(query));
});

t.test('a known API key is refused under any name, as a value or bare', async (t2) => {
  const known = new Map([[hash('sha256', KEY, 'hex'), {}]]);
  t2.equal(credentialsInQuery(`?k=${KEY}`, known), true, 'as the value of an innocent name');
  t2.equal(credentialsInQuery(`?${KEY}`, known), true, 'as a bare parameter');
  t2.equal(credentialsInQuery(`?x=1#${KEY}`, known), true, 'as a fragment');
  t2.equal(credentialsInQuery(`?a=1;q=${encodeURIComponent(encodeURIComponent(KEY))}`, known), true, 'double-encoded after ;');
  t2.equal(credentialsInQuery(`?k=${KEY}`, new Map()), false, 'no keys known: only names count');
  t2.equal(credentialsInQuery('?k=another-value-of-25-chars', known), false, 'a value that is not a key passes');
  t2.equal(credentialsInQuery('?k=short', known), false);
});

t.test('a long hostile query is scanned in one pass and answered', async (t2) => {
  const many = `?${'a=1&'.repeat(20_000)}`;
  t2.equal(credentialsInQuery(many), false, '20,000 innocent parameters');
  t2.equal(credentialsInQuery(`${many}api%255Fkey=x`), true, 'the credential after them');
  t2.equal(credentialsInQuery(`?${'%25'.repeat(10_000)}`), false, 'percent signs that decode to percent signs');
});

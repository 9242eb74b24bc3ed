// /config never shows a credential: a provider URL loses its userinfo (https://user:pass@host)
// and its query, whatever else it keeps.
import t from 'tap';
import { redactUrl } from '../../dataplane/admin.ts';

const cases: [string, string, string][] = [
  ['plain', 'https://api.sabtahval.internal/v2', 'https://api.sabtahval.internal/v2'],
  ['user and password', 'https://svc:s3cret@api.internal/v2', 'https://redacted@api.internal/v2'],
  ['user only (a token as user name)', 'http://tok3n@10.0.0.7:8080', 'http://redacted@10.0.0.7:8080/'],
  ['percent-encoded password', 'https://u:p%40ss%3Aword@h/', 'https://redacted@h/'],
  ['query', 'https://h/v1?apikey=s3cret', 'https://h/v1?redacted'],
  ['not a URL', 'not a url s3cret', '[redacted: not a URL]'],
];
for (const [name, url, shown] of cases) {
  t.test(name, async (t2) => {
    const out = redactUrl(url);
    t2.equal(out, shown);
    t2.notMatch(out, /s3cret|tok3n|p%40ss/, 'no credential left');
  });
}

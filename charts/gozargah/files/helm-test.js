// `helm test`: the check of one bus (templates/tests/bus.yaml), run by the chart's own image as
// `node -e`. The bus's Service must answer a request without credentials with the bus's own
// refusal: 401, application/problem+json, x-gozargah-error: credentials_missing. No answer, a 503
// not_ready (no snapshot loaded yet) or any other server's answer fails the test.
const bus = process.env.GOZARGAH_BUS;
const url = new URL('/.well-known/gozargah/catalogue', process.env.GOZARGAH_BUS_URL).href;
fetch(url, { signal: AbortSignal.timeout(10000) }).then(
  async (res) => {
    const body = await res.text();
    const error = res.headers.get('x-gozargah-error');
    const type = res.headers.get('content-type') || '';
    console.log(`GET ${url}: ${res.status}, x-gozargah-error: ${error}, content-type: ${type}\n${body}`);
    if (res.status === 401 && error === 'credentials_missing' && type.startsWith('application/problem+json')) {
      console.log(`bus ${bus} answers: its 401 credentials_missing problem`);
    } else {
      console.error(`bus ${bus} did not answer with its 401 credentials_missing problem`);
      process.exitCode = 1;
    }
  },
  (err) => {
    console.error(`bus ${bus}: GET ${url} failed: ${(err.cause && err.cause.message) || err.message}`);
    process.exitCode = 1;
  },
);

// The compiler runs on the operator's event loop, which must renew the leader Lease (every few
// seconds, within 10 s): a pathological but schema-valid input must compile in bounded time.
// 1,000 bindings, each with the most selector entries the schema allows (8), each selector at
// its bounds (8 labels, 8 expressions of 64 values) and crafted so that every requirement but
// the last matches every route, plus 1,016 named routes; over 2,000 routes whose access policy
// is itself a maximal selector with a 1,024-entry client list. And the bounds are in the schema.
// Measured as a ratio, not against a clock: the same bindings naming 1,024 routes each, without
// selectors, compiled in the same run, are the yardstick (a slow machine slows both alike).
import t from 'tap';
import { compile } from '../../compiler/index.ts';
import { validateObject, MAX_SELECTOR_ROUTES } from '../../api/v1alpha1/index.ts';

type Obj = Record<string, unknown>;
const API = 'gozargah.io/v1alpha1';
const ROUTES = 2000;
const BINDINGS = 1000;
/** Selectors at their bounds may cost at most this many times the same bindings without them. */
const MAX_RATIO = 4;

function pathological(withSelectors = true): Obj[] {
  const objs: Obj[] = [];
  const labels = Object.fromEntries(Array.from({ length: 8 }, (_, k) => [`k${k}`, 'v0']));
  for (let p = 0; p < 50; p++) objs.push({ apiVersion: API, kind: 'ServiceProvider', metadata: { name: `p${p}`, namespace: `ns${p}` }, spec: { upstream: { url: `http://127.0.0.1:${20000 + p}` } } });
  for (let i = 0; i < ROUTES; i++) {
    const p = i % 50;
    objs.push({
      apiVersion: API,
      kind: 'InquiryRoute',
      metadata: { name: `r${i}`, namespace: `ns${p}`, labels },
      spec: {
        providerRef: { name: `p${p}` },
        path: `/p${p}/r${i}/{id}`,
        access: {
          namespaces: { from: 'Selector', selector: { matchExpressions: Array.from({ length: 8 }, (_, k) => ({ key: `team${k}`, operator: 'NotIn', values: Array.from({ length: 64 }, (_, v) => `x${v}`) })) } },
          clients: Array.from({ length: 1024 }, (_, c) => `c${c}`),
        },
      },
    });
  }
  for (let b = 0; b < BINDINGS; b++) {
    objs.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `b${b}`, namespace: 'clients', labels: { 'gozargah.io/credentials': 'true' } }, stringData: { k: `bounds-key-${b}-0123456789abcdef` } });
    const selectors = Array.from({ length: withSelectors ? MAX_SELECTOR_ROUTES : 0 }, (_, s) => ({
      selector: {
        matchLabels: labels,
        // Every requirement matches every route but the last, which names a key no route has:
        // distinct per binding and selector, so no result can be reused.
        matchExpressions: Array.from({ length: 8 }, (_, k) => ({ key: k === 7 ? `missing-${b}-${s}` : `k${k}`, operator: 'In', values: Array.from({ length: 64 }, (_, v) => `v${v}`) })),
      },
    }));
    const named = Array.from({ length: 1024 - selectors.length }, (_, n) => ({ namespace: `ns${(b * 7 + n) % 50}`, name: `r${(b * 7 + n) % ROUTES}` }));
    objs.push({ apiVersion: API, kind: 'ClientBinding', metadata: { name: `b${b}`, namespace: 'clients' }, spec: { client: { id: `c${b % 1024}`, displayName: `client ${b}` }, credentials: { apiKeys: { secretRef: { name: `b${b}` } } }, routes: [...selectors, ...named] } });
  }
  return objs;
}

t.test(`${BINDINGS} maximal bindings over ${ROUTES} routes compile within ${MAX_RATIO}x the same bindings without selectors`, async (t2) => {
  const objects = pathological();
  for (const kind of ['InquiryRoute', 'ClientBinding']) {
    t2.same(validateObject(structuredClone(objects.find((o) => o['kind'] === kind) as Obj)), [], `the ${kind} is schema-valid`);
  }
  const timed = (objs: Obj[]): { ms: number; out: ReturnType<typeof compile> } => {
    const started = performance.now();
    const out = compile({ objects: objs, now: '2026-11-23T10:00:00Z' });
    return { ms: performance.now() - started, out };
  };
  const plain = timed(pathological(false));
  const { ms, out } = timed(objects);
  const ratio = ms / plain.ms;
  t2.comment(`compiled ${ROUTES} routes and ${BINDINGS} bindings at the schema's bounds in ${Math.round(ms)} ms; without selectors ${Math.round(plain.ms)} ms`);
  t2.ok(ratio < MAX_RATIO, `${ratio.toFixed(2)}x the compile without selectors (at most ${MAX_RATIO}x)`);
  const snapshot = out.snapshots['default'];
  t2.equal(snapshot?.bindings.length, BINDINGS, 'every binding compiled');
  t2.equal(snapshot?.routes.length, ROUTES, 'every route compiled');
  t2.ok(out.statuses.every((s) => s.status.conditions[0]?.status === 'True'), 'every object is accepted');
});

t.test('the schema holds the bounds the figure depends on', async (t2) => {
  const binding = (routes: Obj[]): Obj => ({ apiVersion: API, kind: 'ClientBinding', metadata: { name: 'b', namespace: 'clients' }, spec: { client: { id: 'c', displayName: 'c' }, credentials: { apiKeys: { secretRef: { name: 'k' } } }, routes } });
  const selector = (n: number): Obj => ({ selector: { matchLabels: { n: String(n) } } });
  t2.same(validateObject(binding(Array.from({ length: MAX_SELECTOR_ROUTES }, (_, i) => selector(i)))), [], `${MAX_SELECTOR_ROUTES} selector entries are allowed`);
  t2.match(validateObject(binding(Array.from({ length: MAX_SELECTOR_ROUTES + 1 }, (_, i) => selector(i)))), [{ path: 'spec', message: /at most 8 route entries may use a selector/ }], 'one more is refused');
  t2.match(validateObject(binding([{ selector: { matchLabels: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'])) } }])), [{ path: 'spec.routes.0.selector.matchLabels', message: /more than 8/ }], 'nine matchLabels are refused');
  t2.match(validateObject(binding([{ selector: { matchExpressions: Array.from({ length: 9 }, (_, i) => ({ key: `k${i}`, operator: 'Exists' })) } }])), [{ path: 'spec.routes.0.selector.matchExpressions', message: /more than 8/ }], 'nine expressions are refused');
  t2.match(validateObject(binding(Array.from({ length: 1025 }, (_, i) => ({ name: `r${i}` })))), [{ path: 'spec.routes', message: /more than 1024/ }], 'more than 1024 route entries are refused');
});

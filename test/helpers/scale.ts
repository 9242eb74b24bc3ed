// Synthetic objects at a national bus's scale: N routes over 100 providers, M bindings with
// their key Secrets, each binding granted a few routes by name, or (a share of them, with
// `selectorShare`) by a label selector over one agency's routes of one category, about ten
// routes at 50,000 routes: the README's own pattern.
type Obj = Record<string, unknown>;
const API = 'gozargah.io/v1alpha1';

/** Categories per agency: route i of an agency is in category floor(i / providers) mod CATEGORIES. */
const CATEGORIES = 50;

export function scaleObjects(routes: number, bindings: number, providers = 100, selectorShare = 0): Obj[] {
  const out: Obj[] = [];
  const p = Math.min(providers, routes);
  for (let i = 0; i < p; i++) {
    out.push({ apiVersion: API, kind: 'ServiceProvider', metadata: { name: `agency-${i}`, namespace: `agency-${i}` }, spec: { upstream: { url: `http://127.0.0.1:${20000 + i}` } } });
  }
  for (let i = 0; i < routes; i++) {
    const a = i % p;
    out.push({
      apiVersion: API,
      kind: 'InquiryRoute',
      metadata: { name: `inquiry-${i}`, namespace: `agency-${a}`, ...(selectorShare > 0 ? { labels: { 'gozargah.io/category': `c${Math.floor(i / p) % CATEGORIES}` } } : {}) },
      spec: { providerRef: { name: `agency-${a}` }, path: `/agency-${a}/v1/inquiry-${i}/{id}`, upstreamPath: `/inquiry/${i}/{id}`, access: { namespaces: { from: 'All' } } },
    });
  }
  for (let i = 0; i < bindings; i++) {
    const wanted = [0, 1, 2].map((k) => (i * 7 + k * 13) % routes).filter((r, idx, all) => all.indexOf(r) === idx);
    out.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `client-${i}-keys`, namespace: 'clients', labels: { 'gozargah.io/credentials': 'true' } }, stringData: { k: `scale-test-key-${String(i).padStart(8, '0')}-0123456789` } });
    out.push({
      apiVersion: API,
      kind: 'ClientBinding',
      metadata: { name: `client-${i}`, namespace: 'clients' },
      spec: {
        client: { id: `client-${i}`, displayName: `Client ${i}` },
        credentials: { apiKeys: { secretRef: { name: `client-${i}-keys` } } },
        routes: bySelector(i, bindings, selectorShare)
          ? [{ namespace: `agency-${i % p}`, selector: { matchLabels: { 'gozargah.io/category': `c${Math.floor(i / p) % CATEGORIES}` } } }]
          : wanted.map((r) => ({ namespace: `agency-${r % p}`, name: `inquiry-${r}` })),
        rateLimit: { requestsPerSecond: 100, burst: 200 },
      },
    });
  }
  return out;
}

/** Whether binding i of n names its routes by selector: spread evenly, selectorShare of them. */
function bySelector(i: number, n: number, share: number): boolean {
  return share > 0 && Math.floor((i + 1) * share) > Math.floor(i * share) && n > 0;
}

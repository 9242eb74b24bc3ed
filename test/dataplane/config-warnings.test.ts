// A dataplane fed mistakes it cannot serve says so instead of serving nothing in silence: a
// misspelt kind in its manifests, and a --bus no manifest names (in the log and in /readyz).
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDataplane, waitFor } from '../helpers/dataplane.ts';
import { binding, keySecret, manifestDir, provider, route } from '../helpers/manifests.ts';

const dir = manifestDir([
  provider('agency', 'http://127.0.0.1:9'),
  route('person', 'agency', '/p/{id}'),
  keySecret('c-keys', { k: 'warnings-key-0123456789abcdef' }),
  binding('c', 'c', [{ namespace: 'gov', name: 'person' }]),
]);
writeFileSync(join(dir, 'typo.yaml'), 'apiVersion: gozargah.io/v1alpha1\nkind: ClientBindng\nmetadata: { name: typo, namespace: clients }\nspec: {}\n');

t.test('a misspelt kind is named in the log, with the kind it was surely meant to be', async (t) => {
  const dp = await startDataplane(['--manifests', dir]);
  t.teardown(() => dp.stop());
  await waitFor(() => dp.logs().includes('"object not read"'), 5000, () => dp.logs());
  t.match(dp.logs(), /"object not read".*typo\.yaml.*did you mean apiVersion gozargah\.io\/v1alpha1, kind ClientBinding\?/);
});

t.test('a --bus no manifest names: the log and /readyz say it serves no route and list the buses there are', async (t) => {
  const dp = await startDataplane(['--manifests', dir, '--bus', 'defualt']);
  t.teardown(() => dp.stop());
  await waitFor(() => dp.logs().includes('serves no route'), 5000, () => dp.logs());
  t.match(dp.logs(), /"msg":"bus defualt serves no route: no object is for it \(the source has default; is --bus misspelt\?\)","bus":"defualt","busesInSource":\["default"\]/);
  t.equal(dp.logs().split('serves no route').length - 1, 1, 'said once, not at every reload');
  const readyz = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { ready: boolean; warnings: string[] };
  t.equal(readyz.ready, true, 'an empty bus is ready (a fresh install is one): the warning says what is odd');
  t.same(readyz.warnings, ['bus defualt serves no route: no object is for it (the source has default; is --bus misspelt?)']);
  const healthz = (await (await fetch(`${dp.adminUrl}/healthz`)).json()) as { warnings: string[] };
  t.same(healthz.warnings, readyz.warnings);
});

t.test('the right --bus: no warning', async (t) => {
  const dp = await startDataplane(['--manifests', dir]);
  t.teardown(() => dp.stop());
  const readyz = (await (await fetch(`${dp.adminUrl}/readyz`)).json()) as { warnings: string[] };
  t.same(readyz.warnings, []);
  t.notMatch(dp.logs(), /serves no route/);
});

// A bus the operator has published keeps getting a snapshot after its last route and binding
// are gone: an empty one, so its dataplanes stop serving what was deleted.
import t from 'tap';
import { compile } from '../../compiler/index.ts';
import { binding, keySecret, provider, route } from '../helpers/manifests.ts';

const objects = [
  provider('agency', 'http://127.0.0.1:1'),
  route('echo', 'agency', '/e/v1/echo/{id}', { buses: ['public'] }),
  keySecret('c-keys', { k: 'demo-only-key-0123456789abc' }),
  binding('c', 'c', [{ namespace: 'gov', name: 'echo' }], { bus: 'public' }),
];
const NOW = '2026-11-23T10:00:00Z';

t.test('without buses: only buses something is on', async (t2) => {
  t2.same(Object.keys(compile({ objects: [], now: NOW }).snapshots), []);
  t2.same(Object.keys(compile({ objects, now: NOW }).snapshots), ['public']);
});

t.test('a listed bus with nothing on it gets an empty snapshot with its own hash', async (t2) => {
  const { snapshots } = compile({ objects, now: NOW, buses: ['public', 'internal'] });
  t2.same(Object.keys(snapshots).sort(), ['internal', 'public']);
  const empty = snapshots['internal'];
  t2.same([empty?.bus, empty?.providers, empty?.routes, empty?.bindings], ['internal', [], [], []]);
  t2.match(empty?.hash, /^sha256:[0-9a-f]{64}$/);
  t2.equal(snapshots['public']?.hash, compile({ objects, now: NOW }).snapshots['public']?.hash, 'a bus with content is the same either way');
});

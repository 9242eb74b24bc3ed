// What the operator's caches drop from every object: server-side apply's managedFields and
// kubectl's last-applied annotation (a second copy of the object), nothing it reads.
import t from 'tap';
import { trimBookkeeping } from '../../kube/watch.ts';

t.test('managedFields and the last-applied annotation go; labels, other annotations, spec and status stay', async (t2) => {
  const object = {
    apiVersion: 'gozargah.io/v1alpha1',
    kind: 'InquiryRoute',
    metadata: {
      name: 'r',
      namespace: 'gov',
      generation: 3,
      resourceVersion: '42',
      labels: { 'gozargah.io/category': 'identity' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"spec":{}}', 'example.org/owner': 'team-a' },
      managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    },
    spec: { path: '/a/{id}' },
    status: { observedGeneration: 3 },
  };
  trimBookkeeping(object);
  t2.same(object, {
    apiVersion: 'gozargah.io/v1alpha1',
    kind: 'InquiryRoute',
    metadata: { name: 'r', namespace: 'gov', generation: 3, resourceVersion: '42', labels: { 'gozargah.io/category': 'identity' }, annotations: { 'example.org/owner': 'team-a' } },
    spec: { path: '/a/{id}' },
    status: { observedGeneration: 3 },
  });
});

t.test('an object left with no annotation has none, rather than an empty map', async (t2) => {
  const object = { metadata: { name: 'n', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } } };
  trimBookkeeping(object);
  t2.same(object, { metadata: { name: 'n' } });
});

// gozargah-operator's flags: defaults from the pod's downward API, and refusals that name the flag.
import t from 'tap';
import { ArgsError, parseOperatorArgs } from '../../operator/args.ts';

t.test('defaults come from the pod: POD_NAMESPACE and POD_NAME', async (t2) => {
  const a = parseOperatorArgs([], { POD_NAMESPACE: 'bus-system', POD_NAME: 'gozargah-operator-5d8c-abcde' });
  t2.same([a.namespace, a.identity, a.kubeconfig, a.leaseName, a.leaseSeconds, a.debounceMs, a.rewatchSeconds], ['bus-system', 'gozargah-operator-5d8c-abcde', null, 'gozargah-operator', 15, 50, 300]);
  t2.same(a.adminListen, { host: '0.0.0.0', port: 9090 });
  t2.equal(parseOperatorArgs([], {}).namespace, 'gozargah-system', 'no POD_NAMESPACE: gozargah-system');
});

t.test('flags win over the environment', async (t2) => {
  const a = parseOperatorArgs(['--namespace', 'x', '--identity', 'me', '--kubeconfig', '/k', '--lease-seconds', '3', '--admin-listen', '127.0.0.1:0'], { POD_NAMESPACE: 'y' });
  t2.same([a.namespace, a.identity, a.kubeconfig, a.leaseSeconds, a.adminListen.port], ['x', 'me', '/k', 3, 0]);
});

const refused: [string[], RegExp][] = [
  [['--namespace', 'Bad_NS'], /--namespace must be a DNS label, got Bad_NS/],
  [['--lease-seconds', '0'], /--lease-seconds must be a positive integer, got 0/],
  [['--lease-seconds', 'soon'], /--lease-seconds must be a positive integer/],
  [['--debounce-ms=-1'], /--debounce-ms must be a whole number of milliseconds/],
  [['--admin-listen', '9090'], /--admin-listen must be HOST:PORT, got 9090/],
  [['--identity', ''], /--identity must not be empty/],
  [['--unknown'], /Unknown option '--unknown'/],
];
for (const [argv, message] of refused) {
  t.test(`refuses ${argv.join(' ')}`, async (t2) => {
    let caught: unknown = null;
    try {
      parseOperatorArgs(argv, {});
    } catch (err) {
      caught = err;
    }
    t2.ok(caught instanceof ArgsError, 'an ArgsError: main prints it with the usage');
    t2.match((caught as Error).message, message);
  });
}

// gozargah-dataplane's config sources are exclusive: exactly one of --manifests, --snapshot and
// --namespace (cluster mode, with --kubeconfig or the in-cluster service account).
import t from 'tap';
import { ArgsError, parseDataplaneArgs } from '../../dataplane/args.ts';

t.test('cluster mode: --namespace, with or without --kubeconfig', async (t2) => {
  const withFile = parseDataplaneArgs(['--namespace', 'gozargah-system', '--kubeconfig', '/k', '--bus', 'public']);
  t2.same([withFile.namespace, withFile.kubeconfig, withFile.bus, withFile.manifests, withFile.snapshot], ['gozargah-system', '/k', 'public', null, null]);
  t2.equal(parseDataplaneArgs(['--namespace', 'ns']).kubeconfig, null, 'no --kubeconfig: in-cluster');
  t2.equal(parseDataplaneArgs(['--namespace', 'ns', '--replica', 'dp-public-7d9f-x2']).replica, 'dp-public-7d9f-x2');
});

t.test('audit flags: queue bound in bytes (Ki, Mi) and what to do while the sink is down', async (t2) => {
  const defaults = parseDataplaneArgs(['--manifests', 'd']);
  t2.same([defaults.auditLog, defaults.auditQueueBytes, defaults.auditUnavailable], [null, 16 << 20, 'serve'], 'stdout, 16Mi, keep serving');
  const set = parseDataplaneArgs(['--manifests', 'd', '--audit-log', '/var/log/a.jsonl', '--audit-queue-bytes', '64Ki', '--audit-unavailable', 'refuse']);
  t2.same([set.auditLog, set.auditQueueBytes, set.auditUnavailable], ['/var/log/a.jsonl', 64 << 10, 'refuse']);
  t2.equal(parseDataplaneArgs(['--manifests', 'd', '--audit-queue-bytes', '1048576']).auditQueueBytes, 1 << 20, 'a plain byte count');
});

t.test('audit evidence flags: on with a checkpoint every 10 s by default, the key files as given', async (t2) => {
  const defaults = parseDataplaneArgs(['--manifests', 'd']);
  t2.same([defaults.auditEvidence, defaults.auditCheckpointMs, defaults.auditSigningKey, defaults.auditPseudonymKey], [true, 10_000, null, null]);
  const set = parseDataplaneArgs(['--manifests', 'd', '--audit-signing-key', '/k/s.pem', '--audit-pseudonym-key', '/k/p', '--audit-checkpoint-seconds', '1']);
  t2.same([set.auditSigningKey, set.auditPseudonymKey, set.auditCheckpointMs], ['/k/s.pem', '/k/p', 1000]);
  t2.equal(parseDataplaneArgs(['--manifests', 'd', '--audit-evidence', 'off']).auditEvidence, false);
});

const refused: [string[], RegExp][] = [
  [[], /exactly one of --manifests DIR, --snapshot FILE or --namespace NS/],
  [['--manifests', 'd', '--namespace', 'ns'], /exactly one of/],
  [['--snapshot', 'f', '--namespace', 'ns'], /exactly one of/],
  [['--snapshot', 'f', '--kubeconfig', '/k'], /--kubeconfig goes with --namespace NS/],
  [['--namespace', 'Not_A_Label'], /--namespace must be a DNS label/],
  [['--manifests', 'd', '--cache-dir', '/c'], /--cache-dir goes with --namespace NS/],
  [['--namespace', 'ns', '--replica', 'Pod_1'], /--replica must be a DNS subdomain \(a pod name\), got Pod_1/],
  [['--manifests', 'd', '--audit-unavailable', 'drop'], /--audit-unavailable must be serve or refuse, got drop/],
  [['--manifests', 'd', '--audit-queue-bytes', '1Ki'], /--audit-queue-bytes must be a byte count from 16Ki to 1024Mi/],
  [['--manifests', 'd', '--audit-queue-bytes', '2Gi'], /--audit-queue-bytes must be a byte count/],
  [['--manifests', 'd', '--audit-queue-bytes', '16MB'], /--audit-queue-bytes must be a byte count/],
  [['--manifests', 'd', '--audit-evidence', 'yes'], /--audit-evidence must be on or off, got yes/],
  [['--manifests', 'd', '--audit-evidence', 'off', '--audit-signing-key', '/k'], /--audit-signing-key signs the hash chain, which --audit-evidence=off turns off/],
  [['--manifests', 'd', '--audit-checkpoint-seconds', '60'], /--audit-checkpoint-seconds must be a whole number from 1 to 10, got 60/],
  [['--manifests', 'd', '--audit-checkpoint-seconds', '0.5'], /--audit-checkpoint-seconds must be a whole number/],
];
for (const [argv, message] of refused) {
  t.test(`refuses ${argv.join(' ') || 'no source'}`, async (t2) => {
    let caught: unknown = null;
    try {
      parseDataplaneArgs(argv);
    } catch (err) {
      caught = err;
    }
    t2.ok(caught instanceof ArgsError, 'an ArgsError: main prints it with the usage');
    t2.match((caught as Error).message, message);
  });
}

t.test('JWKS refresh flags: 300 s and 30 s by default, fractions allowed, the minimum not above the period', async (t2) => {
  const defaults = parseDataplaneArgs(['--manifests', 'd']);
  t2.same([defaults.jwksRefreshMs, defaults.jwksMinRefreshMs], [300_000, 30_000]);
  const set = parseDataplaneArgs(['--manifests', 'd', '--jwks-refresh-seconds', '0.5', '--jwks-min-refresh-seconds', '0.2']);
  t2.same([set.jwksRefreshMs, set.jwksMinRefreshMs], [500, 200]);
  t2.throws(() => parseDataplaneArgs(['--manifests', 'd', '--jwks-refresh-seconds', '0']), /--jwks-refresh-seconds must be a number of seconds above 0/);
  t2.throws(() => parseDataplaneArgs(['--manifests', 'd', '--jwks-refresh-seconds', '10', '--jwks-min-refresh-seconds', '20']), /must not be more than --jwks-refresh-seconds/);
});

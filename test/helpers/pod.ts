// Runs the container of a rendered Deployment (the chart's `helm template` output) with podman,
// the way a kubelet runs its pod: the pod spec is translated, not retyped, and anything in it this
// translation does not know is an error rather than something silently left out.
//
//   command/args       $(VAR) expanded from the container's env, as Kubernetes does
//   env                value; valueFrom.fieldRef metadata.namespace / metadata.name (the downward API)
//   securityContext    runAsUser/runAsGroup (--user), runAsNonRoot (checked), fsGroup (--group-add),
//                      readOnlyRootFilesystem (--read-only, and no tmpfs of podman's own),
//                      capabilities (--cap-drop/--cap-add), allowPrivilegeEscalation: false
//                      (no-new-privileges), privileged: false, seccomp RuntimeDefault (podman's default)
//   volumes            emptyDir (a tmpfs of its sizeLimit, mode 0777 as the kubelet makes it)
//   service account    token, ca.crt and namespace at /var/run/secrets/kubernetes.io/serviceaccount
//   resources          limits.memory, limits.cpu
//   ports              each containerPort published on 127.0.0.1 (a free port)
//   lifecycle          preStop sleep, then SIGTERM with the rest of terminationGracePeriodSeconds
//
// The network (machine facts, tried on the project's Debian 12 machines): each container gets
// its own network namespace (slirp4netns), as a pod does, so the chart's fixed ports
// (0.0.0.0:8080, 0.0.0.0:9090) never collide with each other or with the host. With
// allow_host_loopback, 10.0.2.2 inside reaches the host's 127.0.0.1, where the test's
// kube-apiserver and stand-in agencies listen. The API server's certificate (test/cluster/up.sh)
// is valid for kubernetes.default.svc, so KUBERNETES_SERVICE_HOST names that, mapped to 10.0.2.2
// in the container's /etc/hosts (in a cluster it would be the Service's ClusterIP).
// podman runs with runc (the machines' hybrid cgroups v1 defeat crun) and the machines' ulimits.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from './cluster.ts';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const PODMAN_FLAGS = ['--runtime', 'runc'];
const RUN_FLAGS = ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** What the container sees of the host's loopback (slirp4netns allow_host_loopback). */
export const HOST_LOOPBACK = '10.0.2.2';
export const API_SERVER_HOST = 'kubernetes.default.svc';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs podman (with runc); resolves even when it fails. */
export function podman(args: string[], input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile('podman', [...PODMAN_FLAGS, ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 127, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs podman and returns its output; throws with podman's message when it fails. */
export async function podmanOk(args: string[]): Promise<string> {
  const out = await podman(args);
  if (out.code !== 0) throw new Error(`podman ${args.join(' ')} failed (${out.code}):\n${out.stderr}`);
  return out.stdout;
}

/** The image `make image` builds: $GOZARGAH_IMAGE (default localhost/gozargah/gozargah) : package.json's version. */
export function localImage(root: string): { repository: string; tag: string; ref: string } {
  const tag = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const repository = process.env.GOZARGAH_IMAGE ?? 'localhost/gozargah/gozargah';
  return { repository, tag, ref: `${repository}:${tag}` };
}

/**
 * podman and the image are what `make test` installs and builds first (make podman, make image).
 * Missing, a test fails (it does not skip) and says what to run.
 */
export async function requireImage(ref: string): Promise<void> {
  const version = await podman(['--version']);
  if (version.code !== 0) throw new Error(`podman does not run (${version.stderr.trim() || 'not installed'}): run make podman (make test runs it)`);
  if ((await podman(['image', 'exists', ref])).code !== 0) throw new Error(`the image ${ref} is missing: run make image (make test runs it)`);
}

/** Kubernetes' $(VAR) expansion of command and args: defined variables only; $$ escapes. */
export function expand(text: string, env: Map<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => (name === undefined ? '$' : (env.get(name) ?? all)));
}

/** A Kubernetes quantity (512Mi, 1Gi, 500m CPUs) as podman wants it. */
function memory(q: string): string {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (m === null) throw new Error(`memory quantity ${q} is not understood`);
  return `${m[1]}${{ Ki: 'k', Mi: 'm', Gi: 'g' }[m[2] ?? ''] ?? 'b'}`;
}
function cpus(q: string | number): string {
  const s = String(q);
  return s.endsWith('m') ? String(Number(s.slice(0, -1)) / 1000) : s;
}

export interface PodOptions {
  /** container name (unique on the machine) */
  name: string;
  /** metadata.name of the pod, for the downward API */
  podName: string;
  namespace: string;
  /** a directory holding token, ca.crt and namespace, mounted read-only where Kubernetes mounts them */
  serviceAccountDir: string;
  apiServerPort: number;
  /** extra /etc/hosts entries (name -> address) */
  hosts?: Record<string, string>;
  /** false: pull from a plain-HTTP registry (the test's own, on loopback) */
  tlsVerify?: boolean;
}

export interface PodPlan {
  args: string[];
  /** containerPort by port name */
  ports: Map<string, number>;
  grace: number;
  preStopSleep: number;
  container: Obj;
  env: Map<string, string>;
}

/** The `podman run` arguments for the first container of a Deployment's pod template. */
export function plan(deployment: Obj, o: PodOptions): PodPlan {
  const pod = deployment['spec']['template']['spec'] as Obj;
  const containers = pod['containers'] as Obj[];
  if (containers.length !== 1 || pod['initContainers'] !== undefined) throw new Error('one container, no init containers, is what this translation knows');
  const c = containers[0] as Obj;
  const pull = { Always: 'always', IfNotPresent: 'missing', Never: 'never' }[(c['imagePullPolicy'] as string | undefined) ?? 'IfNotPresent'];
  if (pull === undefined) throw new Error(`imagePullPolicy ${c['imagePullPolicy']} is not translated`);
  const args = ['run', '--detach', '--name', o.name, ...RUN_FLAGS, '--pull', pull, ...(o.tlsVerify === false ? ['--tls-verify=false'] : [])];

  // Environment: the kubelet's API-server variables, then the container's own.
  const env = new Map<string, string>([
    ['KUBERNETES_SERVICE_HOST', API_SERVER_HOST],
    ['KUBERNETES_SERVICE_PORT', String(o.apiServerPort)],
    ['KUBERNETES_SERVICE_PORT_HTTPS', String(o.apiServerPort)],
  ]);
  for (const e of (c['env'] ?? []) as Obj[]) {
    if (typeof e['value'] === 'string') env.set(e['name'], expand(e['value'], env));
    else if (e['valueFrom']?.['fieldRef'] !== undefined) {
      const path = e['valueFrom']['fieldRef']['fieldPath'] as string;
      const field = { 'metadata.namespace': o.namespace, 'metadata.name': o.podName }[path];
      if (field === undefined) throw new Error(`env ${e['name']}: fieldRef ${path} is not translated`);
      env.set(e['name'], field);
    } else throw new Error(`env ${e['name']}: ${JSON.stringify(e)} is not translated`);
  }
  if (c['envFrom'] !== undefined) throw new Error('envFrom is not translated');
  for (const [k, v] of env) args.push('--env', `${k}=${v}`);

  // Security: the pod's context, then the container's over it.
  const sc = { ...(pod['securityContext'] ?? {}), ...(c['securityContext'] ?? {}) } as Obj;
  const known = new Set(['runAsNonRoot', 'runAsUser', 'runAsGroup', 'fsGroup', 'fsGroupChangePolicy', 'seccompProfile', 'allowPrivilegeEscalation', 'readOnlyRootFilesystem', 'privileged', 'capabilities']);
  for (const k of Object.keys(sc)) if (!known.has(k)) throw new Error(`securityContext.${k} is not translated`);
  if (sc['runAsUser'] === undefined) throw new Error('no runAsUser: the image user would decide');
  if (sc['runAsNonRoot'] === true && sc['runAsUser'] === 0) throw new Error('runAsNonRoot with runAsUser 0: the kubelet would refuse to start it');
  args.push('--user', `${sc['runAsUser']}:${sc['runAsGroup'] ?? sc['runAsUser']}`);
  if (sc['fsGroup'] !== undefined) args.push('--group-add', String(sc['fsGroup']));
  if (sc['seccompProfile'] !== undefined && sc['seccompProfile']['type'] !== 'RuntimeDefault') throw new Error(`seccompProfile ${sc['seccompProfile']['type']} is not translated`);
  if (sc['privileged'] === true) throw new Error('privileged is not translated');
  if (sc['allowPrivilegeEscalation'] === false) args.push('--security-opt', 'no-new-privileges');
  // --read-only-tmpfs=false: podman would otherwise mount writable tmpfs on /tmp, /run and /var/tmp.
  if (sc['readOnlyRootFilesystem'] === true) args.push('--read-only', '--read-only-tmpfs=false');
  for (const cap of (sc['capabilities']?.['drop'] ?? []) as string[]) args.push('--cap-drop', cap);
  for (const cap of (sc['capabilities']?.['add'] ?? []) as string[]) args.push('--cap-add', cap);

  // Volumes: emptyDirs as tmpfs; the service account's token as the kubelet projects it.
  const volumes = new Map(((pod['volumes'] ?? []) as Obj[]).map((v) => [v['name'] as string, v]));
  for (const m of (c['volumeMounts'] ?? []) as Obj[]) {
    const v = volumes.get(m['name']);
    if (v?.['emptyDir'] === undefined) throw new Error(`volume ${m['name']}: only emptyDir is translated`);
    const size = v['emptyDir']['sizeLimit'] as string | undefined;
    args.push('--mount', `type=tmpfs,destination=${m['mountPath']},tmpfs-mode=0777${size === undefined ? '' : `,tmpfs-size=${memory(size)}`}`);
  }
  if (pod['automountServiceAccountToken'] !== false) args.push('--volume', `${o.serviceAccountDir}:${SERVICE_ACCOUNT_DIR}:ro`);

  const limits = (c['resources']?.['limits'] ?? {}) as Obj;
  if (limits['memory'] !== undefined) args.push('--memory', memory(limits['memory']));
  if (limits['cpu'] !== undefined) args.push('--cpus', cpus(limits['cpu']));

  // Its own network namespace; the host's loopback as 10.0.2.2; each port published on loopback.
  args.push('--network', 'slirp4netns:allow_host_loopback=true', '--add-host', `${API_SERVER_HOST}:${HOST_LOOPBACK}`);
  for (const [host, address] of Object.entries(o.hosts ?? {})) args.push('--add-host', `${host}:${address}`);
  const ports = new Map<string, number>();
  for (const p of (c['ports'] ?? []) as Obj[]) {
    ports.set(p['name'], p['containerPort']);
    args.push('--publish', `127.0.0.1::${p['containerPort']}/${String(p['protocol'] ?? 'TCP').toLowerCase()}`);
  }

  const command = ((c['command'] ?? []) as string[]).map((s) => expand(s, env));
  if (command.length > 1) throw new Error('a command of more than one word is not translated');
  if (command.length === 1) args.push('--entrypoint', command[0] as string);
  args.push(c['image'], ...((c['args'] ?? []) as string[]).map((s) => expand(s, env)));

  const preStop = c['lifecycle']?.['preStop'];
  if (preStop !== undefined && preStop['sleep'] === undefined) throw new Error('only a preStop sleep is translated');
  return { args, ports, grace: pod['terminationGracePeriodSeconds'] ?? 30, preStopSleep: preStop?.['sleep']?.['seconds'] ?? 0, container: c, env };
}

/** Writes what the kubelet projects into a pod's service-account volume. */
export function serviceAccountFiles(dir: string, token: string, caPem: string, namespace: string): string {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'token'), token, { mode: 0o644 });
  writeFileSync(join(dir, 'ca.crt'), caPem, { mode: 0o644 });
  writeFileSync(join(dir, 'namespace'), namespace, { mode: 0o644 });
  return dir;
}

export interface RunningPod {
  name: string;
  plan: PodPlan;
  /** http://127.0.0.1:PORT of a named container port */
  url(port: string): string;
  logs(): Promise<string>;
  /** the preStop hook (a sleep), as the kubelet runs it before SIGTERM */
  preStop(): Promise<void>;
  /** SIGTERM (podman stop), SIGKILL after the rest of the grace period; resolves with the exit code */
  terminate(graceLeft?: number): Promise<number>;
  remove(): Promise<void>;
}

/**
 * A pod of the Deployment on the test's control plane, as the Deployment's ServiceAccount (a token
 * the API server issued for it), named `name` (also the container's name, with a unique suffix).
 */
export async function startPod(cluster: Cluster, deployment: Obj, podName: string, options: Pick<PodOptions, 'hosts' | 'tlsVerify'> = {}): Promise<RunningPod> {
  const namespace = deployment['metadata']['namespace'] as string;
  const sa = deployment['spec']['template']['spec']['serviceAccountName'] as string;
  const token = (await cluster.run(['create', 'token', '-n', namespace, sa, '--duration', '1h'])).trim();
  const apiServerPort = Number(/server: https:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(cluster.kubeconfig, 'utf8'))?.[1]);
  const caPem = readFileSync(join(cluster.dir, 'pki/apiserver.crt'), 'utf8');
  const dir = serviceAccountFiles(join(mkdtempSync(join(tmpdir(), 'gozargah-pod-')), 'serviceaccount'), token, caPem, namespace);
  const name = `gozargah-test-${podName}-${process.pid}-${Date.now().toString(36)}`;
  return runPod(deployment, { ...options, name, podName, namespace, serviceAccountDir: dir, apiServerPort });
}

export async function runPod(deployment: Obj, o: PodOptions): Promise<RunningPod> {
  const p = plan(deployment, o);
  await podman(['rm', '--force', '--ignore', o.name]);
  await podmanOk(p.args);
  const urls = new Map<string, string>();
  for (const [name, port] of p.ports) {
    const published = (await podmanOk(['port', o.name, `${port}/tcp`])).trim().split('\n')[0] ?? '';
    urls.set(name, `http://${published}`);
  }
  return {
    name: o.name,
    plan: p,
    url: (port) => {
      const u = urls.get(port);
      if (u === undefined) throw new Error(`no port named ${port}`);
      return u;
    },
    logs: async () => {
      const out = await podman(['logs', o.name]);
      return out.stdout + out.stderr;
    },
    preStop: () => new Promise((r) => setTimeout(r, p.preStopSleep * 1000)),
    terminate: async (graceLeft = p.grace - p.preStopSleep) => {
      await podmanOk(['stop', '--time', String(Math.max(1, graceLeft)), o.name]);
      return Number((await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', o.name])).trim());
    },
    remove: async () => {
      await podman(['rm', '--force', '--ignore', o.name]);
    },
  };
}

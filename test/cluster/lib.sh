# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this file
# Shared helpers for test/cluster/*.sh. Sourced, not executed.
# Defines: GZ_CLUSTER_HOME, GZ_CACHE, GZ_BIN, the pinned versions (versions.env) and the paths of the
# cached binaries (KUBE_APISERVER_BIN, KUBECTL_BIN, KUBELET_BIN, KUBE_PROXY_BIN, KUBE_SCHEDULER_BIN,
# KUBE_CONTROLLER_MANAGER_BIN, ETCD_BIN, HELM_BIN, HELM4_BIN, REGISTRY_BIN,
# COREDNS_BIN) and of the
# cached Prometheus Operator CRDs (MONITORING_CRDS_DIR), plus log/die helpers.

GZ_CLUSTER_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GZ_TOOLS="$GZ_CLUSTER_HOME/tools"

# shellcheck source=versions.env
. "$GZ_CLUSTER_HOME/versions.env"

if [ -z "${GOZARGAH_CACHE:-}" ] && [ -z "${HOME:-}" ]; then
  echo "error: neither GOZARGAH_CACHE nor HOME is set; set GOZARGAH_CACHE to a writable directory" >&2
  exit 1
fi
GZ_CACHE=${GOZARGAH_CACHE:-$HOME/.cache/gozargah}
GZ_BIN="$GZ_CACHE/bin"

KUBE_APISERVER_BIN="$GZ_BIN/kube-apiserver-$KUBERNETES_VERSION/kube-apiserver"
KUBECTL_BIN="$GZ_BIN/kubectl-$KUBERNETES_VERSION/kubectl"
KUBELET_BIN="$GZ_BIN/kubelet-$KUBERNETES_VERSION/kubelet"
KUBE_PROXY_BIN="$GZ_BIN/kube-proxy-$KUBERNETES_VERSION/kube-proxy"
KUBE_SCHEDULER_BIN="$GZ_BIN/kube-scheduler-$KUBERNETES_VERSION/kube-scheduler"
KUBE_CONTROLLER_MANAGER_BIN="$GZ_BIN/kube-controller-manager-$KUBERNETES_VERSION/kube-controller-manager"
ETCD_BIN="$GZ_BIN/etcd-$ETCD_VERSION/etcd"
HELM_BIN="$GZ_BIN/helm-$HELM_VERSION/helm"
HELM4_BIN="$GZ_BIN/helm-$HELM4_VERSION/helm"
REGISTRY_BIN="$GZ_BIN/registry-$REGISTRY_VERSION/registry"
COREDNS_BIN="$GZ_BIN/coredns-$COREDNS_VERSION/coredns"
# Not a binary: the directory of the Prometheus Operator's CRD files (its .built stamp as for binaries).
MONITORING_CRDS_DIR="$GZ_BIN/prometheus-operator-crds-$PROMETHEUS_OPERATOR_VERSION"

# Default cluster directory (up.sh, down.sh, env.sh); GOZARGAH_CLUSTER_DIR overrides it.
GZ_DEFAULT_CLUSTER_DIR="${TMPDIR:-/tmp}/gozargah-cluster"

GZ_LOG_PREFIX=${GZ_LOG_PREFIX:-cluster}

log() { printf '[%s] %s\n' "$GZ_LOG_PREFIX" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$GZ_LOG_PREFIX" "$*" >&2; exit 1; }

# A binary counts as cached when it is executable and build.sh wrote its .built stamp next to it.
gz_cached() { [ -x "$1" ] && [ -f "$(dirname "$1")/.built" ]; }

# Human-readable duration of N seconds.
gz_dur() { local s=$1; if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi; }

# Is PID alive and is its command line mentioning STRING? (guards against PID reuse)
gz_pid_matches() {
  local pid=$1 want=$2 args
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/cmdline" ]; then
    args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  else
    args=$(ps -o args= -p "$pid" 2>/dev/null) || return 1
  fi
  case "$args" in *"$want"*) return 0 ;; *) return 1 ;; esac
}

# gz_start DIR NAME CMD...: runs CMD detached (own session, no terminal, SIGHUP ignored, stdio on
# files) so it outlives the calling script; the process writes its own PID (exec keeps it) to
# DIR/NAME.pid and logs to DIR/NAME.log.
gz_start() {
  local dir=$1 name=$2 _
  shift 2
  rm -f "$dir/$name.pid"
  # shellcheck disable=SC2016  # $$, $0 and $@ belong to the inner bash
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$dir/$name.pid" "$@" </dev/null >>"$dir/$name.log" 2>&1 &
  for _ in $(seq 1 50); do
    [ -s "$dir/$name.pid" ] && break
    sleep 0.1
  done
  [ -s "$dir/$name.pid" ] || die "$name did not start (log: $dir/$name.log)"
  log "started $name (pid $(cat "$dir/$name.pid"), log $dir/$name.log)"
}

# gz_free_ports N: N distinct TCP ports free on 127.0.0.1, picked below the kernel's ephemeral range so an
# outgoing connection is unlikely to take one between this check and the servers binding them.
gz_free_ports() {
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import socket' >/dev/null 2>&1; then
    python3 - "$1" <<'EOF'
import random, socket, sys
n, held, tried = int(sys.argv[1]), [], set()
while len(held) < n and len(tried) < 5000:
    p = random.randint(20000, 32000)
    if p in tried:
        continue
    tried.add(p)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
        held.append(s)
    except OSError:
        s.close()
if len(held) < n:
    sys.exit("no free ports found")
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
  elif command -v node >/dev/null 2>&1; then
    node -e '
      const net = require("node:net");
      const n = Number(process.argv[1]), held = [], tried = new Set();
      const next = () => {
        if (held.length === n) { console.log(held.map((s) => s.address().port).join(" ")); held.forEach((s) => s.close()); return; }
        if (tried.size > 5000) { console.error("no free ports found"); process.exit(1); }
        let p; do { p = 20000 + Math.floor(Math.random() * 12000); } while (tried.has(p));
        tried.add(p);
        const s = net.createServer();
        s.once("error", next);
        s.listen({ port: p, host: "127.0.0.1", exclusive: true }, () => { held.push(s); next(); });
      };
      next();' "$1"
  else
    die "python3 or node is needed to find free ports"
  fi
}

# gz_stop PIDDIR MATCH NAME [TIMEOUT]: SIGTERM the PID in PIDDIR/NAME.pid (only while it is still a
# process whose command line mentions MATCH), SIGKILL after TIMEOUT seconds (default 5).
gz_stop() {
  local piddir=$1 match=$2 name=$3 timeout=${4:-5} pid t
  pid=$(cat "$piddir/$name.pid" 2>/dev/null || true)
  if [ -z "$pid" ]; then
    log "$name: no pid file"
    return
  fi
  if ! gz_pid_matches "$pid" "$match"; then
    log "$name: pid $pid is not running (already stopped)"
    return
  fi
  log "$name: stopping pid $pid (SIGTERM)"
  kill -TERM "$pid" 2>/dev/null || true
  t=0
  while gz_pid_matches "$pid" "$match" && [ "$t" -lt $((timeout * 10)) ]; do
    sleep 0.1
    t=$((t + 1))
  done
  if gz_pid_matches "$pid" "$match"; then
    log "$name: still running after ${timeout}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  gz_pid_matches "$pid" "$match" && die "$name (pid $pid) would not stop"
  log "$name: stopped"
}

# The local node (node-up.sh, node-down.sh): one per machine, since kube-proxy owns the host's
# KUBE-* iptables chains.
GZ_NODE_NAME=gozargah-node
GZ_NODE_BRIDGE=gz-node0
GZ_NODE_IP=10.244.0.1
GZ_NODE_POD_CIDR=10.244.0.0/24
GZ_NODE_GUARD=GOZARGAH-NODE-GUARD
GZ_NODE_OWNER=/run/gozargah-node.owner
GZ_PAUSE_IMAGE=localhost/gozargah/pause:1.0
GZ_CNI_BIN=${GOZARGAH_CNI_BIN:-/usr/lib/cni}

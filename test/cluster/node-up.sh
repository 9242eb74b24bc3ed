#!/usr/bin/env bash
# Starts a local Kubernetes cluster that runs pods: the control plane of up.sh plus
# kube-controller-manager and kube-scheduler, and one node (containerd with runc and Debian's CNI
# plugins, kubelet, kube-proxy in iptables mode, CoreDNS for Service names), all as processes of
# this machine. The chart's Deployments become pods, Services route through kube-proxy, and
# pods reach the API server at the `kubernetes` Service, as on any cluster.
#
# usage: test/cluster/node-up.sh [IMAGE ...]     (or: eval "$(test/cluster/node-up.sh IMAGE)")
#   IMAGE   podman images to load into the node's containerd (nothing can be pulled here)
# Progress goes to stderr; stdout carries only `export ...` lines for a shell to eval.
# env: GOZARGAH_CLUSTER_DIR (as for up.sh), GOZARGAH_NO_BUILD=1, GOZARGAH_READY_TIMEOUT,
#      GOZARGAH_NODE_HOLDER_PID: the process the node is for (default: the caller); a later
#      node-up.sh removes a node whose holder has gone instead of refusing to start.
# Needs root (containerd, network namespaces, iptables) and `make node-tools` (containerd, runc,
# CNI plugins, iptables, podman, gcc). Stop it with test/cluster/node-down.sh.
#
# Networking, all on this machine: a bridge gz-node0 with 10.244.0.1/24. The pods take addresses
# from it; 10.244.0.1 is the node's address, where kube-apiserver, the kubelet and CoreDNS listen,
# and an iptables rule drops anything sent to it from another interface than the bridge or
# loopback, so nothing listens beyond this machine. Services get 10.0.0.0/24 (up.sh's range).
# One such node per machine: kube-proxy owns the host's KUBE-* iptables chains.
set -euo pipefail

GZ_LOG_PREFIX=node-up
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

case "${1:-}" in -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
IMAGES=("$@")

DIR=${GOZARGAH_CLUSTER_DIR:-$GZ_DEFAULT_CLUSTER_DIR}
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
DIR=${DIR%/}
N="$DIR/node"
DOWN_CMD="GOZARGAH_CLUSTER_DIR=$(printf '%q' "$DIR") $GZ_CLUSTER_HOME/node-down.sh"

# ---- what the node needs ------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "a node needs root (containerd, network namespaces, iptables); run as root or use up.sh (control plane only)"
missing=()
for c in containerd ctr runc iptables ip podman gcc; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
for p in bridge host-local portmap loopback; do [ -x "$GZ_CNI_BIN/$p" ] || missing+=("$GZ_CNI_BIN/$p"); done
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]}; run 'make node-tools' (Debian: containerd runc containernetworking-plugins iptables iproute2 podman gcc libc6-dev)"
for b in "$KUBELET_BIN" "$KUBE_PROXY_BIN" "$KUBE_SCHEDULER_BIN" "$KUBE_CONTROLLER_MANAGER_BIN" "$COREDNS_BIN"; do
  if ! gz_cached "$b"; then
    [ "${GOZARGAH_NO_BUILD:-0}" != 1 ] || die "$(basename "$b") is not in $GZ_BIN; run $GZ_CLUSTER_HOME/build.sh node coredns"
    "$GZ_CLUSTER_HOME/build.sh" node coredns
    break
  fi
done
for i in "${IMAGES[@]}"; do podman image exists "$i" || die "image $i is not in podman's storage (make image builds the project's)"; done

# The process the node is for (a test file, or the shell that ran this script): when it has gone,
# so has any use of its node.
HOLDER=${GOZARGAH_NODE_HOLDER_PID:-$PPID}
if ip link show "$GZ_NODE_BRIDGE" >/dev/null 2>&1; then
  read -r owner holder <"$GZ_NODE_OWNER" 2>/dev/null || owner=unknown holder=
  if [ -n "$holder" ] && ! kill -0 "$holder" 2>/dev/null && [ "$owner" != unknown ]; then
    log "removing the node left behind by process $holder, which has gone (cluster $owner)"
    GOZARGAH_CLUSTER_DIR=$owner "$GZ_CLUSTER_HOME/node-down.sh" >&2
  else
    die "a node is already running on this machine (bridge $GZ_NODE_BRIDGE, cluster $owner, for process ${holder:-unknown}); stop it with GOZARGAH_CLUSTER_DIR=$owner $GZ_CLUSTER_HOME/node-down.sh"
  fi
fi

# ---- the control plane, on the node's address -----------------------------------------------------
# On failure: tear down whatever was started (node-down.sh knows every piece).
started_ok=0
trap '[ "$started_ok" = 1 ] || { log "startup failed; logs: $N/*.log"; GOZARGAH_NODE_KEEP_LOGS=1 "$GZ_CLUSTER_HOME/node-down.sh" >&2 || true; }' EXIT

ip link add "$GZ_NODE_BRIDGE" type bridge
printf '%s %s\n' "$DIR" "$HOLDER" >"$GZ_NODE_OWNER"
ip addr add "$GZ_NODE_IP/24" dev "$GZ_NODE_BRIDGE"
ip link set "$GZ_NODE_BRIDGE" up
# Only this machine and its pods reach the node's address.
iptables -w -N "$GZ_NODE_GUARD"
iptables -w -A "$GZ_NODE_GUARD" -i lo -j RETURN
iptables -w -A "$GZ_NODE_GUARD" -i "$GZ_NODE_BRIDGE" -j RETURN
iptables -w -A "$GZ_NODE_GUARD" -j DROP
iptables -w -I INPUT -d "$GZ_NODE_IP" -j "$GZ_NODE_GUARD"
# Service traffic between pods on one bridge passes through iptables (kube-proxy's DNAT).
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 >/dev/null

GOZARGAH_APISERVER_ADDRESS=$GZ_NODE_IP "$GZ_CLUSTER_HOME/up.sh" >/dev/null
# shellcheck source=/dev/null
. "$DIR/cluster.env"
mkdir -p "$N"
KCFG="$DIR/kubeconfig"
kubectl() { "$KUBECTL_BIN" --kubeconfig "$KCFG" "$@"; }

read -r KCM_PORT SCHED_PORT KUBELET_HEALTHZ PROXY_HEALTHZ PROXY_METRICS <<<"$(gz_free_ports 5)"

gz_start "$N" kube-controller-manager "$KUBE_CONTROLLER_MANAGER_BIN" \
  --kubeconfig="$KCFG" --authentication-kubeconfig="$KCFG" --authorization-kubeconfig="$KCFG" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
  --service-account-private-key-file="$DIR/pki/sa.key" --root-ca-file="$DIR/pki/apiserver.crt" \
  --use-service-account-credentials=false --controllers='*,-nodeipam,-cloud-node-lifecycle,-route,-service'
gz_start "$N" kube-scheduler "$KUBE_SCHEDULER_BIN" \
  --kubeconfig="$KCFG" --authentication-kubeconfig="$KCFG" --authorization-kubeconfig="$KCFG" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --leader-elect=false

# ---- CoreDNS on the node's address: Service names for the pods; nothing outside the cluster -----
cat >"$N/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind $GZ_NODE_IP
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KCFG gozargah-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
}
.:53 {
    bind $GZ_NODE_IP
    errors
    template ANY ANY {
        rcode NXDOMAIN
    }
}
EOF
gz_start "$N" coredns "$COREDNS_BIN" -conf "$N/Corefile" -dns.port 53

# ---- containerd, with the images ----------------------------------------------------------------
mkdir -p "$N/cni" "$N/containerd"
cat >"$N/cni/10-gozargah.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "gozargah-node",
  "plugins": [
    {
      "type": "bridge", "bridge": "$GZ_NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local", "dataDir": "$N/cni-ipam",
        "ranges": [[{ "subnet": "$GZ_NODE_POD_CIDR", "gateway": "$GZ_NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
# restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so no process may lower its
# oom_score_adj, and runc fails every sandbox containerd gives -998 (docs/kubelet-on-this-machine.md).
cat >"$N/containerd.toml" <<EOF
version = 2
root = "$N/containerd/root"
state = "$N/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$N/containerd.sock"
[ttrpc]
  address = "$N/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$N/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$GZ_PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$GZ_CNI_BIN"
    conf_dir = "$N/cni"
EOF
gz_start "$N" containerd containerd --config "$N/containerd.toml"
ctr() { command ctr --address "$N/containerd.sock" --namespace k8s.io "$@"; }
deadline=$((SECONDS + 30))
until ctr version >/dev/null 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || { tail -n 20 "$N/containerd.log" >&2; die "containerd did not answer on $N/containerd.sock"; }
  sleep 0.2
done

# The sandbox (pause) image: a static pause() loop, built once into the cache.
pause_tar="$GZ_CACHE/pause/pause.tar"
if [ ! -f "$pause_tar" ]; then
  log "building the pause image (a static C pause loop) into $pause_tar"
  tmp=$(mktemp -d)
  cat >"$tmp/pause.c" <<'EOF'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int s) { (void)s; exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) { signal(SIGINT, quit); signal(SIGTERM, quit); signal(SIGCHLD, reap); for (;;) pause(); }
EOF
  gcc -Os -static -o "$tmp/pause" "$tmp/pause.c"
  tar -C "$tmp" -cf "$tmp/rootfs.tar" pause
  podman import --quiet --change 'ENTRYPOINT ["/pause"]' "$tmp/rootfs.tar" "$GZ_PAUSE_IMAGE" >/dev/null
  mkdir -p "$(dirname "$pause_tar")"
  podman save --quiet --format docker-archive -o "$pause_tar.tmp" "$GZ_PAUSE_IMAGE"
  mv "$pause_tar.tmp" "$pause_tar"
  rm -rf "$tmp"
fi
ctr images import --no-unpack=false "$pause_tar" >/dev/null
for i in "${IMAGES[@]}"; do
  log "loading $i into the node's containerd"
  podman save --quiet --format docker-archive "$i" | ctr images import - >/dev/null
done

# ---- kubelet and kube-proxy ---------------------------------------------------------------------
# cgroupfs and cgroup v1 are what this machine has; eviction cannot read the root device's usage
# here (cAdvisor), so only memory pressure evicts.
cat >"$N/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $GZ_NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ
containerRuntimeEndpoint: unix://$N/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
enforceNodeAllocatable: []
evictionHard: { memory.available: 100Mi }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
clusterDNS: [$GZ_NODE_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
authentication: { anonymous: { enabled: true }, webhook: { enabled: false } }
authorization: { mode: AlwaysAllow }
serializeImagePulls: false
EOF
gz_start "$N" kubelet "$KUBELET_BIN" --config "$N/kubelet.yaml" --kubeconfig "$KCFG" \
  --root-dir "$N/kubelet" --cert-dir "$N/kubelet-pki" --hostname-override "$GZ_NODE_NAME" --node-ip "$GZ_NODE_IP"

cat >"$N/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $KCFG }
hostnameOverride: $GZ_NODE_NAME
mode: iptables
clusterCIDR: $GZ_NODE_POD_CIDR
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ
metricsBindAddress: 127.0.0.1:$PROXY_METRICS
nodePortAddresses: [$GZ_NODE_IP/32]
conntrack: { maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
EOF
gz_start "$N" kube-proxy "$KUBE_PROXY_BIN" --config "$N/kube-proxy.yaml"

# ---- ready: the node, the default ServiceAccount, kube-proxy's rules ----------------------------
deadline=$((SECONDS + ${GOZARGAH_READY_TIMEOUT:-60}))
until kubectl get node "$GZ_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True &&
  kubectl get serviceaccount default -n default >/dev/null 2>&1 &&
  iptables -w -t nat -S KUBE-SERVICES 2>/dev/null | grep -q 'default/kubernetes:https'; do
  for p in kubelet kube-proxy containerd kube-controller-manager kube-scheduler coredns; do
    gz_pid_matches "$(cat "$N/$p.pid" 2>/dev/null)" "$DIR" || { tail -n 25 "$N/$p.log" >&2; die "$p exited during startup (log: $N/$p.log)"; }
  done
  [ "$SECONDS" -lt "$deadline" ] || die "the node was not Ready (kubelet, kube-proxy's rules, the default ServiceAccount) within ${GOZARGAH_READY_TIMEOUT:-60}s; logs: $N/*.log"
  sleep 0.3
done
started_ok=1
log "node $GZ_NODE_NAME Ready at $GZ_NODE_IP (pods $GZ_NODE_POD_CIDR, Services 10.0.0.0/24, DNS cluster.local); stop it with: $DOWN_CMD"
printf 'export GOZARGAH_CLUSTER_DIR=%q\nexport KUBECONFIG=%q\n' "$DIR" "$KCFG"

#!/usr/bin/env bash
# Stops the cluster node-up.sh started and leaves the machine as it found it: the pods (through
# the kubelet, so their network namespaces and addresses are released), the node's processes,
# kube-proxy's iptables rules, the guard rule, the kubelet's mounts and the bridge; then the
# control plane (down.sh), which removes the cluster directory.
#
# usage: test/cluster/node-down.sh
# env: GOZARGAH_CLUSTER_DIR (as for up.sh), GOZARGAH_NODE_KEEP_LOGS=1 keeps the directory (logs).
set -euo pipefail

GZ_LOG_PREFIX=node-down
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

DIR=${GOZARGAH_CLUSTER_DIR:-$GZ_DEFAULT_CLUSTER_DIR}
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
DIR=${DIR%/}
N="$DIR/node"
[ "$(id -u)" = 0 ] || die "stopping a node needs root, as starting it did"
if [ -e "$DIR" ] && { [ -z "$DIR" ] || [ "$DIR" = / ] || [ ! -f "$DIR/.gozargah-cluster" ]; }; then
  die "$DIR is not a gozargah cluster directory (no .gozargah-cluster marker); not touching it"
fi
alive() { gz_pid_matches "$(cat "$N/$1.pid" 2>/dev/null)" "$DIR"; }
ctr() { command ctr --address "$N/containerd.sock" --namespace k8s.io "$@"; }

# The pods first, while the kubelet and containerd run: the kubelet tears each sandbox down
# (CNI DEL), which kill -9 of the containers would not. Without the controllers nothing makes
# new ones.
if [ -d "$N" ]; then
  gz_stop "$N" "$DIR" kube-controller-manager
  gz_stop "$N" "$DIR" kube-scheduler
  if alive kubelet && alive containerd && [ -f "$DIR/kubeconfig" ]; then
    "$KUBECTL_BIN" --kubeconfig "$DIR/kubeconfig" delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
    deadline=$((SECONDS + 30))
    while [ -n "$(ctr tasks ls -q 2>/dev/null)" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
    [ "$SECONDS" -lt "$deadline" ] || log "pods still running after 30s: stopping them with the runtime"
  fi
  for p in kubelet kube-proxy coredns; do gz_stop "$N" "$DIR" "$p"; done
  gz_stop "$N" "$DIR" containerd
  # The shims outlive containerd; any left run containers of this node only.
  for pid in $(pgrep -f "containerd-shim.*$N/containerd.sock" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  "$KUBE_PROXY_BIN" --cleanup >"$N/kube-proxy-cleanup.log" 2>&1 || log "kube-proxy --cleanup failed (log: $N/kube-proxy-cleanup.log)"
  # What the kubelet adds (KUBE-FIREWALL, its canaries) and anything kube-proxy left.
  for ipt in iptables ip6tables; do
    for table in filter nat mangle; do
      "$ipt" -w -t "$table" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' | cut -d' ' -f2- |
        while read -r rule; do eval "$ipt -w -t $table -D $rule" 2>/dev/null || true; done || true
      for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do
        "$ipt" -w -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$ipt" -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ { print $2 }'); do
        "$ipt" -w -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
  # The kubelet bind-mounts its pods' volumes (and its root directory) below N.
  { grep -o " $N/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
fi

owner=
read -r owner _ <"$GZ_NODE_OWNER" 2>/dev/null || true
if [ "$owner" = "$DIR" ]; then
  while iptables -w -D INPUT -d "$GZ_NODE_IP" -j "$GZ_NODE_GUARD" 2>/dev/null; do :; done
  iptables -w -F "$GZ_NODE_GUARD" 2>/dev/null || true
  iptables -w -X "$GZ_NODE_GUARD" 2>/dev/null || true
  ip link del "$GZ_NODE_BRIDGE" 2>/dev/null || true
  rm -f "$GZ_NODE_OWNER"
  log "removed the bridge $GZ_NODE_BRIDGE and the guard rule"
fi

if [ "${GOZARGAH_NODE_KEEP_LOGS:-0}" = 1 ]; then
  "$GZ_CLUSTER_HOME/down.sh" --keep
else
  "$GZ_CLUSTER_HOME/down.sh"
fi

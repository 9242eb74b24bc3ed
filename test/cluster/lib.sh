# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this file
# Shared helpers for test/cluster/*.sh. Sourced, not executed.
# Defines: GZ_CLUSTER_HOME, GZ_CACHE, GZ_BIN, the pinned versions (versions.env) and the paths of the
# cached binaries (KUBE_APISERVER_BIN, KUBECTL_BIN, ETCD_BIN, HELM_BIN, HELM4_BIN, REGISTRY_BIN) and of the
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
ETCD_BIN="$GZ_BIN/etcd-$ETCD_VERSION/etcd"
HELM_BIN="$GZ_BIN/helm-$HELM_VERSION/helm"
HELM4_BIN="$GZ_BIN/helm-$HELM4_VERSION/helm"
REGISTRY_BIN="$GZ_BIN/registry-$REGISTRY_VERSION/registry"
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

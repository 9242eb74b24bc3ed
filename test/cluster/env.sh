# Source this file (bash, zsh or sh) to use the cluster started by test/cluster/up.sh:
#   . test/cluster/env.sh
# It exports, from the cluster directory ($GOZARGAH_CLUSTER_DIR, default ${TMPDIR:-/tmp}/gozargah-cluster):
#   GOZARGAH_CLUSTER_DIR        the cluster directory
#   KUBECONFIG                  $GOZARGAH_CLUSTER_DIR/kubeconfig (admin token, CA = the self-signed serving cert)
#   KUBECTL, HELM               the cached kubectl and helm binaries (HELM may not be built yet: build.sh helm)
#   GOZARGAH_APISERVER_URL      https://127.0.0.1:<port>
#   GOZARGAH_APISERVER_CA       the serving certificate (PEM) to trust
#   GOZARGAH_ADMIN_TOKEN_FILE   file holding the admin bearer token (user gozargah-admin, group system:masters)
#   GOZARGAH_ETCD_URL           http://127.0.0.1:<port>
#   GOZARGAH_KUBERNETES_VERSION the pinned Kubernetes version
# and puts $GOZARGAH_CLUSTER_DIR/bin (kubectl, helm, ...) first on PATH.
# Returns non-zero (without exiting the calling shell) when no cluster is running there.
# Deliberately does not `set -euo pipefail`: that would change the options of the shell sourcing it.

_gz_dir=${GOZARGAH_CLUSTER_DIR:-${TMPDIR:-/tmp}/gozargah-cluster}
_gz_ok=1
if [ ! -f "$_gz_dir/cluster.env" ]; then
  echo "env.sh: no running cluster in $_gz_dir (start one with test/cluster/up.sh)" >&2
  _gz_ok=0
elif ! _gz_pid=$(cat "$_gz_dir/kube-apiserver.pid" 2>/dev/null) || ! kill -0 "$_gz_pid" 2>/dev/null; then
  echo "env.sh: the cluster in $_gz_dir is not running (kube-apiserver stopped); run test/cluster/down.sh then up.sh" >&2
  _gz_ok=0
else
  # shellcheck source=/dev/null
  . "$_gz_dir/cluster.env"
  case ":$PATH:" in
    *":$_gz_dir/bin:"*) ;;
    *) PATH="$_gz_dir/bin:$PATH" && export PATH ;;
  esac
fi
unset _gz_dir _gz_pid
if [ "$_gz_ok" = 1 ]; then unset _gz_ok; true; else unset _gz_ok; false; fi

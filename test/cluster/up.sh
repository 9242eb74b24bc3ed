#!/usr/bin/env bash
# Starts a local, real Kubernetes control plane (etcd + kube-apiserver) on 127.0.0.1, on free ports,
# in a cluster directory (default ${TMPDIR:-/tmp}/gozargah-cluster, or $GOZARGAH_CLUSTER_DIR).
# Binaries come from the build.sh cache (built first if missing, unless GOZARGAH_NO_BUILD=1).
#
# usage: test/cluster/up.sh            (or: eval "$(test/cluster/up.sh)")
# Progress goes to stderr; stdout carries only `export ...` lines for a shell to eval.
# env: GOZARGAH_CLUSTER_DIR   cluster directory (kubeconfig, certificates, logs, etcd data, pid files)
#      GOZARGAH_CACHE         binary cache root (see build.sh)
#      GOZARGAH_READY_TIMEOUT seconds to wait for /readyz (default 60)
#      GOZARGAH_ETCD_FSYNC=1  keep etcd's fsync (default: --unsafe-no-fsync, the data is throw-away)
#      GOZARGAH_NO_BUILD=1    fail instead of running build.sh when binaries are missing
#      GOZARGAH_APISERVER_ADDRESS  the local address kube-apiserver binds and advertises (default
#                             127.0.0.1); node-up.sh gives the pod bridge's, so that pods reach it
# Stop it with test/cluster/down.sh; load its settings into a shell with `. test/cluster/env.sh`.
set -euo pipefail

GZ_LOG_PREFIX=up
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

case "${1:-}" in
  -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac

DIR=${GOZARGAH_CLUSTER_DIR:-$GZ_DEFAULT_CLUSTER_DIR}
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
DIR=${DIR%/}
if [ -z "$DIR" ] || [ "$DIR" = / ]; then die "refusing to use '/' as the cluster directory"; fi
READY_TIMEOUT=${GOZARGAH_READY_TIMEOUT:-60}
MARKER="$DIR/.gozargah-cluster"
DOWN_CMD="$GZ_CLUSTER_HOME/down.sh"
[ "$DIR" = "$GZ_DEFAULT_CLUSTER_DIR" ] || DOWN_CMD="GOZARGAH_CLUSTER_DIR=$(printf '%q' "$DIR") $DOWN_CMD"

# Prints the lines a shell evals to use the cluster (stdout).
print_exports() {
  printf 'export GOZARGAH_CLUSTER_DIR=%q\n' "$DIR"
  printf 'export KUBECONFIG=%q\n' "$DIR/kubeconfig"
  # shellcheck disable=SC2016  # $PATH is expanded by the shell that evals this line
  printf 'export PATH=%q:"$PATH"\n' "$DIR/bin"
}

# ---- already running? -------------------------------------------------------------------------
alive() { [ -f "$DIR/$1.pid" ] && gz_pid_matches "$(cat "$DIR/$1.pid" 2>/dev/null)" "$DIR"; }
if [ -e "$DIR" ]; then
  if [ ! -f "$MARKER" ]; then
    if [ -d "$DIR" ] && [ -z "$(ls -A "$DIR")" ]; then
      : # empty directory: use it
    else
      die "$DIR exists and is not a gozargah cluster directory; remove it or set GOZARGAH_CLUSTER_DIR"
    fi
  elif alive kube-apiserver && alive etcd; then
    log "a cluster is already up in $DIR (kube-apiserver pid $(cat "$DIR/kube-apiserver.pid"), etcd pid $(cat "$DIR/etcd.pid")): not starting another"
    log "  server: $(sed -n 's/^export GOZARGAH_APISERVER_URL=//p' "$DIR/cluster.env" 2>/dev/null)"
    log "  stop it with: $DOWN_CMD"
    print_exports
    exit 0
  elif alive kube-apiserver || alive etcd; then
    die "the cluster in $DIR is half up (one of etcd/kube-apiserver died; logs: $DIR/*.log); run $DOWN_CMD first"
  else
    [ -w "$DIR" ] || die "$DIR holds a stopped cluster that belongs to someone else; set GOZARGAH_CLUSTER_DIR"
    log "removing the stopped cluster left in $DIR"
    rm -rf "$DIR"
  fi
fi

# ---- binaries and tools -----------------------------------------------------------------------
if ! gz_cached "$KUBE_APISERVER_BIN" || ! gz_cached "$KUBECTL_BIN" || ! gz_cached "$ETCD_BIN"; then
  [ "${GOZARGAH_NO_BUILD:-0}" != 1 ] || die "kube-apiserver/kubectl/etcd are not in $GZ_BIN; run $GZ_CLUSTER_HOME/build.sh"
  log "binaries missing from $GZ_BIN: running build.sh kube etcd"
  "$GZ_CLUSTER_HOME/build.sh" kube etcd
fi
command -v openssl >/dev/null 2>&1 || die "openssl is required (apt-get install openssl)"

# ---- cluster directory, certificates, tokens ----------------------------------------------------
umask 077
mkdir -p "$DIR/pki" "$DIR/bin"
touch "$MARKER"
log "cluster directory: $DIR"

read -r ETCD_PORT ETCD_PEER_PORT APISERVER_PORT <<<"$(gz_free_ports 3)" || die "could not find free ports"
[ -n "$APISERVER_PORT" ] || die "could not find free ports"
APISERVER_ADDRESS=${GOZARGAH_APISERVER_ADDRESS:-127.0.0.1}
APISERVER_URL="https://$APISERVER_ADDRESS:$APISERVER_PORT"
ETCD_URL="http://127.0.0.1:$ETCD_PORT"
log "ports: kube-apiserver $APISERVER_PORT, etcd client $ETCD_PORT, etcd peer $ETCD_PEER_PORT"

PKI="$DIR/pki"
export APISERVER_ADDRESS # the certificate's subjectAltName reads it
cat >"$PKI/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = gozargah-local-kube-apiserver
[serving]
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyEncipherment, keyCertSign
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = IP:127.0.0.1, IP:${ENV::APISERVER_ADDRESS}, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP:10.0.0.1
EOF
# Self-signed serving certificate: the kubeconfig trusts exactly this certificate.
openssl req -x509 -config "$PKI/openssl.cnf" -extensions serving -newkey rsa:2048 -nodes -sha256 -days 365 \
  -keyout "$PKI/apiserver.key" -out "$PKI/apiserver.crt" 2>"$PKI/openssl.log" ||
  { cat "$PKI/openssl.log" >&2; die "openssl could not create the serving certificate"; }
# Service-account token signing key pair.
if ! openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" 2>>"$PKI/openssl.log" ||
  ! openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>>"$PKI/openssl.log"; then
  cat "$PKI/openssl.log" >&2
  die "openssl could not create the service-account key pair"
fi
chmod 644 "$PKI/apiserver.crt" # the CA file is public; keys stay 0600

TOKEN=$(openssl rand -hex 32)
printf '%s,gozargah-admin,gozargah-admin,"system:masters"\n' "$TOKEN" >"$DIR/tokens.csv"

cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gozargah-local
  cluster:
    server: $APISERVER_URL
    certificate-authority: $PKI/apiserver.crt
users:
- name: gozargah-admin
  user:
    token: $TOKEN
contexts:
- name: gozargah-local
  context:
    cluster: gozargah-local
    user: gozargah-admin
    namespace: default
current-context: gozargah-local
EOF

ln -sf "$KUBECTL_BIN" "$DIR/bin/kubectl"
ln -sf "$KUBE_APISERVER_BIN" "$DIR/bin/kube-apiserver"
ln -sf "$ETCD_BIN" "$DIR/bin/etcd"
gz_cached "$HELM_BIN" && ln -sf "$HELM_BIN" "$DIR/bin/helm"

# ---- processes ----------------------------------------------------------------------------------
start() { gz_start "$DIR" "$@"; }

# On failure: stop what was started (the directory and its logs stay for inspection).
started_ok=0
cleanup_on_failure() {
  if [ "$started_ok" = 0 ]; then
    local n p
    for n in kube-apiserver etcd; do
      p=$(cat "$DIR/$n.pid" 2>/dev/null || true)
      if gz_pid_matches "$p" "$DIR"; then
        kill -TERM "$p" 2>/dev/null || true
        sleep 1
        if gz_pid_matches "$p" "$DIR"; then kill -KILL "$p" 2>/dev/null || true; fi
      fi
    done
    log "startup failed; processes stopped, logs kept in $DIR (remove with $DOWN_CMD)"
  fi
}
trap cleanup_on_failure EXIT

fail_with_log() { # NAME MESSAGE
  log "last lines of $DIR/$1.log:"
  tail -n 25 "$DIR/$1.log" >&2 || true
  die "$2"
}

etcd_args=(
  --name gozargah
  --data-dir "$DIR/etcd"
  --listen-client-urls "$ETCD_URL"
  --advertise-client-urls "$ETCD_URL"
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-cluster "gozargah=http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-cluster-state new
  --log-level warn
)
[ "${GOZARGAH_ETCD_FSYNC:-0}" = 1 ] || etcd_args+=(--unsafe-no-fsync)
start etcd "$ETCD_BIN" "${etcd_args[@]}"

# Wait for etcd (up to 30s).
deadline=$((SECONDS + 30))
etcd_ready() {
  if command -v curl >/dev/null 2>&1; then
    curl -s --max-time 2 "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'
  else # no curl: the client port accepting connections will do; kube-apiserver retries anyway
    (exec 3<>"/dev/tcp/127.0.0.1/$ETCD_PORT") 2>/dev/null
  fi
}
until etcd_ready; do
  alive etcd || fail_with_log etcd "etcd exited during startup"
  [ "$SECONDS" -lt "$deadline" ] || fail_with_log etcd "etcd not healthy at $ETCD_URL after 30s"
  sleep 0.2
done
log "etcd healthy at $ETCD_URL"

# On loopback, --endpoint-reconciler-type=none: the "kubernetes" Service's endpoints would be
# 127.0.0.1, which Endpoints validation rejects, logging an error every 10s, and no pod runs then.
# On the pod bridge (node-up.sh) they are its address, which pods reach through kube-proxy; the
# API server asks kubelets for logs and port-forwards at their InternalIP, the only address they have.
address_args=(--bind-address="$APISERVER_ADDRESS" --advertise-address="$APISERVER_ADDRESS")
if [ "$APISERVER_ADDRESS" = 127.0.0.1 ]; then
  address_args+=(--endpoint-reconciler-type=none)
else
  address_args+=(--kubelet-preferred-address-types=InternalIP)
fi
start kube-apiserver "$KUBE_APISERVER_BIN" \
  --etcd-servers="$ETCD_URL" \
  "${address_args[@]}" \
  --secure-port="$APISERVER_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" \
  --tls-private-key-file="$PKI/apiserver.key" \
  --token-auth-file="$DIR/tokens.csv" \
  --authorization-mode=Node,RBAC \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range=10.0.0.0/24 \
  --allow-privileged=true \
  --profiling=false

# Wait for /readyz.
deadline=$((SECONDS + READY_TIMEOUT))
t0=$SECONDS
until out=$("$KUBECTL_BIN" --kubeconfig "$DIR/kubeconfig" --request-timeout=2s get --raw /readyz 2>&1) && [ "$out" = ok ]; do
  alive kube-apiserver || fail_with_log kube-apiserver "kube-apiserver exited during startup"
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "/readyz did not answer ok within ${READY_TIMEOUT}s; failing checks / last answer:"
    "$KUBECTL_BIN" --kubeconfig "$DIR/kubeconfig" --request-timeout=2s get --raw '/readyz?verbose' 2>&1 |
      sed 's/\\n/\n/g' | grep -vE '^\[\+\]|^$' | head -n 20 >&2 || true
    fail_with_log kube-apiserver "kube-apiserver not ready at $APISERVER_URL after ${READY_TIMEOUT}s"
  fi
  sleep 0.3
done
log "kube-apiserver ready at $APISERVER_URL ($(gz_dur $((SECONDS - t0))) after start)"

cat >"$DIR/cluster.env" <<EOF
export GOZARGAH_CLUSTER_DIR=$(printf '%q' "$DIR")
export KUBECONFIG=$(printf '%q' "$DIR/kubeconfig")
export KUBECTL=$(printf '%q' "$KUBECTL_BIN")
export HELM=$(printf '%q' "$HELM_BIN")
export GOZARGAH_APISERVER_URL=$APISERVER_URL
export GOZARGAH_APISERVER_CA=$(printf '%q' "$PKI/apiserver.crt")
export GOZARGAH_ADMIN_TOKEN_FILE=$(printf '%q' "$DIR/admin.token")
export GOZARGAH_ETCD_URL=$ETCD_URL
export GOZARGAH_KUBERNETES_VERSION=$KUBERNETES_VERSION
EOF
printf '%s\n' "$TOKEN" >"$DIR/admin.token"
started_ok=1

log "cluster up: Kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION"
log "  kubeconfig: $DIR/kubeconfig   kubectl: $KUBECTL_BIN (linked as $DIR/bin/kubectl)"
log "  use it:     . $GZ_CLUSTER_HOME/env.sh  (with the same GOZARGAH_CLUSTER_DIR), or eval the lines printed below"
log "  stop it:    $DOWN_CMD"
print_exports

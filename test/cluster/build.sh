#!/usr/bin/env bash
# Builds and caches the binaries of the local control plane from the Go module proxy:
#   kube-apiserver, kubectl, and for test/node/ kubelet, kube-proxy, kube-scheduler and
#   kube-controller-manager (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3), helm (helm.sh/helm/v3),
#   registry (github.com/distribution/distribution/v3: a local OCI registry for the image test),
#   helm4 (helm.sh/helm/v4: the chart is tested with Helm 4 as well),
#   monitoring-crds (the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs: files, not built)
# at the versions pinned in versions.env, into ${GOZARGAH_CACHE:-$HOME/.cache/gozargah}/bin/<component>-<version>/.
# A binary already in the cache is not rebuilt, so a second run takes seconds.
#
# usage: test/cluster/build.sh [--force] [--regen] [kube|node|coredns|etcd|helm|helm4|registry|monitoring-crds ...]
#   --force   rebuild even if the cache has the binaries
#   --regen   regenerate go.mod/go.sum under test/cluster/tools/<module>/ (go mod tidy), then rebuild
#   kube|node|etcd|...   build only these (default: all; kube = kube-apiserver + kubectl,
#                   node = kubelet + kube-proxy + kube-scheduler + kube-controller-manager)
# env: GOZARGAH_CACHE (cache root), GO (go binary), the usual GOPROXY/GOMODCACHE/GOCACHE.
set -euo pipefail

GZ_LOG_PREFIX=build
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

force=0 regen=0 targets=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --regen) regen=1 force=1 ;;
    kube | node | coredns | etcd | helm | helm4 | registry | monitoring-crds) targets+=("$arg") ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (see --help)" ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(kube node coredns etcd helm helm4 registry monitoring-crds)

# ---- Go toolchain -----------------------------------------------------------------------------
find_go() {
  if [ -n "${GO:-}" ]; then
    command -v "$GO" >/dev/null 2>&1 || die "GO=$GO is not an executable"
  elif command -v go >/dev/null 2>&1; then
    GO=$(command -v go)
  elif [ -x /usr/local/go/bin/go ]; then
    GO=/usr/local/go/bin/go
  else
    die "'go' not found on PATH (nor /usr/local/go/bin/go). Install Go >= $GO_MIN_VERSION (https://go.dev/dl/) and put it on PATH, or set GO=/path/to/go."
  fi
  local v
  v=$("$GO" env GOVERSION 2>/dev/null) || die "'$GO env GOVERSION' failed; is $GO a working Go toolchain?"
  v=${v#go}
  v=${v%% *}
  if [ "$(printf '%s\n%s\n' "$GO_MIN_VERSION" "$v" | sort -V | head -n1)" != "$GO_MIN_VERSION" ]; then
    if [ "$("$GO" env GOTOOLCHAIN)" = local ]; then
      die "Go $v at $GO is older than the required $GO_MIN_VERSION (GOTOOLCHAIN=local). Install a newer Go or set GOTOOLCHAIN=auto."
    fi
    log "warning: Go $v < $GO_MIN_VERSION; the go command will switch toolchains (GOTOOLCHAIN=$("$GO" env GOTOOLCHAIN))"
  fi
  log "using $GO (go$v), GOMODCACHE=$("$GO" env GOMODCACHE), GOCACHE=$("$GO" env GOCACHE)"
}

# Module builds: no vendoring, no workspace from a parent directory, no VCS stamping (the modules
# live inside this git repository, which has nothing to do with the binaries), static binaries.
export GOFLAGS="-mod=mod -buildvcs=false"
export GOWORK=off
export CGO_ENABLED=0

# ---- helpers ----------------------------------------------------------------------------------
mkdir -p "$GZ_BIN" "$GZ_CACHE/logs"
GZ_TMP_OUT=
trap '[ -z "$GZ_TMP_OUT" ] || rm -rf "$GZ_TMP_OUT"' EXIT

# Serialise concurrent build.sh runs sharing a cache.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$GZ_CACHE/.build.lock"
  if ! flock -n 9; then
    log "another build.sh holds $GZ_CACHE/.build.lock; waiting for it"
    flock 9
  fi
fi

# in_dir DIR CMD...: runs CMD in DIR (run_logged runs it in a background subshell, so the cd stays there).
in_dir() { cd "$1" && shift && "$@"; }

# run_logged LOGFILE DESCRIPTION CMD...: runs CMD in the background, printing a progress line every 30s
# (with the number of packages compiled so far when CMD is `go build -v`); on failure shows the log tail.
run_logged() {
  local logfile=$1 what=$2 pid start last rc
  shift 2
  start=$SECONDS last=$SECONDS
  "$@" >"$logfile" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 2
    if [ $((SECONDS - last)) -ge 30 ]; then
      last=$SECONDS
      log "  ... $what: $(gz_dur $((SECONDS - start))) elapsed, $(grep -c . "$logfile" || true) log lines"
    fi
  done
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    log "$what failed (exit $rc); last lines of $logfile:"
    tail -n 40 "$logfile" >&2
    die "$what failed"
  fi
  log "  $what: done in $(gz_dur $((SECONDS - start)))"
}

# install_bin TMPFILE FINALPATH VERSIONINFO: atomically places a built binary in the cache and stamps it.
install_bin() {
  local tmp=$1 final=$2 info=$3 dir
  dir=$(dirname "$final")
  mkdir -p "$dir"
  rm -f "$dir/.built"
  mv -f "$tmp" "$final.tmp.$$"
  mv -f "$final.tmp.$$" "$final"
  {
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "go=$("$GO" env GOVERSION)"
    echo "$info"
  } >"$dir/.built"
  log "  cached $final ($(du -h "$final" | cut -f1))"
}

# Writes go.mod for a module directory from scratch: module path + go directive, then `go mod edit` args.
new_gomod() {
  local dir=$1 modpath=$2 goversion=$3
  shift 3
  mkdir -p "$dir"
  rm -f "$dir/go.mod" "$dir/go.sum"
  printf 'module %s\n\ngo %s\n' "$modpath" "$goversion" >"$dir/go.mod"
  (cd "$dir" && "$GO" mod edit "$@")
}

# requires GOMOD MODULE VERSION: does GOMOD require MODULE at exactly VERSION (either require form)?
requires() { grep -qE "^(require)?[[:space:]]*${2//./\\.} ${3//./\\.}([[:space:]]|\$)" "$1"; }

# DIR/go.mod must be (re)generated: --regen, go.mod or go.sum missing, or MODULE not at VERSION.
gomod_stale() { [ "$regen" = 1 ] || [ ! -f "$1/go.mod" ] || [ ! -f "$1/go.sum" ] || ! requires "$1/go.mod" "$2" "$3"; }

# The path of MODULE@VERSION's own go.mod, downloaded from the module proxy.
module_gomod() {
  local info gomod
  info=$(cd / && "$GO" mod download -json "$1") ||
    die "cannot download $1 from the module proxy ($("$GO" env GOPROXY))"
  gomod=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$gomod" ] || die "could not locate go.mod of $1 (go mod download said: $info)"
  printf '%s\n' "$gomod"
}

# The go directive of a go.mod file.
go_directive() { awk '$1 == "go" { print $2; exit }' "$1"; }

tidy() {
  local dir=$1 name=$2
  run_logged "$GZ_CACHE/logs/tidy-$name.log" "go mod tidy ($name)" in_dir "$dir" "$GO" mod tidy
}

# Downloads (if needed) the modules the packages need, then builds them into OUTDIR.
go_build() {
  local dir=$1 name=$2 outdir=$3 tags=$4 ldflags=$5
  shift 5
  run_logged "$GZ_CACHE/logs/download-$name.log" "resolve/download modules ($name)" \
    in_dir "$dir" "$GO" list -deps -tags "$tags" "$@"
  log "  compiling $* (go build -trimpath, tags '$tags'); full log: $GZ_CACHE/logs/build-$name.log"
  run_logged "$GZ_CACHE/logs/build-$name.log" "go build ($name)" \
    in_dir "$dir" "$GO" build -v -trimpath -tags "$tags" -ldflags "$ldflags" -o "$outdir/" "$@"
}

# ---- kube-apiserver + kubectl -------------------------------------------------------------------
# The version -X flags of Kubernetes' own build (hack/lib/version.sh), so `--version` and the
# Node's kubeletVersion say the pinned release.
kube_ldflags() {
  local V=$KUBERNETES_VERSION minor date ld="-s -w" p
  minor=${V#v1.}
  minor=${minor%%.*}
  date=$(cd "$GZ_TOOLS/kube" && "$GO" list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' k8s.io/kubernetes 2>/dev/null) || date=1970-01-01T00:00:00Z
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$V -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  printf '%s' "$ld"
}

build_kube() {
  local V=$KUBERNETES_VERSION dir="$GZ_TOOLS/kube" staging_v minor
  minor=${V#v1.}
  minor=${minor%%.*}
  staging_v="v0.${V#v1.}"
  if [ "$force" = 0 ] && gz_cached "$KUBE_APISERVER_BIN" && gz_cached "$KUBECTL_BIN"; then
    log "kube-apiserver + kubectl $V: cached ($(dirname "$KUBE_APISERVER_BIN"), $(dirname "$KUBECTL_BIN"))"
    return
  fi
  log "kube-apiserver + kubectl $V: building (first build takes a while: see README.md for timings)"

  # go.mod is up to date when it requires k8s.io/kubernetes $V and every replace points at $staging_v.
  if gomod_stale "$dir" k8s.io/kubernetes "$V" ||
    grep -E '=> k8s.io/[^ ]+ v' "$dir/go.mod" | grep -qv " $staging_v\$"; then
    log "  generating $dir/go.mod (k8s.io/kubernetes $V, staging modules replaced by $staging_v)"
    local gomod goline staging m
    gomod=$(module_gomod "k8s.io/kubernetes@$V") || exit 1
    goline=$(go_directive "$gomod")
    # Every `k8s.io/<x> => ./staging/src/k8s.io/<x>` of k8s.io/kubernetes becomes `k8s.io/<x> => k8s.io/<x> $staging_v`.
    staging=$(sed -e 's/^replace[[:space:]]*//' "$gomod" | awk '$2 == "=>" && $3 ~ /^\.\/staging\/src\// { print $1 }' | sort -u)
    [ -n "$staging" ] || die "found no staging replace directives in $gomod"
    # shellcheck disable=SC2086  # one module per word
    log "  $(printf '%s\n' "$staging" | wc -l) staging modules: $(printf '%s ' $staging)"
    new_gomod "$dir" gozargah.local/test/cluster/tools/kube "$goline" "-require=k8s.io/kubernetes@$V"
    {
      printf '\n// k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging/src/...;\n'
      printf '// outside its repository they must be replaced with their published %s releases.\nreplace (\n' "$staging_v"
      for m in $staging; do printf '\t%s => %s %s\n' "$m" "$m" "$staging_v"; done
      printf ')\n'
    } >>"$dir/go.mod"
    cat >"$dir/tools.go" <<'EOF'
//go:build tools

// Package tools pins the Kubernetes commands built by test/cluster/build.sh. Generated by build.sh.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
EOF
    tidy "$dir" kube
  fi

  local out
  out=$(mktemp -d "$GZ_BIN/.tmp-kube.XXXXXX")
  GZ_TMP_OUT=$out
  go_build "$dir" kube "$out" selinux,notest,grpcnotrace "$(kube_ldflags)" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  install_bin "$out/kube-apiserver" "$KUBE_APISERVER_BIN" "module=k8s.io/kubernetes@$V"
  install_bin "$out/kubectl" "$KUBECTL_BIN" "module=k8s.io/kubernetes@$V"
  rm -rf "$out"
  "$KUBE_APISERVER_BIN" --version >&2
}

# ---- the node: kubelet, kube-proxy, kube-scheduler, kube-controller-manager ----------------------
# From the same module as kube-apiserver (tools/kube): test/node/ runs the chart's pods under them.
build_node() {
  local V=$KUBERNETES_VERSION out b
  if [ "$force" = 0 ] && gz_cached "$KUBELET_BIN" && gz_cached "$KUBE_PROXY_BIN" && gz_cached "$KUBE_SCHEDULER_BIN" && gz_cached "$KUBE_CONTROLLER_MANAGER_BIN"; then
    log "kubelet, kube-proxy, kube-scheduler, kube-controller-manager $V: cached"
    return
  fi
  log "kubelet, kube-proxy, kube-scheduler, kube-controller-manager $V: building (shares kube-apiserver's module and build cache)"
  out=$(mktemp -d "$GZ_BIN/.tmp-node.XXXXXX")
  GZ_TMP_OUT=$out
  go_build "$GZ_TOOLS/kube" node "$out" selinux,notest,grpcnotrace "$(kube_ldflags)" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-controller-manager
  for b in "$KUBELET_BIN" "$KUBE_PROXY_BIN" "$KUBE_SCHEDULER_BIN" "$KUBE_CONTROLLER_MANAGER_BIN"; do
    install_bin "$out/$(basename "$b")" "$b" "module=k8s.io/kubernetes@$V"
  done
  rm -rf "$out"
  "$KUBELET_BIN" --version >&2
}

# ---- etcd ---------------------------------------------------------------------------------------
build_etcd() {
  local V=$ETCD_VERSION dir="$GZ_TOOLS/etcd"
  if [ "$force" = 0 ] && gz_cached "$ETCD_BIN"; then
    log "etcd $V: cached ($(dirname "$ETCD_BIN"))"
    return
  fi
  log "etcd $V: building"
  if gomod_stale "$dir" go.etcd.io/etcd/server/v3 "$V"; then
    log "  generating $dir/go.mod (go.etcd.io/etcd/server/v3 $V)"
    local gomod
    gomod=$(module_gomod "go.etcd.io/etcd/server/v3@$V") || exit 1
    new_gomod "$dir" gozargah.local/test/cluster/tools/etcd "$(go_directive "$gomod")" "-require=go.etcd.io/etcd/server/v3@$V"
    tidy "$dir" etcd
  fi
  local out
  out=$(mktemp -d "$GZ_BIN/.tmp-etcd.XXXXXX")
  GZ_TMP_OUT=$out
  # main.go is committed: it is etcd's own server/main.go (etcdmain.Main(os.Args)).
  go_build "$dir" etcd "$out" "" "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=go-module-proxy" .
  install_bin "$out/etcd" "$ETCD_BIN" "module=go.etcd.io/etcd/server/v3@$V"
  rm -rf "$out"
  "$ETCD_BIN" --version >&2
}

# command_module NAME MODULE VERSION PACKAGE: (re)generates tools/NAME/ (go.mod requiring MODULE at
# VERSION, tools.go importing the command PACKAGE) when it is stale.
command_module() {
  local name=$1 module=$2 V=$3 package=$4 dir="$GZ_TOOLS/$1" gomod
  gomod_stale "$dir" "$module" "$V" || return 0
  log "  generating $dir/go.mod ($module $V)"
  gomod=$(module_gomod "$module@$V") || exit 1
  new_gomod "$dir" "gozargah.local/test/cluster/tools/$name" "$(go_directive "$gomod")" "-require=$module@$V"
  cat >"$dir/tools.go" <<EOF
//go:build tools

// Package tools pins the $name command built by test/cluster/build.sh. Generated by build.sh.
package tools

import _ "$package"
EOF
  tidy "$dir" "$name"
}

# ---- helm ---------------------------------------------------------------------------------------
build_helm() {
  local V=$HELM_VERSION dir="$GZ_TOOLS/helm"
  if [ "$force" = 0 ] && gz_cached "$HELM_BIN"; then
    log "helm $V: cached ($(dirname "$HELM_BIN"))"
    return
  fi
  log "helm $V: building"
  command_module helm helm.sh/helm/v3 "$V" helm.sh/helm/v3/cmd/helm
  # Same -X flags as helm's Makefile; the Kubernetes version helm assumes comes from its client-go.
  local cg maj min ld out
  cg=$(cd "$dir" && "$GO" list -m -f '{{.Version}}' k8s.io/client-go) || die "cannot read the k8s.io/client-go version of $dir"
  cg=${cg#v}
  maj=$((${cg%%.*} + 1))
  min=${cg#*.}
  min=${min%%.*}
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=$V -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  ld="$ld -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$maj -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$min"
  ld="$ld -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$maj -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$min"
  out=$(mktemp -d "$GZ_BIN/.tmp-helm.XXXXXX")
  GZ_TMP_OUT=$out
  go_build "$dir" helm "$out" "" "$ld" helm.sh/helm/v3/cmd/helm
  install_bin "$out/helm" "$HELM_BIN" "module=helm.sh/helm/v3@$V"
  rm -rf "$out"
  "$HELM_BIN" version >&2
}

# build_command NAME BIN MODULE VERSION PACKAGE LDFLAGS VERSION_ARGS...: builds the single command
# PACKAGE of MODULE (command_module writes tools/NAME/) into BIN, unless cached, then runs
# BIN VERSION_ARGS to show what was built.
build_command() {
  local name=$1 bin=$2 module=$3 V=$4 package=$5 ld=$6 out
  shift 6
  if [ "$force" = 0 ] && gz_cached "$bin"; then
    log "$name $V: cached ($(dirname "$bin"))"
    return
  fi
  log "$name $V: building"
  command_module "$name" "$module" "$V" "$package"
  out=$(mktemp -d "$GZ_BIN/.tmp-$name.XXXXXX")
  GZ_TMP_OUT=$out
  go_build "$GZ_TOOLS/$name" "$name" "$out" "" "$ld" "$package"
  install_bin "$out/$(basename "$package")" "$bin" "module=$module@$V"
  rm -rf "$out"
  "$bin" "$@" >&2
}

# ---- registry -----------------------------------------------------------------------------------
# The -X flag of its Makefile: `registry --version` prints the release.
build_registry() {
  build_command registry "$REGISTRY_BIN" github.com/distribution/distribution/v3 "$REGISTRY_VERSION" github.com/distribution/distribution/v3/cmd/registry \
    "-s -w -X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION" --version
}

# ---- CoreDNS -------------------------------------------------------------------------------------
build_coredns() {
  build_command coredns "$COREDNS_BIN" github.com/coredns/coredns "$COREDNS_VERSION" github.com/coredns/coredns \
    "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" -version
}

# ---- helm 4 -------------------------------------------------------------------------------------
# The -X flags of its Makefile (Helm 4 reads the Kubernetes version it assumes from client-go).
build_helm4() {
  build_command helm4 "$HELM4_BIN" helm.sh/helm/v4 "$HELM4_VERSION" helm.sh/helm/v4/cmd/helm \
    "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean" version
}

# ---- the Prometheus Operator's CRDs ------------------------------------------------------------
# Copied from the module's example/prometheus-operator-crd/ (the files its releases ship as
# bundle.yaml); only the two kinds the chart makes.
build_monitoring_crds() {
  local V=$PROMETHEUS_OPERATOR_VERSION dir=$MONITORING_CRDS_DIR info src f
  if [ "$force" = 0 ] && [ -f "$dir/.built" ]; then
    log "prometheus-operator CRDs $V: cached ($dir)"
    return
  fi
  log "prometheus-operator CRDs $V: downloading the module"
  info=$(cd / && "$GO" mod download -json "github.com/prometheus-operator/prometheus-operator@$V") ||
    die "cannot download github.com/prometheus-operator/prometheus-operator@$V from the module proxy ($("$GO" env GOPROXY))"
  src=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')/example/prometheus-operator-crd
  mkdir -p "$dir"
  rm -f "$dir/.built"
  for f in monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml; do
    [ -f "$src/$f" ] || die "$src/$f is missing from the module"
    cp "$src/$f" "$dir/$f.tmp.$$"
    mv -f "$dir/$f.tmp.$$" "$dir/$f"
  done
  printf 'built=%s\nmodule=github.com/prometheus-operator/prometheus-operator@%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$V" >"$dir/.built"
  log "  cached $dir"
}

# ---- main ---------------------------------------------------------------------------------------
started=$SECONDS
need_go=0
for t in "${targets[@]}"; do
  case "$t" in
    kube) { [ "$force" = 1 ] || ! gz_cached "$KUBE_APISERVER_BIN" || ! gz_cached "$KUBECTL_BIN"; } && need_go=1 ;;
    node) { [ "$force" = 1 ] || ! gz_cached "$KUBELET_BIN" || ! gz_cached "$KUBE_PROXY_BIN" || ! gz_cached "$KUBE_SCHEDULER_BIN" || ! gz_cached "$KUBE_CONTROLLER_MANAGER_BIN"; } && need_go=1 ;;
    etcd) { [ "$force" = 1 ] || ! gz_cached "$ETCD_BIN"; } && need_go=1 ;;
    helm) { [ "$force" = 1 ] || ! gz_cached "$HELM_BIN"; } && need_go=1 ;;
    registry) { [ "$force" = 1 ] || ! gz_cached "$REGISTRY_BIN"; } && need_go=1 ;;
    coredns) { [ "$force" = 1 ] || ! gz_cached "$COREDNS_BIN"; } && need_go=1 ;;
    helm4) { [ "$force" = 1 ] || ! gz_cached "$HELM4_BIN"; } && need_go=1 ;;
    monitoring-crds) { [ "$force" = 1 ] || [ ! -f "$MONITORING_CRDS_DIR/.built" ]; } && need_go=1 ;;
  esac
done
[ "$need_go" = 1 ] && find_go
log "cache: $GZ_BIN (kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION, helm $HELM_VERSION and $HELM4_VERSION, registry $REGISTRY_VERSION, prometheus-operator CRDs $PROMETHEUS_OPERATOR_VERSION)"
for t in "${targets[@]}"; do
  "build_${t//-/_}"
done
log "all done in $(gz_dur $((SECONDS - started)))"

#!/usr/bin/env bash
# Stops the cluster started by up.sh (kube-apiserver, then etcd: SIGTERM, SIGKILL after a few seconds)
# and removes its directory.
#
# usage: test/cluster/down.sh [--keep]
#   --keep   stop the processes but keep the directory (logs, etcd data) for inspection
# env: GOZARGAH_CLUSTER_DIR (default ${TMPDIR:-/tmp}/gozargah-cluster), GOZARGAH_STOP_TIMEOUT (seconds, default 5)
set -euo pipefail

GZ_LOG_PREFIX=down
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

keep=0
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (see --help)" ;;
  esac
done

DIR=${GOZARGAH_CLUSTER_DIR:-$GZ_DEFAULT_CLUSTER_DIR}
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac
DIR=${DIR%/}
STOP_TIMEOUT=${GOZARGAH_STOP_TIMEOUT:-5}

if [ ! -e "$DIR" ]; then
  log "no cluster directory at $DIR: nothing to stop"
  exit 0
fi
if [ -z "$DIR" ] || [ "$DIR" = / ] || [ ! -f "$DIR/.gozargah-cluster" ]; then
  die "$DIR is not a gozargah cluster directory (no .gozargah-cluster marker); not touching it"
fi

stop() { gz_stop "$DIR" "$DIR" "$1" "$STOP_TIMEOUT"; }

stop kube-apiserver
stop etcd

if [ "$keep" = 1 ]; then
  rm -f "$DIR/kube-apiserver.pid" "$DIR/etcd.pid"
  log "kept $DIR"
else
  rm -rf "$DIR"
  log "removed $DIR"
fi

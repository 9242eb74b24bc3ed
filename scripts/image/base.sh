#!/usr/bin/env bash
# Assembles the base image `make image` builds on where no public registry can be reached: Debian
# bookworm (mmdebstrap minbase + ca-certificates, from Debian's package mirrors) plus the Node 24
# binary of the `node` devDependency at /usr/local/bin/node, and the user node (1000:1000), as in
# the official node:24-slim image the Dockerfile names by default. Prints the image's name.
#
# Cached: the tag carries a hash of this script, the suite and the Node binary, so a second run
# finds the image in podman's storage and takes well under a second. About 25 s cold.
# usage: scripts/image/base.sh [--force]
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

SUITE=bookworm
force=0
[ "${1:-}" = --force ] && force=1

node=$(node_binary)
version=$("$node" --version)
key=$( { cat "${BASH_SOURCE[0]}"; echo "$SUITE"; sha256sum <"$node"; } | sha256sum | cut -c1-12)
tag="localhost/gozargah/base:${SUITE}-node${version#v}-$key"

if [ "$force" = 0 ] && "${PODMAN[@]}" image exists "$tag"; then
  ilog "base $tag: cached"
  printf '%s\n' "$tag"
  exit 0
fi
command -v mmdebstrap >/dev/null || idie "mmdebstrap is missing: run make podman"

mkdir -p "$IMAGE_CACHE"
rootfs="$IMAGE_CACHE/base-$key.tar"
start=$SECONDS
ilog "base $tag: mmdebstrap $SUITE (minbase + ca-certificates) and Node $version"
# No documentation, manual pages or translations: nothing in the image reads them.
mmdebstrap --quiet --variant=minbase --include=ca-certificates \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook="copy-in '$node' /usr/local/bin" \
  --customize-hook='echo "node:x:1000:1000::/home/node:/bin/sh" >>"$1/etc/passwd"' \
  --customize-hook='echo "node:x:1000:" >>"$1/etc/group"' \
  --customize-hook='mkdir -p "$1/home/node" && chown 1000:1000 "$1/home/node"' \
  --customize-hook='chroot "$1" node --version >/dev/null' \
  "$SUITE" "$rootfs"
"${PODMAN[@]}" import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  "$rootfs" "$tag" >/dev/null
rm -f "$rootfs"
ilog "base $tag: built in $((SECONDS - start)) s"
printf '%s\n' "$tag"

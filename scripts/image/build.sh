#!/usr/bin/env bash
# `make image`: builds the Dockerfile with podman where no container registry can be reached, and
# tags it $GOZARGAH_IMAGE (default localhost/gozargah/gozargah) : the version of package.json.
#   - the base: Debian bookworm + Node 24 (scripts/image/base.sh, cached in podman's storage);
#   - the production node_modules: `npm ci --omit=dev --ignore-scripts` on the host (the npm
#     registry is reachable, the build's RUN steps have no network), into
#     .cache/image/prod-deps/, redone only when package.json or package-lock.json change, and
#     given to the Dockerfile as the build context prod-deps (DEPS_FROM=context);
#   - OCI labels: version from package.json, revision from git (HEAD, "-dirty" with local changes).
# Prints the image's size at the end. Cold ~1.5 min (mmdebstrap, npm ci), warm a few seconds.
# usage: scripts/image/build.sh
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cd "$IMAGE_ROOT"
start=$SECONDS

base=$(bash scripts/image/base.sh)

deps="$IMAGE_CACHE/prod-deps"
want=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
if [ "$(cat "$deps/.installed" 2>/dev/null)" != "$want" ]; then
  ilog "production node_modules: npm ci --omit=dev into $deps"
  rm -rf "$deps"
  mkdir -p "$deps"
  cp package.json package-lock.json "$deps/"
  (cd "$deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$deps/.installed"
else
  ilog "production node_modules: cached ($deps)"
fi

version=$(node -p 'require("./package.json").version')
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
[ "$revision" = unknown ] || git diff --quiet HEAD -- 2>/dev/null || revision="$revision-dirty"
image="$IMAGE_NAME:$version"
ilog "building $image on $base (revision $revision)"
"${PODMAN[@]}" build --quiet "${BUILD_ULIMITS[@]}" \
  --build-arg NODE_IMAGE="$base" --build-arg DEPS_FROM=context --build-context prod-deps="$deps" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  -t "$image" -f Dockerfile . >/dev/null
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$image")
ilog "built $image in $((SECONDS - start)) s: $((size / 1000000)) MB ($size bytes; the base alone $(("$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$base")" / 1000000)) MB)"

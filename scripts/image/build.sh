#!/usr/bin/env bash
# `make image`: builds the Dockerfile with podman where no container registry can be reached, and
# tags it $GOZARGAH_IMAGE (default localhost/gozargah/gozargah) : the version of package.json.
#   - the base: Debian bookworm + Node 24 (scripts/image/base.sh, cached in podman's storage);
#   - the production node_modules: `npm ci --omit=dev --ignore-scripts` on the host (the npm
#     registry is reachable, the build's RUN steps have no network), into
#     .cache/image/prod-deps/, redone only when package.json or package-lock.json change, and
#     imported as the image localhost/gozargah/prod-deps:<hash of both> (/app/node_modules only),
#     which the Dockerfile takes them from (DEPS_FROM=image): unchanged, every layer is cached;
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
  (cd "$deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
  echo "$want" >"$deps/.installed"
else
  ilog "production node_modules: cached ($deps)"
fi
deps_image="localhost/gozargah/prod-deps:$want"
if ! "${PODMAN[@]}" image exists "$deps_image"; then
  tar -C "$deps" --owner=0 --group=0 --transform 's,^node_modules,app/node_modules,' -c node_modules |
    "${PODMAN[@]}" import --quiet - "$deps_image" >/dev/null
fi

version=$("$(node_binary)" -p 'require("./package.json").version')
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
[ "$revision" = unknown ] || git diff --quiet HEAD -- 2>/dev/null || revision="$revision-dirty"
image="$IMAGE_NAME:$version"
previous=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
# The labels again on the command line: buildah 1.28 reuses a cached LABEL layer whose build
# arguments differ (it kept the previous commit's revision), while --label always applies.
ilog "building $image on $base (revision $revision)"
"${PODMAN[@]}" build --quiet "${BUILD_ULIMITS[@]}" \
  --build-arg NODE_IMAGE="$base" --build-arg DEPS_FROM=image --build-arg DEPS_IMAGE="$deps_image" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --label org.opencontainers.image.version="$version" --label org.opencontainers.image.revision="$revision" \
  -t "$image" -f Dockerfile . >/dev/null
# The image this build replaced, left untagged: removed (unless a container still uses it).
current=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image")
[ -z "$previous" ] || [ "$previous" = "$current" ] || "${PODMAN[@]}" rmi "$previous" >/dev/null 2>&1 || true
# buildah commits the stage `FROM deps-image AS deps` anew on every build: an untagged image on the
# same layers as the deps image; remove those (and only those) so they do not pile up.
deps_layers=$("${PODMAN[@]}" image inspect --format '{{json .RootFS.Layers}}' "$deps_image")
for id in $("${PODMAN[@]}" images --quiet --filter dangling=true); do
  [ "$("${PODMAN[@]}" image inspect --format '{{json .RootFS.Layers}}' "$id" 2>/dev/null)" = "$deps_layers" ] && "${PODMAN[@]}" rmi "$id" >/dev/null 2>&1 || true
done
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$image")
ilog "built $image in $((SECONDS - start)) s: $((size / 1000000)) MB ($size bytes; the base alone $(("$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$base")" / 1000000)) MB)"

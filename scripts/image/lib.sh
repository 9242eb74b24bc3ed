# shellcheck shell=bash disable=SC2034  # sourced by scripts/image/*.sh
# Shared by scripts/image/*.sh: where the image's caches live and how podman is run here.
#
# Machine facts these scripts rely on (tried on the project's 2-core Debian 12 machines, 2026-12):
# - podman 4.3 / buildah 1.28 from Debian (`make podman` installs podman, runc, slirp4netns,
#   mmdebstrap). The machines' cgroups are v1 in hybrid mode: podman's default runtime crun
#   refuses them ("cgroups in hybrid mode not supported"), runc works: every podman call here
#   passes --runtime runc.
# - Podman's default ulimits exceed the machines' hard limits (open files 20000): build and run
#   pass --ulimit nofile=20000:20000 (run also nproc=4096:4096).
# - No public container registry can be reached: the base is assembled from Debian packages
#   (mmdebstrap) plus the Node 24 binary of the `node` devDependency; nothing is pulled.

IMAGE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Git-ignored (.gitignore: .cache/): the Debian root filesystem, the staged production
# node_modules and the build context.
IMAGE_CACHE="$IMAGE_ROOT/.cache/image"
IMAGE_NAME=${GOZARGAH_IMAGE:-localhost/gozargah/gozargah}

PODMAN=(podman --runtime runc)
BUILD_ULIMITS=(--ulimit nofile=20000:20000)

ilog() { printf '[image] %s\n' "$*" >&2; }
idie() { printf '[image] error: %s\n' "$*" >&2; exit 1; }

# The Node 24 binary of the `node` devDependency (the npm package ships the real ELF binary there).
node_binary() {
  local bin="$IMAGE_ROOT/node_modules/node/bin/node"
  [ -x "$bin" ] || idie "$bin is missing: run make deps"
  file_is_elf "$bin" || idie "$bin is not an ELF binary (the node package's layout changed?)"
  printf '%s\n' "$bin"
}
file_is_elf() { [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }

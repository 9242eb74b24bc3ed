# The one image of Gozargah: the operator (`node operator/main.ts`), the dataplane
# (`node dataplane/main.ts`) and the `gozargah` CLI; the Helm chart (charts/gozargah) picks the
# entry point. Node 24 runs the TypeScript sources by stripping types: there is no build step,
# only the production dependencies to install.
#
#   docker build -t REGISTRY/gozargah/gozargah:0.1.0 .      # or podman build; needs the npm registry
#   make image                                               # without a container registry: see below
ARG NODE_IMAGE=node:24.11.1-slim
# Where the production node_modules come from. "npm" (the default): `npm ci` in the build, from
# the npm registry. "image": /app/node_modules of the image DEPS_IMAGE, made beforehand by the
# same npm ci; `make image` (scripts/image/build.sh) builds that way, on a base assembled from
# Debian packages and Node 24 (scripts/image/base.sh), where the build itself has no network.
ARG DEPS_FROM=npm
ARG DEPS_IMAGE=scratch
# OCI annotations (labels): make image passes the version from package.json and the git commit.
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/gozargah/gozargah

FROM ${NODE_IMAGE} AS deps-npm
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only (no tap, eslint, typescript, nor the `node` devDependency: the
# image's own Node 24 runs the code); no install scripts.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${DEPS_IMAGE} AS deps-image

FROM deps-${DEPS_FROM} AS deps

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# A 16 MB young generation: loading a 10,000-route snapshot otherwise grows it, and resident
# memory with it, by some 80 MB never given back (bench/processes.ts IMAGE_NODE_FLAGS; make bench).
ENV NODE_OPTIONS=--max-semi-space-size=16
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# What the entry points import: the API, the pure compiler, the Kubernetes plumbing both
# components share, the components themselves and the CLI.
COPY api ./api
COPY compiler ./compiler
COPY kube ./kube
COPY operator ./operator
COPY dataplane ./dataplane
COPY cli ./cli
# `gozargah validate -f ...`, `gozargah audit verify ...` inside the container (cli/main.ts
# starts with #!/usr/bin/env node).
RUN chmod 0755 cli/main.ts && ln -s /app/cli/main.ts /usr/local/bin/gozargah
# Numeric, so Kubernetes can check runAsNonRoot; the chart's securityContext uses the same ids
# (the node image's `node` user).
USER 1000:1000
EXPOSE 8080 9090
# Last, so that a new commit rebuilds only this layer.
ARG VERSION
ARG REVISION
ARG SOURCE
LABEL org.opencontainers.image.title="gozargah" \
      org.opencontainers.image.description="Gozargah: a Kubernetes-native government service bus (operator, dataplane and CLI)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENTRYPOINT ["node"]
# No CMD: a pod names the entry point (operator/main.ts or dataplane/main.ts) and its flags.

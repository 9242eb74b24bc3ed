# The one image of Gozargah: the operator (`node operator/main.ts`) and the dataplane
# (`node dataplane/main.ts`); the Helm chart (charts/gozargah) picks the entry point.
# Node 24 runs the TypeScript sources by stripping types: there is no build step, only the
# production dependencies to install.
ARG NODE_IMAGE=node:24.11.1-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only (no tap, eslint, typescript, nor the `node` devDependency: the
# image's own Node 24 runs the code); no install scripts.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# A 16 MB young generation: loading a 10,000-route snapshot otherwise grows it, and resident
# memory with it, by some 80 MB never given back (bench/processes.ts IMAGE_NODE_FLAGS; make bench).
ENV NODE_OPTIONS=--max-semi-space-size=16
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# What the two entry points import: the API, the pure compiler, and the components themselves.
COPY api ./api
COPY compiler ./compiler
COPY operator ./operator
COPY dataplane ./dataplane
# Numeric, so Kubernetes can check runAsNonRoot; the chart's securityContext uses the same ids
# (the node image's `node` user).
USER 1000:1000
EXPOSE 8080 9090
ENTRYPOINT ["node"]
# No CMD: a pod names the entry point (operator/main.ts or dataplane/main.ts) and its flags.

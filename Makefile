# Gozargah. Every target installs what it needs: a fresh clone needs only `make demo` / `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Node 24 comes from the `node` devDependency; node_modules/.bin goes first on PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
DEPS := node_modules/.deps-installed
TAP := tap --reporter=terse
# tap expands globs itself; given a folder it would look for .js tests only.
tests = $(foreach d,$(1),'test/$(d)/**/*.test.ts')

.PHONY: help deps redis-tools faketime podman node-tools image lint typecheck crds crds-check test test-unit test-image test-node test-golden test-hostile test-accounting test-evidence test-integration test-helm cluster-build cluster-up cluster-down demo demo-up bench-propagation bench bench-scale bench-tools bench-forwarders bench-compile bench-compile-worker bench-national bench-memory clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# npm ci when node_modules is missing or older than the lock file.
$(DEPS): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@# tap's plugins are built at install; rebuild without its ts-node loader: Node 24 strips types itself.
	tap build >/dev/null
	@node --version | grep -q '^v24\.' || { echo "node_modules/.bin/node is not Node 24"; exit 1; }
	@touch $@

deps: $(DEPS) ## install the pinned toolchain and dependencies

lint: $(DEPS) ## ESLint over everything
	eslint --max-warnings=0 .

typecheck: $(DEPS) ## tsc in strict mode (no emit: Node 24 runs the TypeScript directly)
	tsc -p tsconfig.json

crds: $(DEPS) ## regenerate crds/ and the chart's CRD templates from api/v1alpha1
	node scripts/gen-crds.ts --write

crds-check: $(DEPS) ## fail when crds/ or the chart's CRD templates are out of date with api/v1alpha1
	node scripts/gen-crds.ts --check

test-unit: $(DEPS) ## unit tests
	$(TAP) $(call tests,unit)

test-golden: $(DEPS) ## golden tests of the compiler (UPDATE_GOLDEN=1 rewrites them)
	$(TAP) $(call tests,golden)

test-hostile: $(DEPS) redis-tools ## the hostile suite: misbehaving clients, agencies, sinks and configuration
	$(TAP) $(call tests,hostile)

test-accounting: $(DEPS) redis-tools ## the fleet's counts on real redis-server and dataplane processes: global quotas and rates, usage, Redis failures
	$(TAP) $(call tests,accounting)

test-evidence: $(DEPS) faketime ## the audit evidence on real dataplane processes: hashes, pseudonyms, the chain across replicas, restarts and rotations, verify and search
	$(TAP) $(call tests,evidence)

cluster-build: ## build (once) and cache kube-apiserver, kubectl, the node's kubelet, kube-proxy, scheduler, controller-manager and CoreDNS, etcd, helm and the registry from the Go module proxy
	bash test/cluster/build.sh

cluster-up: cluster-build ## start a local control plane; prints the KUBECONFIG to use
	bash test/cluster/up.sh

cluster-down: ## stop the local control plane
	bash test/cluster/down.sh

test-integration: $(DEPS) cluster-build redis-tools ## tests against a real kube-apiserver + etcd
	$(TAP) $(call tests,integration)

test-helm: $(DEPS) cluster-build ## the Helm chart: lint, golden templates, install/upgrade/uninstall on a real control plane (UPDATE_GOLDEN=1 rewrites)
	$(TAP) $(call tests,helm)

test-image: $(DEPS) cluster-build image ## the image run as the chart runs it: read-only, non-root, no capabilities, in-cluster config, drain on SIGTERM
	$(TAP) $(call tests,image)

test-node: $(DEPS) cluster-build node-tools image ## the chart's pods under a real kubelet (needs root): helm install --wait, helm test, requests through each bus's Service, a rolling upgrade that loses none
	$(TAP) $(call tests,node)

test: lint typecheck crds-check cluster-build redis-tools faketime node-tools image ## everything: lint, type-check, crds-check, unit, golden, CLI, dataplane, hostile, accounting, evidence, integration, helm, image, node
	@mkdir -p .tap
	$(TAP) $(call tests,unit golden cli dataplane hostile accounting evidence integration helm image node) | tee .tap/last-run.txt
	@# One plain closing line for CI: assertions passed and failed, on a line of its own
	@# (tap's reporter may leave a terminal escape without a newline).
	@echo
	@sed -n 's/^Asserts: *\([0-9]*\) pass *\([0-9]* fail\)\{0,1\}.*/\1 passed, \2/p' .tap/last-run.txt | sed 's/, $$/, 0 failed/; s/ fail$$/ failed/' | tail -1

image: $(DEPS) podman ## build the container image with podman (Debian + Node 24 base, production dependencies only); prints its size
	bash scripts/image/build.sh

demo: $(DEPS) cluster-build redis-tools ## the whole system on a local control plane: examples applied, inquiries sent, all stopped after
	bash scripts/demo.sh

demo-up: $(DEPS) cluster-build redis-tools ## the same, left running for you to explore with kubectl and curl (Ctrl-C stops it)
	bash scripts/demo.sh --keep

bench-propagation: $(DEPS) cluster-build ## time from kubectl apply of a route to its first served request, with 10 and 10,000 routes
	node bench/propagation.ts

# redis-server from Debian's package, installed when missing (as root, or with sudo): the store
# of the fleet's counts, started by the tests, the demo and the benchmark.
redis-tools:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }

# libfaketime from Debian's packages, installed when missing: the evidence tests run a dataplane
# whose wall clock is set back a day or two, so audit records span days.
faketime:
	@command -v faketime >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq faketime >/dev/null; }

# podman (with runc: the machines' hybrid cgroups defeat crun), slirp4netns and mmdebstrap from
# Debian's packages, installed when missing: `make image` and the image test (test/image/).
podman:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v slirp4netns >/dev/null && command -v mmdebstrap >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq podman runc slirp4netns mmdebstrap >/dev/null; }

# The local node's runtime from Debian's packages, installed when missing: containerd, runc, the
# CNI plugins, iptables, and gcc with a static libc for its pause image (test/cluster/node-up.sh,
# test/node/). Podman comes from the podman target.
node-tools: podman
	@command -v containerd >/dev/null && command -v iptables >/dev/null && command -v gcc >/dev/null && gcc -print-file-name=libc.a | grep -q / && [ -x /usr/lib/cni/bridge ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq containerd runc containernetworking-plugins iptables iproute2 gcc libc6-dev >/dev/null; }

# nginx and wrk from Debian's packages, installed when missing (as root, or with sudo).
bench-tools:
	@command -v nginx >/dev/null && command -v wrk >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx-light wrk >/dev/null; }
	@command -v taskset >/dev/null || echo "taskset (util-linux) is missing: the contenders will not be pinned to CPUs"

bench: $(DEPS) bench-tools redis-tools ## direct, nginx, http-proxy and the dataplane under the same load, then scale (not part of make test)
	node bench/bench.ts

bench-scale: $(DEPS) bench-tools ## 10 against 10,000 routes: throughput ratio, compile time and memory, dataplane memory
	node bench/bench.ts --scale-only

bench-forwarders: $(DEPS) ## req/s of the dataplane against http-proxy and a bare undici forwarder (not part of make test)
	node bench/forwarders.ts

bench-compile: $(DEPS) ## compile time, peak memory and snapshot size at 10,000 routes / 5,000 bindings
	node bench/compile-scale.ts

bench-national: $(DEPS) ## compile time and memory, snapshot size and dataplane memory at 10,000/5,000 and 50,000/10,000 (selectors and names mixed)
	node bench/national.ts

bench-compile-worker: $(DEPS) ## what the operator's compile worker thread costs a pass at 10,000 routes / 5,000 bindings
	node bench/compile-worker.ts

bench-memory: $(DEPS) ## dataplane resident memory with 10 and with 10,000 routes loaded
	node bench/dataplane-memory.ts

clean: ## remove installed dependencies and test output
	rm -rf node_modules .tap

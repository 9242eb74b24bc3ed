#!/usr/bin/env bash
# make demo: check the examples with the CLI, compile them, then run the whole system on them
# (make demo-up: and keep it running).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "=== gozargah validate -f examples/ ==="
node cli/main.ts validate -f examples/
echo
echo "=== gozargah compile -f examples/: one snapshot per bus ==="
node cli/main.ts compile -f examples/ -o json | node -e '
  let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => {
    const { snapshots } = JSON.parse(s);
    for (const [bus, snap] of Object.entries(snapshots))
      console.log(`  bus ${bus}: ${snap.routes.length} routes, ${snap.bindings.length} bindings, ${snap.providers.length} providers, ${snap.hash}`);
  });'
echo
node scripts/demo.ts "$@" 2> >(grep -v '"level":"info"' >&2)

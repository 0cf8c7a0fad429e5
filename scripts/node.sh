#!/usr/bin/env bash
# Runs node from a maintained line (>= 22): the system node when it is new
# enough, else the repo's own .node/bin/node (installed on first use by
# scripts/install-node.sh). The npm scripts go through this wrapper.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 22 ]; then
  exec node "$@"
fi
if [ ! -x "$root/.node/bin/node" ]; then
  bash "$root/scripts/install-node.sh"
fi
exec "$root/.node/bin/node" "$@"

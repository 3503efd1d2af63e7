#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
#  - does nothing when `docker info` already answers;
#  - installs Debian's docker.io (and debootstrap, used by build-images.sh) when no engine is present;
#  - starts dockerd in the background (no systemd here) and waits until it answers.
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*" >&2; }
answers() { timeout 10 docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && answers; then
  log "daemon already answers: nothing to do"
  exit 0
fi

need_install=()
command -v dockerd >/dev/null 2>&1 || need_install+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_install+=(debootstrap)
if ((${#need_install[@]})); then
  if [ "$(id -u)" != 0 ]; then
    log "missing ${need_install[*]} and not root: install them or run as root"; exit 1
  fi
  log "installing ${need_install[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # the package's post-install cannot start a service without systemd; that failure is harmless
  apt-get install -y -qq --no-install-recommends "${need_install[@]}" >/dev/null || true
  command -v dockerd >/dev/null 2>&1 || { log "docker.io did not install"; exit 1; }
fi

if ! answers; then
  if [ "$(id -u)" != 0 ]; then
    log "no Docker daemon answers and not root: start dockerd yourself"; exit 1
  fi
  logfile=${DOCKERD_LOG:-/var/log/pgdock-dockerd.log}
  log "starting dockerd (log: $logfile)"
  # a stale pid file from an earlier, dead daemon stops a new one from starting
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  pgrep -x dockerd >/dev/null || nohup setsid dockerd >"$logfile" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    answers && break
    sleep 1
  done
  answers || { log "dockerd did not answer within 60 s; last log lines:"; tail -n 20 "$logfile" >&2; exit 1; }
fi
log "daemon answers: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"

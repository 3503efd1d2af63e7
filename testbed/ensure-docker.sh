#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
#  - does nothing when `docker info` already answers and the test tools are present;
#  - installs Debian's docker.io when no engine is present, plus the test bed's tools when missing:
#    debootstrap (build-images.sh), psql (molecule verify), shellcheck (ansible-test sanity);
#  - starts dockerd in the background (no systemd here) and waits until it answers: on its unix socket
#    and on a TLS listener on 127.0.0.1:2376 that asks for client certificates (--tlsverify), made by
#    testbed/docker-tls.sh in $PGDOCK_DOCKER_TLS_DIR (default /var/lib/pgdock-testbed/docker-tls); an
#    engine that already answers is left as it is.
set -euo pipefail

log() { printf '[ensure-docker] %s\n' "$*" >&2; }
answers() { timeout 10 docker info >/dev/null 2>&1; }

need_install=()
if ! { command -v docker >/dev/null 2>&1 && answers; }; then
  command -v dockerd >/dev/null 2>&1 || need_install+=(docker.io)
fi
command -v debootstrap >/dev/null 2>&1 || need_install+=(debootstrap)
command -v psql >/dev/null 2>&1 || need_install+=(postgresql-client)
command -v shellcheck >/dev/null 2>&1 || need_install+=(shellcheck)
command -v openssl >/dev/null 2>&1 || need_install+=(openssl)
if ((${#need_install[@]})); then
  if [ "$(id -u)" != 0 ]; then
    log "missing ${need_install[*]} and not root: install them or run as root"; exit 1
  fi
  log "installing ${need_install[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # the package's post-install cannot start a service without systemd; that failure is harmless
  apt-get install -y -qq --no-install-recommends "${need_install[@]}" >/dev/null || true
  for tool in debootstrap psql shellcheck openssl; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool is still missing after apt-get install"; exit 1; }
  done
  answers || command -v dockerd >/dev/null 2>&1 || { log "docker.io did not install"; exit 1; }
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
  tls_dir=${PGDOCK_DOCKER_TLS_DIR:-/var/lib/pgdock-testbed/docker-tls}
  # certificates first: the TCP listener never starts without --tlsverify and its certificates
  tls_text=$(bash "$(dirname "$0")/docker-tls.sh" "$tls_dir")
  case "$tls_text" in *--tlsverify*) ;; *) log "docker-tls.sh gave no TLS flags: $tls_text"; exit 1 ;; esac
  read -r -a tls_flags <<<"$tls_text"
  # a simple command in the background (no subshell): nothing of this script keeps its caller's
  # stdout open once it returns (a pipe into `tail` or `tee` would wait for the daemon)
  if ! pgrep -x dockerd >/dev/null; then
    nohup setsid dockerd -H unix:///var/run/docker.sock -H tcp://127.0.0.1:2376 "${tls_flags[@]}" \
      >"$logfile" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    answers && break
    sleep 1
  done
  answers || { log "dockerd did not answer within 60 s; last log lines:"; tail -n 20 "$logfile" >&2; exit 1; }
fi
log "daemon answers: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
tls_dir=${PGDOCK_DOCKER_TLS_DIR:-/var/lib/pgdock-testbed/docker-tls}
if [ -s "$tls_dir/ca.pem" ] && DOCKER_CERT_PATH=$tls_dir timeout 10 docker --tlsverify -H tcp://127.0.0.1:2376 version >/dev/null 2>&1; then
  log "TLS listener answers on 127.0.0.1:2376 (certificates in $tls_dir)"
else
  log "no TLS listener on 127.0.0.1:2376 (the engine was started without it); its tests are skipped"
fi

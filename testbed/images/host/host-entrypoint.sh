#!/usr/bin/env bash
# Entry point of pgdock-test/host: sshd and dockerd side by side; the container ends when either
# ends, and SIGTERM (docker stop) stops dockerd (and so its containers) first, then sshd.
#   PGDOCK_TB_INNER_MEMORY  memory limit (bytes, or with k/m/g) of the cgroup that holds this
#                           host's inner containers (cgroup v1 memory controller); unset: none
# Extra arguments are passed to dockerd.
set -euo pipefail
name=$(hostname)
log() { printf '[pgdock-host %s] %s\n' "$name" "$*" >&2; }

# /run is a tmpfs (hosts.sh): nothing stale from a killed earlier run (pid files, sockets)
mkdir -p /run/sshd
rm -f /run/docker.pid
ssh-keygen -A >/dev/null

# the inner containers live under /<host name> in each cgroup hierarchy (dockerd --cgroup-parent),
# outside this container's own cgroup: bound them there
if [ -n "${PGDOCK_TB_INNER_MEMORY:-}" ] && [ -d /sys/fs/cgroup/memory ]; then
  mkdir -p "/sys/fs/cgroup/memory/$name"
  echo "$PGDOCK_TB_INNER_MEMORY" >"/sys/fs/cgroup/memory/$name/memory.limit_in_bytes"
fi

/usr/sbin/sshd -D -e &
sshd_pid=$!
dockerd --cgroup-parent="/$name" --data-root=/var/lib/docker --log-level=warn "$@" &
dockerd_pid=$!

# shellcheck disable=SC2317  # called by the trap below
stop() {
  log "stopping"
  kill -TERM "$dockerd_pid" 2>/dev/null || true
  wait "$dockerd_pid" 2>/dev/null || true
  kill -TERM "$sshd_pid" 2>/dev/null || true
  wait "$sshd_pid" 2>/dev/null || true
  exit 0
}
trap stop TERM INT

rc=0
wait -n "$sshd_pid" "$dockerd_pid" || rc=$?
log "sshd or dockerd ended (status $rc)"
kill -TERM "$dockerd_pid" "$sshd_pid" 2>/dev/null || true
wait || true
exit "$rc"

#!/usr/bin/env bash
# Build the offline test images (no registry is reachable here) from Debian packages:
#   pgdock-test/postgres:15 (bookworm), :17 (trixie), :18 (forky), pgdock-test/pgbouncer:latest (trixie),
#   pgdock-test/postgres-exporter:latest (bookworm: Prometheus' postgres_exporter 0.11.1)
#   pgdock-test/postgres-upgrade:latest (18 with the binaries of 15 and 17 beside it, for pg_upgrade;
#   layered on the three postgres images, no download of its own)
#   and, only when named, pgdock-test/host:latest (trixie with docker.io and openssh-server: a
#   "Docker host" of the multi-host test bed, see testbed/hosts.sh)
# debootstrap a minimal root filesystem, renumber the postgres user to uid/gid 999 as in the
# official image (postgres and pgbouncer kinds), `docker import` it, then build
# testbed/images/<kind>/Dockerfile on top.
# An image is rebuilt only when missing or when its recipe (this script + its image folder) changed.
# Usage: build-images.sh [15 17 18 pgbouncer postgres-exporter upgrade host]
#        (default: 15 17 18 pgbouncer postgres-exporter upgrade)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf '[build-images] %s\n' "$*" >&2; }

mirror() {
  local m=""
  if [ -n "${PGDOCK_DEBIAN_MIRROR:-}" ]; then m=$PGDOCK_DEBIAN_MIRROR
  elif [ -f /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  [ -n "$m" ] || m=$(awk '$1=="deb" && $3 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${m:-http://deb.debian.org/debian}"
}

# target -> "suite kind packages"
spec() {
  case "$1" in
    15) echo "bookworm postgres postgresql-15 xz-utils zstd" ;;
    17) echo "trixie postgres postgresql-17 xz-utils zstd" ;;
    18) echo "forky postgres postgresql-18 xz-utils zstd" ;;
    pgbouncer) echo "trixie pgbouncer pgbouncer postgresql-client" ;;
    postgres-exporter) echo "bookworm exporter prometheus-postgres-exporter" ;;
    # debootstrap does not resolve python3-cryptography's virtual dependency: the cffi backend is named
    host) echo "trixie host docker.io docker-cli iptables openssh-server python3 python3-docker python3-psycopg2 python3-cryptography python3-cffi-backend procps iproute2" ;;
    upgrade) echo "- upgrade -" ;;
    *) log "unknown image '$1' (known: 15 17 18 pgbouncer postgres-exporter upgrade host)"; return 1 ;;
  esac
}

tag_of() {
  case "$1" in
    pgbouncer|postgres-exporter|host) echo "pgdock-test/$1:latest" ;;
    upgrade) echo "pgdock-test/postgres-upgrade:latest" ;;
    *) echo "pgdock-test/postgres:$1" ;;
  esac
}

# what every image of a kind gets besides its own packages
base_packages() { case "$1" in host|exporter) echo ca-certificates ;; *) echo ca-certificates,gosu,locales ;; esac; }

recipe_hash() {
  local kind=$1; shift
  { cat "$here/build-images.sh"; find "$here/images/$kind" -type f | sort | xargs cat; echo "$*"; } \
    | sha256sum | cut -c1-16
}

# postgres and pgbouncer kinds: the postgres user at uid/gid 999, en_US.UTF-8, no default cluster
prepare_postgres_root() {
  chroot "$1" /bin/sh -eu <<'CHROOT'
# a free system id (neither a uid nor a gid in use)
free_id() {
  i=998
  while getent passwd "$i" >/dev/null || getent group "$i" >/dev/null; do i=$((i - 1)); done
  echo "$i"
}
# another user or group that holds 999 (forky has one) moves to a free id first
other_user=$(getent passwd 999 | cut -d: -f1)
if [ -n "$other_user" ] && [ "$other_user" != postgres ]; then
  new=$(free_id); usermod -u "$new" "$other_user"; find / -xdev -uid 999 -exec chown -h "$new" {} +
fi
other_group=$(getent group 999 | cut -d: -f1)
if [ -n "$other_group" ] && [ "$other_group" != postgres ]; then
  new=$(free_id); groupmod -g "$new" "$other_group"; find / -xdev -gid 999 -exec chgrp -h "$new" {} +
fi
old_uid=$(id -u postgres); old_gid=$(id -g postgres)
if [ "$old_gid" != 999 ]; then
  groupmod -g 999 postgres; find / -xdev -gid "$old_gid" -exec chgrp -h 999 {} +
fi
if [ "$old_uid" != 999 ]; then
  usermod -u 999 postgres; find / -xdev -uid "$old_uid" -exec chown -h 999 {} +
fi
# the package's default cluster is not used by the image
rm -rf /var/lib/postgresql/*/main /etc/postgresql/*/main
# forky's glibc ships no locale.alias
if [ -f /usr/share/locale/locale.alias ]; then
  localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
else
  localedef -i en_US -c -f UTF-8 en_US.UTF-8
fi
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/*.log /tmp/* /var/tmp/*
CHROOT
}

# the Docker host and the exporter: no ssh host keys (each host makes its own when it starts), no apt cache
prepare_host_root() {
  chroot "$1" /bin/sh -eu <<'CHROOT'
rm -f /etc/ssh/ssh_host_*
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/*.log /tmp/* /var/tmp/*
CHROOT
}

# the upgrade helper: a docker build on top of the three postgres images (their ids are in its recipe)
build_upgrade() {
  local tag hash inputs
  tag=$(tag_of upgrade)
  inputs=$(for v in 15 17 18; do docker image inspect -f '{{.Id}}' "pgdock-test/postgres:$v"; done) \
    || { log "$tag needs pgdock-test/postgres:15, :17 and :18 first"; return 1; }
  hash=$(recipe_hash upgrade "$inputs")
  if [ "$(docker image inspect -f '{{index .Config.Labels "org.pgdock.recipe"}}' "$tag" 2>/dev/null)" = "$hash" ]; then
    log "$tag is up to date (recipe $hash)"
    return 0
  fi
  local start=$SECONDS out
  out=$(mktemp)
  DOCKER_BUILDKIT=0 docker build -q --label "org.pgdock.recipe=$hash" -t "$tag" "$here/images/upgrade" >"$out" 2>&1 \
    || { log "$tag: docker build failed:"; cat "$out" >&2; rm -f "$out"; return 1; }
  rm -f "$out"
  log "$tag built in $((SECONDS - start)) s (recipe $hash)"
}

build_one() {
  local target=$1 suite kind pkgs tag hash
  [ "$target" != upgrade ] || return 0  # built last, see below
  read -r suite kind pkgs <<<"$(spec "$target")"
  tag=$(tag_of "$target")
  hash=$(recipe_hash "$kind" "$target" "$suite" "$pkgs")
  if [ "$(docker image inspect -f '{{index .Config.Labels "org.pgdock.recipe"}}' "$tag" 2>/dev/null)" = "$hash" ]; then
    log "$tag is up to date (recipe $hash)"
    return 0
  fi
  local start=$SECONDS root script=()
  root=$(mktemp -d /var/tmp/pgdock-rootfs.XXXXXX)
  # build_one runs in a background subshell: EXIT also fires when `set -e` ends it on a failure
  trap 'rm -rf "$root" "$root.log"' EXIT
  # debootstrap of this Debian release knows no script for suites newer than it: use sid's
  [ -e "/usr/share/debootstrap/scripts/$suite" ] || script=(/usr/share/debootstrap/scripts/sid)
  log "$tag: debootstrap $suite ($pkgs)"
  debootstrap --variant=minbase --include="${pkgs// /,},$(base_packages "$kind")" \
    "$suite" "$root" "$(mirror)" "${script[@]}" >"$root.log" 2>&1 \
    || { log "$tag: debootstrap failed; last lines:"; tail -n 20 "$root.log" >&2; return 1; }
  rm -f "$root.log"
  case "$kind" in host|exporter) prepare_host_root "$root" ;; *) prepare_postgres_root "$root" ;; esac
  local base="pgdock-test/rootfs:$target-$hash"
  tar -C "$root" --numeric-owner -c . | docker import - "$base" >/dev/null
  local args=(--build-arg "BASE=$base" --label "org.pgdock.recipe=$hash")
  if [ "$kind" = postgres ]; then
    local pgdata=/var/lib/postgresql/data volume=/var/lib/postgresql/data
    if [ "$target" -ge 18 ]; then pgdata=/var/lib/postgresql/$target/docker; volume=/var/lib/postgresql; fi
    args+=(--build-arg "PG_MAJOR=$target" --build-arg "PGDATA_DIR=$pgdata" --build-arg "VOLUME_DIR=$volume")
  fi
  DOCKER_BUILDKIT=0 docker build -q "${args[@]}" -t "$tag" "$here/images/$kind" >"$root.log" 2>&1 \
    || { log "$tag: docker build failed:"; cat "$root.log" >&2; rm -f "$root.log"; return 1; }
  rm -f "$root.log"
  docker rmi "$base" >/dev/null 2>&1 || true
  log "$tag built in $((SECONDS - start)) s (recipe $hash)"
}

command -v debootstrap >/dev/null || { log "debootstrap missing: run testbed/ensure-docker.sh first"; exit 1; }
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(15 17 18 pgbouncer postgres-exporter upgrade)
for t in "${targets[@]}"; do spec "$t" >/dev/null; done
# two at a time: downloads and unpacking overlap well on two cores
pids=(); failed=0
for t in "${targets[@]}"; do
  build_one "$t" & pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || failed=1; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ $failed = 0 ] && [[ " ${targets[*]} " == *" upgrade "* ]]; then build_upgrade || failed=1; fi
exit $failed

#!/usr/bin/env bash
# The multi-host test bed: N "Docker hosts" on this machine, each an unprivileged container of
# pgdock-test/host:latest running its own sshd and dockerd (data root on its own volume), on the
# network pgdock-tb-net that the test bed owns. Ansible reaches them over SSH with a key generated
# once under .testbed/. The test images are loaded into each inner engine (cached by image id).
#   hosts.sh up [N]     start (or reuse) pgdock-tb-h1..hN (default 3), write .testbed/inventory.yml
#   hosts.sh down       remove every test bed host, their volumes, the network, the cgroup folders
#   hosts.sh status     hosts, addresses, inner engines, memory
#   hosts.sh inventory  print the Ansible inventory of the running hosts (and write it)
# Environment: PGDOCK_TB_IMAGES (images to load, space separated), PGDOCK_TB_MEMORY (limit of each
# host container, default 1g), PGDOCK_TB_INNER_MEMORY (limit of each host's inner containers,
# default 3g), PGDOCK_TB_DIR (state directory, default <checkout>/.testbed).
# See docs/testbed.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
state=${PGDOCK_TB_DIR:-$repo/.testbed}
key=$state/id_ed25519
inventory_file=$state/inventory.yml

NET=pgdock-tb-net
SUBNET=10.213.14.0/24   # not in Docker's default pools (172.17-31.0.0/16, 192.168.0.0/16)
GATEWAY=10.213.14.1
ADDR_BASE=10.213.14.10  # h<i> gets 10.213.14.(10+i)
MAX_HOSTS=9
HOST_IMAGE=pgdock-test/host:latest
LABEL=org.pgdock.testbed
read -r -a IMAGES <<<"${PGDOCK_TB_IMAGES:-pgdock-test/postgres:15 pgdock-test/postgres:17 pgdock-test/postgres:18 pgdock-test/pgbouncer:latest}"
HOST_MEMORY=${PGDOCK_TB_MEMORY:-1g}
INNER_MEMORY=${PGDOCK_TB_INNER_MEMORY:-3g}
READY_TIMEOUT=90
tar=  # an image file being loaded (removed on exit)
trap '[ -z "$tar" ] || rm -f "$tar"' EXIT

log() { printf '[hosts] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
host_name() { echo "pgdock-tb-h$1"; }
host_addr() { echo "${ADDR_BASE%.*}.$((${ADDR_BASE##*.} + $1))"; }
ssh_opts() {
  printf '%s\n' -i "$key" -o BatchMode=yes -o ConnectTimeout=3 -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
}

# the test bed's hosts (by label and name), h1 first
list_hosts() {
  docker ps -a --filter "label=$LABEL=host" --format '{{.Names}}' | grep -E '^pgdock-tb-h[0-9]+$' \
    | sort -V || true
}

ensure_key() {
  [ -f "$key" ] && [ -f "$key.pub" ] && return 0
  mkdir -p "$state"; chmod 0700 "$state"
  rm -f "$key" "$key.pub"
  ssh-keygen -q -t ed25519 -N '' -C pgdock-testbed -f "$key"
  log "generated the SSH key $key"
}

ensure_images() {
  # the host image is built (or found up to date) here; the test images only when missing, as
  # `make testbed` keeps them current
  bash "$here/build-images.sh" host
  local img missing=()
  for img in "${IMAGES[@]}"; do
    docker image inspect "$img" >/dev/null 2>&1 && continue
    case "$img" in
      pgdock-test/postgres:*) missing+=("${img##*:}") ;;
      pgdock-test/pgbouncer:latest) missing+=(pgbouncer) ;;
      *) die "image $img is missing and build-images.sh does not build it" ;;
    esac
  done
  if ((${#missing[@]})); then bash "$here/build-images.sh" "${missing[@]}"; fi
}

ensure_network() {
  local subnet
  if subnet=$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NET" 2>/dev/null); then
    [ "$subnet" = "$SUBNET" ] || die "network $NET exists with subnet $subnet, not $SUBNET: run 'hosts.sh down'"
    return 0
  fi
  docker network create --driver bridge --subnet "$SUBNET" --gateway "$GATEWAY" \
    --label "$LABEL=network" "$NET" >/dev/null
  log "created network $NET ($SUBNET)"
}

# the docker run arguments of host i (its config: a host whose config label differs is recreated)
host_run_args() {
  local name addr
  name=$(host_name "$1"); addr=$(host_addr "$1")
  # not --privileged (refused here): the capabilities and unconfined profiles a nested dockerd
  # needs; SYS_PTRACE lets the inner runc join containers that run as another user (docker exec)
  printf '%s\n' --name "$name" --hostname "$name" --label "$LABEL=host" \
    --network "$NET" --ip "$addr" \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE \
    --security-opt apparmor=unconfined --security-opt seccomp=unconfined \
    --security-opt systempaths=unconfined \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw -v "$name-docker:/var/lib/docker" \
    --tmpfs /run:rw,size=64m --tmpfs /tmp:rw,size=256m \
    --memory "$HOST_MEMORY" --memory-swap "$HOST_MEMORY" \
    -e "PGDOCK_TB_INNER_MEMORY=$INNER_MEMORY" \
    --log-opt max-size=10m --log-opt max-file=2 --stop-timeout 30
}

# start host i, or reuse it when it runs the current host image with the current config;
# prints "reused" or "started"
ensure_host() {
  local i=$1 name image_id config cur args=()
  name=$(host_name "$i")
  image_id=$(docker image inspect -f '{{.Id}}' "$HOST_IMAGE")
  mapfile -t args < <(host_run_args "$i")
  config=$( { printf '%s\n' "${args[@]}"; echo "$image_id"; } | sha256sum | cut -c1-16)
  if cur=$(docker inspect -f "{{index .Config.Labels \"$LABEL.config\"}} {{.State.Running}}" "$name" 2>/dev/null); then
    if [ "$cur" = "$config true" ]; then echo reused; return 0; fi
    if [ "$cur" = "$config false" ]; then
      docker start "$name" >/dev/null
      log "$name: started again"
      echo started; return 0
    fi
    log "$name: host image or settings changed, recreating the container (its volume stays)"
    docker rm -f "$name" >/dev/null
  fi
  docker volume inspect "$name-docker" >/dev/null 2>&1 \
    || docker volume create --label "$LABEL=volume" "$name-docker" >/dev/null
  docker run -d "${args[@]}" --label "$LABEL.config=$config" "$HOST_IMAGE" >/dev/null
  log "$name: started at $(host_addr "$i")"
  echo started
}

# added beside the keys already there: checkouts with keys of their own share the running hosts
install_key() {
  docker exec -i "$1" sh -c 'umask 077; mkdir -p /root/.ssh; k=$(cat); touch /root/.ssh/authorized_keys
    grep -qxF "$k" /root/.ssh/authorized_keys || printf "%s\n" "$k" >>/root/.ssh/authorized_keys' <"$key.pub"
}

# until the inner engine answers (docker exec) and sshd lets the key in (from this machine)
wait_ready() {
  local name=$1 addr=$2 deadline=$((SECONDS + READY_TIMEOUT)) engine=no ssh=no opts
  mapfile -t opts < <(ssh_opts)
  while [ "$SECONDS" -lt "$deadline" ]; do
    [ "$engine" = yes ] || { docker exec "$name" docker info -f '{{.ID}}' >/dev/null 2>&1 && engine=yes; }
    [ "$ssh" = yes ] || { ssh "${opts[@]}" "root@$addr" true </dev/null >/dev/null 2>&1 && ssh=yes; }
    [ "$engine" = yes ] && [ "$ssh" = yes ] && return 0
    [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] \
      || { log "$name stopped; its log:"; docker logs --tail 30 "$name" >&2 || true; return 1; }
    sleep 1
  done
  log "$name not ready within $READY_TIMEOUT s (inner engine: $engine, ssh: $ssh); its log:"
  docker logs --tail 30 "$name" >&2 || true
  return 1
}

# the test images into the hosts' engines: each image the outer engine saves once, into a file
# that the hosts lacking it (by image id) load side by side
load_images() {
  local img outer name need start pids p failed=0 loaded=()
  for img in "${IMAGES[@]}"; do
    outer=$(docker image inspect -f '{{.Id}}' "$img")
    need=()
    for name in "$@"; do
      [ "$(docker exec "$name" docker image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)" = "$outer" ] \
        || need+=("$name")
    done
    ((${#need[@]})) || continue
    start=$SECONDS
    tar=$(mktemp /var/tmp/pgdock-tb-image.XXXXXX)
    docker save -o "$tar" "$img" || { log "docker save $img failed"; return 1; }
    pids=()
    for name in "${need[@]}"; do
      docker exec -i "$name" docker load -q <"$tar" >/dev/null & pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || failed=1; done
    rm -f "$tar"; tar=
    [ "$failed" = 0 ] || { log "loading $img into ${need[*]} failed"; return 1; }
    log "$img loaded into ${need[*]} in $((SECONDS - start)) s"
    loaded+=("${need[@]}")
  done
  # the images that the new tags replaced
  for name in $(printf '%s\n' "${loaded[@]}" | sort -u); do
    docker exec "$name" docker image prune -f >/dev/null
  done
}

# one host, from start to ready (run in the background, one per host)
bring_up() {
  local i=$1 name addr how
  name=$(host_name "$i"); addr=$(host_addr "$i")
  how=$(ensure_host "$i")
  install_key "$name"
  wait_ready "$name" "$addr"
  [ "$how" = reused ] && log "$name: reused ($addr)"
  return 0
}

write_inventory() {
  local name addr i out
  mkdir -p "$state"
  out=$(
    echo "# The multi-host test bed (testbed/hosts.sh inventory); written by hosts.sh, do not edit."
    echo "all:"
    echo "  children:"
    echo "    pgdock_testbed:"
    echo "      vars:"
    echo "        ansible_user: root"
    echo "        ansible_ssh_private_key_file: $key"
    echo "        ansible_python_interpreter: /usr/bin/python3"
    echo "        # host keys of the test bed's hosts change with every new container: not checked, not kept"
    echo "        ansible_host_key_checking: false"
    echo "        ansible_ssh_common_args: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
    echo "      hosts:"
    while read -r name; do
      [ -n "$name" ] || continue
      [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || continue
      i=${name#pgdock-tb-h}
      addr=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$name")
      echo "        h$i:"
      echo "          ansible_host: $addr"
      echo "          pgdock_testbed_container: $name"
    done < <(list_hosts)
  )
  printf '%s\n' "$out" >"$inventory_file.tmp"
  mv "$inventory_file.tmp" "$inventory_file"
}

cmd_up() {
  local n=${1:-3} start=$SECONDS i pids=() failed=0 extra names
  if ! [[ "$n" =~ ^[1-9][0-9]*$ ]] || [ "$n" -gt "$MAX_HOSTS" ]; then die "up N: N from 1 to $MAX_HOSTS"; fi
  for tool in ssh ssh-keygen; do command -v "$tool" >/dev/null || die "$tool missing (apt-get install openssh-client)"; done
  ensure_key
  ensure_images
  ensure_network
  for i in $(seq 1 "$n"); do
    bring_up "$i" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ "$failed" = 0 ] || die "some hosts did not come up (see above); 'hosts.sh down' removes them"
  mapfile -t names < <(for i in $(seq 1 "$n"); do host_name "$i"; done)
  load_images "${names[@]}"
  extra=$(list_hosts | awk -v n="$n" '{ i = substr($0, 12) + 0; if (i > n) print }' | tr '\n' ' ')
  [ -z "$extra" ] || log "also running (not asked for, left as they are): $extra"
  write_inventory
  log "$n host(s) up in $((SECONDS - start)) s; inventory: $inventory_file"
}

cmd_down() {
  local name names dir
  mapfile -t names < <(list_hosts)
  if ((${#names[@]})); then docker rm -f "${names[@]}" >/dev/null; log "removed ${names[*]}"; fi
  mapfile -t names < <(docker volume ls -q --filter "label=$LABEL=volume" | grep -E '^pgdock-tb-h[0-9]+-docker$' || true)
  if ((${#names[@]})); then docker volume rm "${names[@]}" >/dev/null; log "removed volumes ${names[*]}"; fi
  if docker network inspect "$NET" >/dev/null 2>&1; then
    docker network rm "$NET" >/dev/null && log "removed network $NET"
  fi
  # what the inner engines left in the cgroup hierarchies (--cgroup-parent=/<host name>), deepest
  # first; only empty folders go (rmdir refuses the others)
  for dir in /sys/fs/cgroup/*/pgdock-tb-h[0-9]* /sys/fs/cgroup/pgdock-tb-h[0-9]*; do
    [ -d "$dir" ] || continue
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || log "could not remove all of $dir"
  done
  rm -f "$inventory_file"
}

cmd_status() {
  local name addr state engine inner mem cg
  printf '%-14s %-8s %-14s %-16s %-6s %-10s %s\n' HOST STATE ADDRESS ENGINE-ID INNER HOST-MEM INNER-MEM
  while read -r name; do
    [ -n "$name" ] || continue
    state=$(docker inspect -f '{{.State.Status}}' "$name")
    addr=$(docker inspect -f "{{with index .NetworkSettings.Networks \"$NET\"}}{{.IPAddress}}{{end}}" "$name")
    engine=- inner=- mem=- cg=-
    if [ "$state" = running ]; then
      engine=$(docker exec "$name" docker info -f '{{.ID}}' 2>/dev/null | cut -c1-14 || echo -)
      inner=$(docker exec "$name" docker ps -q 2>/dev/null | wc -l || echo -)
      mem=$(docker stats --no-stream --format '{{.MemUsage}}' "$name" | cut -d/ -f1 | tr -d ' ')
    fi
    # the inner containers' cgroup: usage minus page cache (rss + shmem), MiB
    if [ -r "/sys/fs/cgroup/memory/$name/memory.stat" ]; then
      cg=$(awk '$1=="total_rss"{r=$2} $1=="total_shmem"{s=$2} END {printf "%.1fMiB", (r+s)/1048576}' \
        "/sys/fs/cgroup/memory/$name/memory.stat")
    fi
    printf '%-14s %-8s %-14s %-16s %-6s %-10s %s\n' "$name" "$state" "${addr:--}" "$engine" "$inner" "$mem" "$cg"
  done < <(list_hosts)
  docker network inspect -f "network {{.Name}} {{range .IPAM.Config}}{{.Subnet}}{{end}}" "$NET" 2>/dev/null \
    || echo "network $NET: absent"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  inventory) write_inventory; cat "$inventory_file" ;;
  *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

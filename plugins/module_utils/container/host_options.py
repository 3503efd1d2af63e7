# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The container's host options beyond the server itself: limits (ulimits, sysctls, memory
reservation, cpuset), capabilities, user, read-only root filesystem, extra mounts, several published
ports and the log driver. Each is validated, put in the comparable spec and read back from `docker
inspect` here, in the shapes spec.py compares."""

from __future__ import annotations

import os
import re

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    CONTAINER_PORT,
    INITDB_SCRIPTS_MOUNT,
    READ_ONLY_TMPFS,
    SECRETS_MOUNT,
    WAL_ARCHIVE_MOUNT,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import size_in_bytes
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

try:
    from docker.types import Mount, Ulimit
except ImportError:  # pragma: no cover - connect() reports the missing SDK before any container is made
    pass

CAPABILITIES = frozenset((
    "ALL", "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE",
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL",
    "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE",
    "NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG",
    "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE",
    "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM",
))
# the sysctls Docker lets a container set (namespaced ones); others fail at creation
SYSCTL_RE = re.compile(r"^(net\.[a-z0-9_./-]+|fs\.mqueue\.[a-z0-9_]+|kernel\.(msgmax|msgmnb|msgmni|sem|shmall|"
                       r"shmmax|shmmni|shm_rmid_forced))$")
LOG_DRIVERS = frozenset(("json-file", "local", "journald", "syslog", "gelf", "fluentd", "awslogs", "splunk",
                         "gcplogs", "logentries", "etwlogs", "none"))
ULIMIT_RE = re.compile(r"^([a-z]+):(-?\d+)(?::(-?\d+))?$")
ULIMIT_NAMES = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
                "rtprio", "rttime", "sigpending", "stack")
VOLUME_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
PORT_RE = re.compile(r"^(?:(\[[0-9a-fA-F:]+\]|[0-9.]+):)?(\d+):(\d+)(?:/(tcp|udp))?$")
CPUSET_RE = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
USER_RE = re.compile(r"^(\d+)(?::(\d+))?$")
MOUNT_TYPES = ("bind", "volume", "tmpfs")


def validate_host_options(p: dict) -> None:
    """Reject bad values of these options before anything is touched; each message names the option."""
    for item in p.get("ulimits") or []:
        parse_ulimit(item)
    for key in p.get("sysctls") or {}:
        if not SYSCTL_RE.match(key):
            raise PgdockError(f"sysctls: {key!r} is not a sysctl a container may set (net.*, fs.mqueue.*, "
                              "kernel.msgmax/msgmnb/msgmni/sem/shmall/shmmax/shmmni/shm_rmid_forced)")
    try:
        reservation = size_in_bytes(p.get("memory_reservation"), "memory_reservation")
        memory = size_in_bytes(p.get("memory"), "memory")
    except ValueError as exc:
        raise PgdockError(str(exc)) from None
    if reservation and memory and reservation > memory:
        raise PgdockError(f"memory_reservation: {p['memory_reservation']!r} is more than memory {p['memory']!r}")
    _validate_cpuset(p.get("cpuset_cpus"))
    for option in ("cap_add", "cap_drop"):
        for cap in p.get(option) or []:
            if capability(cap).replace("CAP_", "", 1) not in CAPABILITIES:
                raise PgdockError(f"{option}: {cap!r} is not a Linux capability (e.g. SYS_NICE, NET_ADMIN, ALL)")
    _validate_user(p)
    driver = p.get("log_driver") or "json-file"
    if driver not in LOG_DRIVERS and "/" not in driver:
        raise PgdockError(f"log_driver: {driver!r} is not a Docker log driver ({', '.join(sorted(LOG_DRIVERS))}, "
                          "or a plugin as owner/name)")
    bindings = [f"{ip}:{port}/{proto.split('/')[1]}" for proto, addresses in desired_ports(p).items()
                for ip, port in (a.rsplit(":", 1) for a in addresses)]
    twice = sorted({b for b in bindings if bindings.count(b) > 1})
    if twice:
        raise PgdockError(f"published_ports: host address and port {', '.join(twice)} published twice "
                          "(published_port and published_ports together)")
    _validate_mounts(p.get("mounts") or [])


def _validate_cpuset(cpuset) -> None:
    if not cpuset:
        return
    if not CPUSET_RE.match(cpuset):
        raise PgdockError(f"cpuset_cpus: {cpuset!r} is not a CPU list such as 0-3 or 0,2")
    highest = max(int(n) for n in re.split(r"[,-]", cpuset))
    if highest >= (os.cpu_count() or 1):
        raise PgdockError(f"cpuset_cpus: CPU {highest} does not exist on this host ({os.cpu_count()} CPUs, 0-"
                          f"{(os.cpu_count() or 1) - 1})")


def _validate_user(p: dict) -> None:
    user = p.get("user")
    if not user:
        return
    match = USER_RE.match(user)
    if not match:
        raise PgdockError(f"user: {user!r} must be a numeric uid[:gid] (the data directory and the password "
                          "file are owned by that uid)")
    if int(match.group(1)) != p.get("postgres_uid"):
        raise PgdockError(f"user: uid {match.group(1)} differs from postgres_uid {p.get('postgres_uid')}; set "
                          "postgres_uid to the same uid (it owns the password file the server reads)")


def _validate_mounts(mounts: list) -> None:
    targets = set()
    for m in mounts:
        kind, source, target = m.get("type") or "volume", m.get("source"), m.get("target")
        if kind not in MOUNT_TYPES:
            raise PgdockError(f"mounts: type {kind!r} of {target!r} is not one of {', '.join(MOUNT_TYPES)}")
        if not target or not target.startswith("/") or ":" in target:
            raise PgdockError(f"mounts: target {target!r} must be an absolute path without ':'")
        if os.path.normpath(target) in targets:
            raise PgdockError(f"mounts: target {target!r} is listed twice")
        targets.add(os.path.normpath(target))
        if kind == "tmpfs":
            if source:
                raise PgdockError(f"mounts: the tmpfs mount at {target!r} takes no source")
            try:
                size_in_bytes(m.get("tmpfs_size"), "mounts: tmpfs_size")
            except ValueError as exc:
                raise PgdockError(str(exc)) from None
            if m.get("tmpfs_mode") and not re.match(r"^[0-7]{3,4}$", m["tmpfs_mode"]):
                raise PgdockError(f"mounts: tmpfs_mode {m['tmpfs_mode']!r} of {target!r} is not an octal mode (1777)")
            continue
        if m.get("tmpfs_size") or m.get("tmpfs_mode"):
            raise PgdockError(f"mounts: tmpfs_size and tmpfs_mode are for type tmpfs, not {kind} ({target!r})")
        if not source or ":" in source:
            raise PgdockError(f"mounts: the {kind} mount at {target!r} needs a source without ':'")
        if kind == "volume" and not VOLUME_NAME_RE.match(source):
            raise PgdockError(f"mounts: volume source {source!r} (for {target!r}) is not a volume name")
        if kind == "bind" and not (source.startswith("/") and os.path.exists(source)):
            raise PgdockError(f"mounts: bind source {source!r} (for {target!r}) does not exist on the Docker host; "
                              "create it first (an absolute path)")


def check_mount_targets(p: dict, volume_path: str) -> None:
    """Refuse extra mounts at (or inside) a mount point the module uses itself."""
    own = {volume_path: "the data volume", SECRETS_MOUNT: "the secrets", INITDB_SCRIPTS_MOUNT: "init_scripts_dir",
           WAL_ARCHIVE_MOUNT: "wal_archive_dir"}
    if p.get("read_only"):
        own.update({path: "read_only's tmpfs" for path in READ_ONLY_TMPFS})
    for m in p.get("mounts") or []:
        target = os.path.normpath(m["target"])
        for path, what in own.items():
            if target == path or target.startswith(path + "/"):
                raise PgdockError(f"mounts: target {m['target']!r} collides with {path}, where the module mounts "
                                  f"{what}; pick another target")


def capability(name: str) -> str:
    """A capability as Docker reports it (CAP_ prefix, upper case)."""
    name = name.strip().upper()
    return name if name == "ALL" or name.startswith("CAP_") else f"CAP_{name}"


def parse_ulimit(item: str) -> tuple[str, int, int]:
    """'name:soft[:hard]' -> (name, soft, hard); hard defaults to soft, as in community.docker."""
    match = ULIMIT_RE.match(str(item).strip())
    if not match:
        raise PgdockError(f"ulimits: {item!r} is not name:soft[:hard] (e.g. nofile:65536:65536)")
    if match.group(1) not in ULIMIT_NAMES:
        raise PgdockError(f"ulimits: {match.group(1)!r} in {item!r} is not a limit ({', '.join(ULIMIT_NAMES)})")
    soft = int(match.group(2))
    hard = int(match.group(3)) if match.group(3) is not None else soft
    if hard != -1 and (soft == -1 or soft > hard):
        raise PgdockError(f"ulimits: the soft limit of {item!r} is above its hard limit")
    return match.group(1), soft, hard


def parse_published_port(item: str) -> tuple[str, str, int]:
    """'[ip:]host_port:container_port[/proto]' -> (container port as 'N/proto', host ip, host port)."""
    match = PORT_RE.match(str(item).strip())
    if not match:
        raise PgdockError(f"published_ports: {item!r} is not [ip:]host_port:container_port")
    ip, host_port, port, proto = match.groups()
    for number in (host_port, port):
        if not 1 <= int(number) <= 65535:
            raise PgdockError(f"published_ports: {number} in {item!r} is not a port (1-65535)")
    return f"{int(port)}/{proto or 'tcp'}", (ip or "0.0.0.0").strip("[]"), int(host_port)


def desired_ports(p: dict) -> dict:
    """Container port -> its bindings ['ip:port', ...] in order: published_port first (what the other
    modules connect to), then published_ports."""
    ports = {}
    if p.get("published_port"):
        ports[CONTAINER_PORT] = [f"{p['published_host_ip']}:{p['published_port']}"]
    for item in p.get("published_ports") or []:
        port, ip, host_port = parse_published_port(item)
        ports.setdefault(port, []).append(f"{ip}:{host_port}")
    return ports


def desired_log_config(p: dict) -> dict:
    """json-file with log_max_size/log_max_file (log_options over them); another driver takes
    log_options only."""
    driver = p.get("log_driver") or "json-file"
    config = {}
    if driver == "json-file":
        config = {"max-size": p["log_max_size"], "max-file": str(p["log_max_file"])}
    config.update({k: str(v) for k, v in (p.get("log_options") or {}).items()})
    return {"type": driver, "config": config}


def desired_host_fields(p: dict) -> dict:
    """The comparable fields of these options (see actual_host_fields for the same from inspect)."""
    ulimits = [":".join(str(v) for v in parse_ulimit(u)) for u in p.get("ulimits") or []]
    tmpfs = [f"{path}:0:" for path in READ_ONLY_TMPFS] if p.get("read_only") else []
    for m in p.get("mounts") or []:
        if (m.get("type") or "volume") == "tmpfs":
            size = size_in_bytes(m.get("tmpfs_size"), "mounts: tmpfs_size") or 0
            mode = f"{int(m['tmpfs_mode'], 8):o}" if m.get("tmpfs_mode") else ""
            tmpfs.append(f"{os.path.normpath(m['target'])}:{size}:{mode}")
    return {
        "ulimits": sorted(ulimits),
        "sysctls": {k: str(v) for k, v in (p.get("sysctls") or {}).items()},
        "memory_reservation": size_in_bytes(p.get("memory_reservation"), "memory_reservation") or 0,
        "cpuset_cpus": p.get("cpuset_cpus") or "",
        "cap_add": sorted({capability(c) for c in p.get("cap_add") or []}),
        "cap_drop": sorted({capability(c) for c in p.get("cap_drop") or []}),
        "user": p.get("user") or "",
        "read_only": bool(p.get("read_only")),
        "tmpfs": sorted(tmpfs),
    }


def extra_mounts(p: dict) -> list[str]:
    """The bind and volume mounts of `mounts`, as spec.py lists mounts (type:source:target:mode)."""
    return [f"{m.get('type') or 'volume'}:{m['source']}:{os.path.normpath(m['target'])}:"
            f"{'ro' if m.get('read_only') else 'rw'}"
            for m in p.get("mounts") or [] if (m.get("type") or "volume") != "tmpfs"]


def actual_host_fields(container_attrs: dict) -> dict:
    """The fields of desired_host_fields, read from `docker inspect`."""
    config = container_attrs.get("Config") or {}
    host = container_attrs.get("HostConfig") or {}
    tmpfs = []
    for m in host.get("Mounts") or []:
        if m.get("Type") == "tmpfs":
            options = m.get("TmpfsOptions") or {}
            mode = f"{options['Mode']:o}" if options.get("Mode") else ""
            tmpfs.append(f"{m.get('Target')}:{options.get('SizeBytes') or 0}:{mode}")
    return {
        "ulimits": sorted(f"{u.get('Name')}:{u.get('Soft')}:{u.get('Hard')}" for u in host.get("Ulimits") or []),
        "sysctls": dict(host.get("Sysctls") or {}),
        "memory_reservation": host.get("MemoryReservation") or 0,
        "cpuset_cpus": host.get("CpusetCpus") or "",
        "cap_add": sorted({capability(c) for c in host.get("CapAdd") or []}),
        "cap_drop": sorted({capability(c) for c in host.get("CapDrop") or []}),
        "user": config.get("User") or "",
        "read_only": bool(host.get("ReadonlyRootfs")),
        "tmpfs": sorted(tmpfs),
    }


def inherited_host_params(actual: dict) -> dict:
    """The options of a container that takes another's place or role, from its actual spec: limits,
    capabilities, user and read-only root (not its extra mounts or published ports, which are its own)."""
    return {
        "ulimits": list(actual["ulimits"]), "sysctls": dict(actual["sysctls"]),
        "memory_reservation": str(actual["memory_reservation"]) if actual["memory_reservation"] else None,
        "cpuset_cpus": actual["cpuset_cpus"] or None, "cap_add": list(actual["cap_add"]),
        "cap_drop": list(actual["cap_drop"]), "user": actual["user"] or None, "read_only": actual["read_only"],
    }


def host_config_arguments(desired: dict) -> dict:
    """Keyword arguments of the SDK's create_host_config for these fields (tmpfs mounts apart)."""
    ulimits = []
    for item in desired["ulimits"]:
        name, soft, hard = item.split(":")
        ulimits.append(Ulimit(name=name, soft=int(soft), hard=int(hard)))
    return dict(
        ulimits=ulimits or None, sysctls=desired["sysctls"] or None,
        mem_reservation=desired["memory_reservation"] or None, cpuset_cpus=desired["cpuset_cpus"] or None,
        cap_add=desired["cap_add"] or None, cap_drop=desired["cap_drop"] or None,
        read_only=desired["read_only"] or None,
    )


def tmpfs_mounts(desired: dict) -> list:
    """docker.types.Mount objects of the spec's tmpfs entries (target:size:mode)."""
    mounts = []
    for item in desired["tmpfs"]:
        target, size, mode = item.split(":")
        mounts.append(Mount(target, None, type="tmpfs", tmpfs_size=int(size) or None,
                            tmpfs_mode=int(mode, 8) if mode else None))
    return mounts

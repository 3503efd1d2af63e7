# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL container spec: what the module's options ask for, what a running container
has (read from `docker inspect`), both in one comparable shape, and the differences."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.pgdock.postgres.plugins.module_utils.container.host_options import (
    actual_host_fields,
    check_mount_targets,
    desired_host_fields,
    desired_log_config,
    desired_ports,
    extra_mounts,
    inherited_host_params,
    validate_host_options,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    CONTAINER_LABEL,
    CONTAINER_PORT,
    ENTRYPOINT_ENV,
    INITDB_SCRIPTS_MOUNT,
    PASSWORD_FILE_NAME,
    SECRETS_MOUNT,
    TOPOLOGY_LABELS,
    WAL_ARCHIVE_MOUNT,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    managed_labels,
    mount_source,
    size_in_bytes,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import ImageLayout, env_to_dict, image_env
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

NS_PER_SECOND = 1_000_000_000
MIN_MEMORY = 32 * 1024 * 1024

CONTAINER_NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
SETTING_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
FORBIDDEN_ENV = ("POSTGRES_PASSWORD",)


# The fields compared with the running container; a change of any of them but IN_PLACE_FIELDS is
# reached only by creating a new container (the data volume is kept): Docker cannot change a
# container's command, environment, mounts or ports in place.
RECREATE_FIELDS = (
    "image", "image_id", "command", "env", "labels", "mounts", "ports", "healthcheck",
    "restart_policy", "stop_timeout", "memory", "nano_cpus", "shm_size", "security_opt", "log_config",
    "ulimits", "sysctls", "memory_reservation", "cpuset_cpus", "cap_add", "cap_drop", "user", "read_only", "tmpfs",
)
# what `docker update` changes on a running container, without restarting it
IN_PLACE_FIELDS = ("restart_policy", "nano_cpus")


def setting_value(value) -> str:
    """A server setting as PostgreSQL reads it on the command line."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def validate_options(p: dict) -> None:
    """Reject bad input before anything is touched; each message names the option."""
    if not CONTAINER_NAME_RE.match(p["name"]):
        raise PgdockError(
            f"name: {p['name']!r} is not a valid container name (letters, digits, '_', '.', '-'; "
            "starting with a letter or digit)"
        )
    volume = p.get("data_volume")
    if volume is not None and not CONTAINER_NAME_RE.match(volume):
        raise PgdockError(f"data_volume: {volume!r} is not a valid volume name")
    for key, value in (p.get("settings") or {}).items():
        if not SETTING_NAME_RE.match(key):
            raise PgdockError(f"settings: {key!r} is not a PostgreSQL parameter name")
        if "\n" in setting_value(value) or "\0" in setting_value(value):
            raise PgdockError(f"settings: the value of {key!r} contains a newline or NUL byte")
    password = p.get("superuser_password")
    if password is not None and (not password or any(c in password for c in "\r\n\0")):
        raise PgdockError(
            "superuser_password: must be non-empty and on one line: initdb reads only the first line "
            "of the password file (set a multi-line password later with pgdock.postgres.role)"
        )
    for key in p.get("env") or {}:
        if key in FORBIDDEN_ENV:
            raise PgdockError(
                f"env: {key} would put the password in the container's environment (visible to "
                "`docker inspect`); give superuser_password instead, it is passed as a 0600 file"
            )
    try:
        memory = size_in_bytes(p.get("memory"), "memory")
        size_in_bytes(p.get("shm_size"), "shm_size")
    except ValueError as exc:
        raise PgdockError(str(exc)) from None
    if memory is not None and memory < MIN_MEMORY:
        raise PgdockError(f"memory: {p['memory']!r} is too small to run PostgreSQL (at least 32m)")
    if p.get("cpus") is not None and p["cpus"] <= 0:
        raise PgdockError(f"cpus: must be more than 0, got {p['cpus']}")
    archive_dir = p.get("wal_archive_dir")
    if archive_dir is not None and (not archive_dir.startswith("/") or ":" in archive_dir):
        raise PgdockError(f"wal_archive_dir: {archive_dir!r} must be an absolute host path without ':'")
    port = p.get("published_port")
    if port is not None and not 1 <= port <= 65535:
        raise PgdockError(f"published_port: {port} is not a TCP port (1-65535)")
    if not p.get("networks"):
        raise PgdockError(
            "networks: at least one user-defined network is required (the default bridge is not "
            "used); create one with pgdock.postgres.network"
        )
    names = [n["name"] for n in p["networks"]]
    if len(set(names)) != len(names):
        raise PgdockError(f"networks: a network is listed twice: {names}")
    for name in names:
        if name in ("bridge", "host", "none", "default"):
            raise PgdockError(f"networks: {name!r} is not a user-defined network; use pgdock.postgres.network")
    for net in p["networks"]:
        if net.get("ipv4_address"):
            try:
                ipaddress.IPv4Address(net["ipv4_address"])
            except ValueError:
                raise PgdockError(f"networks: ipv4_address {net['ipv4_address']!r} of network {net['name']!r} "
                                  "is not an IPv4 address") from None
    validate_host_options(p)


def desired_spec(p: dict, layout: ImageLayout, image_attrs: dict, secrets_dir: str) -> dict:
    """The comparable spec the options ask for (see actual_spec for the same shape)."""
    check_mount_targets(p, layout.volume_path)
    env = {
        "POSTGRES_USER": p["superuser"],
        "POSTGRES_DB": p.get("database") or p["superuser"],
        "POSTGRES_PASSWORD_FILE": f"{SECRETS_MOUNT}/{PASSWORD_FILE_NAME}",
        "POSTGRES_INITDB_ARGS": p["initdb_args"],
        "PGDATA": layout.pgdata,
    }
    env.update({k: str(v) for k, v in (p.get("env") or {}).items()})
    command = ["postgres"]
    for key in sorted(p.get("settings") or {}):
        command += ["-c", f"{key}={setting_value(p['settings'][key])}"]
    mounts = [
        f"volume:{p['data_volume']}:{layout.volume_path}:rw",
        f"bind:{secrets_dir}:{SECRETS_MOUNT}:ro",
    ]
    if p.get("init_scripts_dir"):
        mounts.append(f"bind:{p['init_scripts_dir']}:{INITDB_SCRIPTS_MOUNT}:ro")
    if p.get("wal_archive_dir"):
        mounts.append(f"bind:{p['wal_archive_dir']}:{WAL_ARCHIVE_MOUNT}:rw")
    mounts += extra_mounts(p)
    hc = p["healthcheck"]
    labels = managed_labels(p.get("labels"))
    labels[CONTAINER_LABEL] = p["name"]
    memory = size_in_bytes(p.get("memory"), "memory") or 0
    return {
        "image": p["image"],
        "image_id": image_attrs["Id"],
        "command": command,
        "env": _own_items(env, image_env(image_attrs)),
        "labels": _own_items(labels, (image_attrs.get("Config") or {}).get("Labels") or {}),
        "mounts": sorted(mounts),
        "ports": desired_ports(p),
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", p["superuser"],
                     "-d", "postgres", "-q"],
            "interval": hc["interval"] * NS_PER_SECOND,
            "timeout": hc["timeout"] * NS_PER_SECOND,
            "retries": hc["retries"],
            "start_period": hc["start_period"] * NS_PER_SECOND,
        },
        "restart_policy": p["restart_policy"],
        "stop_timeout": p["stop_timeout"],
        "memory": memory,
        "nano_cpus": int(round(p["cpus"] * NS_PER_SECOND)) if p.get("cpus") else 0,
        "shm_size": size_in_bytes(p.get("shm_size"), "shm_size") or 0,
        "security_opt": ["no-new-privileges:true"],
        "log_config": desired_log_config(p),
        **desired_host_fields(p),
    }


def actual_spec(container_attrs: dict, image_attrs: dict | None) -> dict:
    """The same shape as desired_spec, read from a container's `docker inspect` attributes."""
    config = container_attrs.get("Config") or {}
    host = container_attrs.get("HostConfig") or {}
    image_attrs = image_attrs or {}
    env = env_to_dict(config.get("Env"))
    declared = set(((image_attrs.get("Config") or {}).get("Volumes") or {}))
    mounts = []
    for m in container_attrs.get("Mounts") or []:
        if m.get("Type") == "tmpfs":  # compared with their options, from HostConfig (host_options)
            continue
        if m.get("Type") == "volume":
            if m.get("Destination") in declared and _is_anonymous(m.get("Name", "")):
                continue
            source = m.get("Name")
        else:
            source = m.get("Source")
        mounts.append(f"{m.get('Type')}:{source}:{m.get('Destination')}:{'rw' if m.get('RW') else 'ro'}")
    ports = {}
    for port, bindings in (host.get("PortBindings") or {}).items():
        if bindings:
            ports[port] = [f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}" for b in bindings]
    hc = config.get("Healthcheck") or {}
    log = host.get("LogConfig") or {}
    return {
        "image": config.get("Image"),
        "image_id": container_attrs.get("Image"),
        "command": list(config.get("Cmd") or []),
        "env": _own_items(env, image_env(image_attrs)),
        "labels": _own_items(config.get("Labels") or {}, (image_attrs.get("Config") or {}).get("Labels") or {}),
        "mounts": sorted(mounts),
        "ports": ports,
        "healthcheck": {
            "test": list(hc.get("Test") or []),
            "interval": hc.get("Interval", 0),
            "timeout": hc.get("Timeout", 0),
            "retries": hc.get("Retries", 0),
            "start_period": hc.get("StartPeriod", 0),
        },
        "restart_policy": (host.get("RestartPolicy") or {}).get("Name") or "no",
        "stop_timeout": config.get("StopTimeout"),
        "memory": host.get("Memory") or 0,
        "nano_cpus": host.get("NanoCpus") or 0,
        "shm_size": host.get("ShmSize") or 0,
        "security_opt": list(host.get("SecurityOpt") or []),
        "log_config": {"type": log.get("Type"), "config": dict(log.get("Config") or {})},
        **actual_host_fields(container_attrs),
    }


def spec_differences(desired: dict, actual: dict) -> list[str]:
    """Names of the fields that differ, in RECREATE_FIELDS order (topology labels the desired spec
    does not set are not compared)."""
    wanted_labels = desired.get("labels") or {}
    actual = dict(actual, labels={k: v for k, v in (actual.get("labels") or {}).items()
                                  if k not in TOPOLOGY_LABELS or k in wanted_labels})
    return [field for field in RECREATE_FIELDS if desired.get(field) != actual.get(field)]


def settings_from_command(command: list[str]) -> dict:
    """Server settings from a container command ['postgres', '-c', 'k=v', ...]."""
    settings, items = {}, list(command or [])
    for flag, value in zip(items, items[1:]):
        if flag == "-c" and "=" in value:
            key, val = value.split("=", 1)
            settings[key] = val
    return settings


def split_differences(differences: list[str], desired: dict) -> tuple[list[str], list[str]]:
    """(fields `docker update` changes in place, fields that need a new container), in order. The
    engine ignores a CPU limit of 0 in an update, so removing the limit needs a new container."""
    def in_place(field):
        return field in IN_PLACE_FIELDS and (field != "nano_cpus" or bool(desired.get("nano_cpus")))
    return [f for f in differences if in_place(f)], [f for f in differences if not in_place(f)]


def inherited_params(container_attrs: dict, image_attrs: dict | None) -> dict:
    """Container options read back from a running server, for a container that takes its place or
    its role (a replica of it, a rejoined former primary): database, initdb arguments, own
    environment, healthcheck, restart policy, stop timeout, limits, capabilities, user, read-only root,
    log driver and rotation, published address."""
    actual = actual_spec(container_attrs, image_attrs)
    env = env_to_dict((container_attrs.get("Config") or {}).get("Env"))
    hc = actual["healthcheck"]
    log = actual["log_config"]["config"]
    params = {
        "database": env.get("POSTGRES_DB"),
        "env": {k: v for k, v in actual["env"].items() if k not in ENTRYPOINT_ENV},
        "restart_policy": actual["restart_policy"],
        "memory": str(actual["memory"]) if actual["memory"] else None,
        "cpus": actual["nano_cpus"] / NS_PER_SECOND if actual["nano_cpus"] else None,
        "shm_size": str(actual["shm_size"]) if actual["shm_size"] else None,
        **inherited_host_params(actual),
    }
    if env.get("POSTGRES_INITDB_ARGS") is not None:
        params["initdb_args"] = env["POSTGRES_INITDB_ARGS"]
    if actual["stop_timeout"] is not None:
        params["stop_timeout"] = actual["stop_timeout"]
    if hc["interval"]:
        params["healthcheck"] = {"interval": hc["interval"] // NS_PER_SECOND, "timeout": hc["timeout"] // NS_PER_SECOND,
                                 "retries": hc["retries"], "start_period": hc["start_period"] // NS_PER_SECOND}
    if actual["log_config"]["type"] != "json-file":
        params.update(log_driver=actual["log_config"]["type"], log_options=log)
    if log.get("max-size"):
        params["log_max_size"] = log["max-size"]
    if log.get("max-file"):
        params["log_max_file"] = int(log["max-file"])
    binding = next(iter(actual["ports"].get(CONTAINER_PORT) or []), None)
    if binding:
        params["published_host_ip"] = binding.rsplit(":", 1)[0]
    archive_dir = mount_source(container_attrs, WAL_ARCHIVE_MOUNT, "bind")
    if archive_dir:
        params["wal_archive_dir"] = archive_dir
    return params


def _own_items(items: dict, from_image: dict) -> dict:
    """Items not inherited unchanged from the image."""
    return {k: v for k, v in items.items() if from_image.get(k) != v}


def _is_anonymous(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)

# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `container` module's options (OPTIONS, without the Docker connection options), its whole
argument spec and constraints, and the container engine's parameters built from the defaults for
engines that drive it themselves (replica, restore)."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import POSTGRES_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS, networks_option
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs, spec_params

OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["started", "stopped", "absent"], default="started"),
    image=dict(type="str", default="postgres:18"),
    pull=dict(type="str", choices=["missing", "always", "never"], default="missing"),
    data_volume=dict(type="str"),
    remove_volume=dict(type="bool", default=False),
    pgdata=dict(type="str"),
    superuser=dict(type="str", default="postgres"),
    superuser_password=dict(type="str", no_log=True),
    database=dict(type="str"),
    initdb_args=dict(type="str", default="--auth-host=scram-sha-256 --data-checksums"),
    secrets_dir=dict(type="path"),
    postgres_uid=dict(type="int", default=POSTGRES_UID),
    networks=networks_option(ipv4_address=dict(type="str")),
    purge_networks=dict(type="bool", default=False),
    allow_restart=dict(type="bool", default=True),
    published_port=dict(type="int"),
    published_host_ip=dict(type="str", default="127.0.0.1"),
    healthcheck=dict(type="dict", default={}, options=dict(
        interval=dict(type="int", default=10),
        timeout=dict(type="int", default=5),
        retries=dict(type="int", default=5),
        start_period=dict(type="int", default=30),
    )),
    restart_policy=dict(type="str", choices=["no", "always", "unless-stopped", "on-failure"],
                        default="unless-stopped"),
    stop_timeout=dict(type="int", default=120),
    memory=dict(type="str"),
    cpus=dict(type="float"),
    shm_size=dict(type="str", default="256m"),
    log_max_size=dict(type="str", default="10m"),
    log_max_file=dict(type="int", default=5),
    log_driver=dict(type="str", default="json-file"),
    log_options=dict(type="dict"),
    published_ports=dict(type="list", elements="str", default=[]),
    mounts=dict(type="list", elements="dict", default=[], options=dict(
        source=dict(type="str"),
        target=dict(type="str", required=True),
        type=dict(type="str", choices=["bind", "volume", "tmpfs"], default="volume"),
        read_only=dict(type="bool", default=False),
        tmpfs_size=dict(type="str"),
        tmpfs_mode=dict(type="str"),
    )),
    read_only=dict(type="bool", default=False),
    user=dict(type="str"),
    ulimits=dict(type="list", elements="str", default=[]),
    sysctls=dict(type="dict", default={}),
    memory_reservation=dict(type="str"),
    cpuset_cpus=dict(type="str"),
    cap_add=dict(type="list", elements="str", default=[]),
    cap_drop=dict(type="list", elements="str", default=[]),
    settings=dict(type="dict", default={}),
    init_scripts_dir=dict(type="path"),
    wal_archive_dir=dict(type="path"),
    env=dict(type="dict", default={}),
    labels=dict(type="dict", default={}),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=180),
    restore_from=dict(type="dict", options=dict(
        repository=dict(type="path", required=True),
        backup=dict(type="str"),
        target=dict(type="str", choices=["latest", "immediate"]),
    )),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
    required_if=[("state", "started", ("networks",)), ("state", "stopped", ("networks",))],
)


def container_params(**options) -> dict:
    """Container engine parameters: the given options over the module's defaults (suboptions too)."""
    return spec_params(OPTIONS, options, "container")


def list_with_defaults(entries, option: str, what: str) -> list[dict]:
    """The entries of a list-of-dicts container option given inside another module's dict option
    (`what`), with its suboptions' defaults filled in."""
    suboptions = OPTIONS[option]["options"]
    result = []
    for entry in entries or []:
        unknown = sorted(set(entry) - set(suboptions))
        if unknown:
            raise PgdockError(f"{what}.{option}: unknown keys {unknown} (known: {sorted(suboptions)})")
        result.append({key: entry.get(key, sub.get("default")) for key, sub in suboptions.items()})
    return result

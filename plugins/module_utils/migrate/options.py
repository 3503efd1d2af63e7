# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `migrate` module's options (OPTIONS, without the Docker connection options), its whole
argument spec and constraints."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.container.options import OPTIONS as CONTAINER_OPTIONS
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

# the source: libpq options as community.postgresql names them, and how containers reach it
SOURCE_OPTIONS = dict(
    login_host=dict(type="str", aliases=["host"]),
    login_port=dict(type="int", default=5432, aliases=["port"]),
    login_user=dict(type="str", default="postgres", aliases=["login"]),
    login_password=dict(type="str", no_log=True),
    passfile=dict(type="path"),
    login_db=dict(type="str", default="postgres", aliases=["db"]),
    login_unix_socket=dict(type="path", aliases=["unix_socket"]),
    ssl_mode=dict(type="str", default="prefer", choices=SSL_MODES),
    ca_cert=dict(type="path", aliases=["ssl_rootcert"]),
    connect_timeout=dict(type="int", default=10),
    network=dict(type="str"),
    container_host=dict(type="str"),
    container_port=dict(type="int"),
    container=dict(type="str"),
)

# the target: the container module's options (its name is the module's `name`; it is started; its
# superuser password is the module's own no_log option)
TARGET_EXCLUDED = ("name", "state", "remove_volume", "restore_from", "superuser_password")
TARGET_OPTIONS = {key: entry for key, entry in CONTAINER_OPTIONS.items() if key not in TARGET_EXCLUDED}

OPTIONS = dict(
    name=dict(type="str", required=True),
    method=dict(type="str", choices=["physical", "logical", "dump"], required=True),
    state=dict(type="str", choices=["synced", "cutover", "aborted", "reverted", "finalized"], default="synced"),
    source=dict(type="dict", required=True, options=SOURCE_OPTIONS),
    target=dict(type="dict", default={}),
    superuser_password=dict(type="str", no_log=True),
    databases=dict(type="list", elements="str"),
    jobs=dict(type="int", default=2),
    pooler=dict(type="str"),
    replication_user=dict(type="str", default="pgdock_migrate"),
    replication_password=dict(type="str", no_log=True),
    slot=dict(type="bool", default=True),
    replica_identity_full=dict(type="bool", default=False),
    skip_tables=dict(type="list", elements="str", default=[]),
    reverse_replication=dict(type="bool", default=False),
    reverse_host=dict(type="str"),
    reverse_port=dict(type="int", default=5432),
    verify=dict(type="str", choices=["counts", "checksum", "none"], default="counts"),
    exact_count_max_bytes=dict(type="int", default=1024 ** 3),
    max_lag_bytes=dict(type="int", default=16 * 1024 * 1024),
    pause_timeout=dict(type="int", default=30),
    catchup_timeout=dict(type="int", default=60),
    copy_timeout=dict(type="int", default=86400),
    wait_timeout=dict(type="int", default=300),
    progress_file=dict(type="path"),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(supports_check_mode=True)

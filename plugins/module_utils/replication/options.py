# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `replica` module's options (OPTIONS, without the Docker connection options), its whole
argument spec and constraints, also for the switchover's rejoin of a former primary."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS, networks_option
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    name=dict(type="str", required=True),
    primary=dict(type="str", required=True),
    upstream=dict(type="dict", options=dict(
        host=dict(type="str", required=True),
        port=dict(type="int", default=5432),
        ca_file=dict(type="path"),
        sslmode=dict(type="str", choices=["require", "verify-ca", "verify-full"], default="verify-full"),
        login_user=dict(type="str", default="postgres"),
        login_password=dict(type="str", no_log=True, required=True),
        login_db=dict(type="str", default="postgres"),
    )),
    state=dict(type="str", choices=["present", "absent", "rejoined"], default="present"),
    image=dict(type="str"),
    cascade_from=dict(type="str"),
    synchronous=dict(type="bool", default=False),
    slot=dict(type="bool", default=True),
    slot_name=dict(type="str"),
    replication_user=dict(type="str", default="replicator"),
    replication_password=dict(type="str", no_log=True),
    max_lag_bytes=dict(type="int", default=16 * 1024 * 1024),
    rebuild=dict(type="bool", default=False),
    remove_volume=dict(type="bool", default=False),
    data_volume=dict(type="str"),
    networks=networks_option(),
    allow_restart=dict(type="bool", default=True),
    published_port=dict(type="int"),
    published_host_ip=dict(type="str"),
    settings=dict(type="dict", default={}),
    secrets_dir=dict(type="path"),
    stop_timeout=dict(type="int", default=120),
    wait_timeout=dict(type="int", default=300),
    base_backup_timeout=dict(type="int", default=86400),
    progress_file=dict(type="path"),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(supports_check_mode=True)

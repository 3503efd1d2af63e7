# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `restore` module's options (OPTIONS, without the connection options), its whole argument spec
and the constraints between options, for the module and for engines that need its defaults."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS, networks_option
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    repository=dict(type="path", required=True),
    backup=dict(type="str"),
    kind=dict(type="str", choices=["physical", "logical"], default="physical"),
    target=dict(type="str", choices=["latest", "immediate"]),
    target_time=dict(type="str"),
    target_lsn=dict(type="str"),
    name=dict(type="str"),
    data_volume=dict(type="str"),
    force=dict(type="bool", default=False),
    image=dict(type="str"),
    networks=networks_option(),
    published_port=dict(type="int"),
    published_host_ip=dict(type="str", default="127.0.0.1"),
    superuser_password=dict(type="str", no_log=True),
    secrets_dir=dict(type="path"),
    container_options=dict(type="dict", default={}),
    wait_timeout=dict(type="int", default=300),
    progress_file=dict(type="path"),
    container=dict(type="str"),
    databases=dict(type="list", elements="str"),
    into_database=dict(type="str"),
    restore_globals=dict(type="bool", default=False),
    list_databases=dict(type="bool", default=False),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
    mutually_exclusive=[("target_time", "target_lsn")],
)

# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `backup` module's options (OPTIONS, without the connection options), its whole argument spec
and the constraints between options, for the module and for engines that need its defaults."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    repository=dict(type="path", required=True),
    progress_file=dict(type="path"),
    list=dict(type="bool", default=False),
    verify=dict(type="bool", default=False),
    fail_on_problems=dict(type="bool", default=True),
    kind=dict(type="str", choices=["full", "incremental", "logical"]),
    container=dict(type="str"),
    databases=dict(type="list", elements="str"),
    force=dict(type="bool", default=False),
    archive=dict(type="bool"),
    archive_method=dict(type="str", choices=["command", "stream"], default="command"),
    archive_timeout=dict(type="int", default=60),
    allow_restart=dict(type="bool", default=False),
    prune=dict(type="bool", default=False),
    retention=dict(type="dict", default={}, options=dict(
        keep_all_days=dict(type="int", default=14),
        keep_bases_days=dict(type="int", default=42),
        max_days=dict(type="int"),
        min_fulls=dict(type="int", default=2),
        pitr_days=dict(type="int"),
    )),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
    required_if=[("list", False, ("kind", "archive", "prune", "verify"), True)],
)

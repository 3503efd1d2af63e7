# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `grant` module's options (OPTIONS, without the connection options), its whole argument spec
and the constraints between options, for the module and for engines that need its defaults."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import PG_CONNECTION_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    roles=dict(type="list", elements="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    preset=dict(type="str", choices=["readonly", "readwrite", "monitor"]),
    type=dict(type="str", choices=["database", "schema", "table", "sequence", "function",
                                   "default_privileges", "role"]),
    objs=dict(type="list", elements="str"),
    privileges=dict(type="list", elements="str", aliases=["privs"]),
    schema=dict(type="str"),
    target_role=dict(type="str"),
    with_grant_option=dict(type="bool"),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(PG_CONNECTION_ARGS, DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
    mutually_exclusive=[("preset", "type"), ("preset", "objs"), ("preset", "privileges")],
    required_one_of=[("preset", "type")],
)

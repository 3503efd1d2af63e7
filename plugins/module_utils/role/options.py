# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `role` module's options (OPTIONS, without the connection options), its whole argument spec
and the constraints between options, for the module and for engines that need its defaults."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import PG_CONNECTION_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    name=dict(type="str", required=True, aliases=["role"]),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    password=dict(type="str", no_log=True),
    update_password=dict(type="str", choices=["always", "on_create"], default="always", no_log=False),
    login=dict(type="bool"),
    superuser=dict(type="bool"),
    createdb=dict(type="bool"),
    createrole=dict(type="bool"),
    replication=dict(type="bool"),
    bypassrls=dict(type="bool"),
    inherit=dict(type="bool"),
    connection_limit=dict(type="int"),
    valid_until=dict(type="str"),
    member_of=dict(type="list", elements="str"),
    member_of_mode=dict(type="str", choices=["exact", "append"], default="exact"),
    reassign_owned_to=dict(type="str"),
    drop_owned=dict(type="bool", default=False),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(PG_CONNECTION_ARGS, DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
)

# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `database` module's options (OPTIONS, without the connection options), its whole argument spec
and the constraints between options, for the module and for engines that need its defaults."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import PG_CONNECTION_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    owner=dict(type="str"),
    encoding=dict(type="str"),
    locale=dict(type="str"),
    lc_collate=dict(type="str"),
    lc_ctype=dict(type="str"),
    template=dict(type="str"),
    force=dict(type="bool", default=False),
    extensions=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent", "latest"], default="present"),
        version=dict(type="str"),
        schema=dict(type="str"),
        cascade=dict(type="bool", default=False),
    )),
    schemas=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        owner=dict(type="str"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        cascade=dict(type="bool", default=False),
    )),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(PG_CONNECTION_ARGS, DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
)

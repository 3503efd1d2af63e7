# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `hba` module's options (OPTIONS, without the connection options), its whole argument spec
and the constraints between options, for the module and for engines that need its defaults."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import POSTGRES_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import PG_CONNECTION_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

RULE_OPTIONS = dict(
    type=dict(type="str", choices=["local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"],
              default="host"),
    database=dict(type="list", elements="str", default=["all"]),
    user=dict(type="list", elements="str", default=["all"]),
    address=dict(type="str"),
    method=dict(type="str", required=True),
    options=dict(type="dict", default={}),
)

OPTIONS = dict(
    container=dict(type="str", required=True),
    rules=dict(type="list", elements="dict", options=RULE_OPTIONS),
    default_rules=dict(type="bool", default=False),
    require_ssl=dict(type="bool", default=True),
    replication_user=dict(type="str"),
    cert_logins=dict(type="list", elements="dict", default=[], options=dict(
        user=dict(type="str", required=True),
        database=dict(type="str", default="postgres"),
    )),
    extra_rules=dict(type="list", elements="dict", default=[], options=RULE_OPTIONS),
    extra_rules_position=dict(type="str", choices=["before_reject", "first"], default="before_reject"),
    postgres_uid=dict(type="int", default=POSTGRES_UID),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(PG_CONNECTION_ARGS, DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
    required_if=[("default_rules", False, ("rules",))],
)

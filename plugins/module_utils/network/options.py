# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `network` module's options (OPTIONS, without the connection options), its whole argument spec
and the constraints between options, for the module and for engines that need its defaults."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    driver=dict(type="str", choices=["bridge", "overlay"], default="bridge"),
    internal=dict(type="bool", default=False),
    attachable=dict(type="bool", default=False),
    subnet=dict(type="str"),
    gateway=dict(type="str"),
    ip_range=dict(type="str"),
    labels=dict(type="dict"),
    connected=dict(
        type="list",
        elements="dict",
        options=dict(
            container=dict(type="str", required=True),
            aliases=dict(type="list", elements="str", default=[]),
        ),
    ),
    appends=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
)

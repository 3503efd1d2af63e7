# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `diagnose` module's options (OPTIONS, without the Docker connection options), its whole
argument spec and the constraints between options."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    server=dict(type="str", required=True),
    client=dict(type="str"),
    network=dict(type="str"),
    host=dict(type="str"),
    port=dict(type="int", default=5432),
    database=dict(type="str", default="postgres"),
    user=dict(type="str", required=True),
    password=dict(type="str", no_log=True),
    ssl_mode=dict(type="str", default="prefer",
                  choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
    ssl_rootcert=dict(type="path"),
    image=dict(type="str"),
    connect_timeout=dict(type="int", default=5),
)
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(
    supports_check_mode=True,
    mutually_exclusive=[("client", "network")],
    required_one_of=[("client", "network")],
)

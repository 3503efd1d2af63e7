# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `monitor` module's options (OPTIONS, without the Docker connection options), its whole
argument spec and constraints."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import EXPORTER_PORT, EXPORTER_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    server=dict(type="str"),
    name=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    image=dict(type="str", default="quay.io/prometheuscommunity/postgres-exporter:latest"),
    pull=dict(type="str", choices=["missing", "always", "never"], default="missing"),
    role=dict(type="str", default="pgdock_monitor"),
    dbname=dict(type="str", default="postgres"),
    sslmode=dict(type="str", default="auto", choices=["auto", "disable", "require"]),
    networks=dict(type="list", elements="str"),
    published_port=dict(type="int", default=EXPORTER_PORT),
    published_host_ip=dict(type="str", default="127.0.0.1"),
    secrets_dir=dict(type="path"),
    uid=dict(type="int", default=EXPORTER_UID),
    remove_role=dict(type="bool", default=False),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(supports_check_mode=True, required_one_of=[("server", "name")],
                     required_if=[("state", "present", ("server",)), ("remove_role", True, ("server",))])

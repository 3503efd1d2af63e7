# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `query` and `script` modules' options (QUERY_OPTIONS, SCRIPT_OPTIONS, without the connection
options), their whole argument specs and the constraints between options."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import PG_CONNECTION_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

SHARED_OPTIONS = dict(
    positional_args=dict(type="list", elements="raw"),
    named_args=dict(type="dict"),
    search_path=dict(type="list", elements="str"),
    encoding=dict(type="str"),
)
QUERY_OPTIONS = dict(
    query=dict(type="str", required=True),
    autocommit=dict(type="bool", default=False),
    **SHARED_OPTIONS,
)
SCRIPT_OPTIONS = dict(
    path=dict(type="path"),
    content=dict(type="str"),
    **SHARED_OPTIONS,
)
# the module's own options win over the connection options of the same name
QUERY_ARGUMENT_SPEC = combine_specs(PG_CONNECTION_ARGS, DOCKER_COMMON_ARGS, QUERY_OPTIONS)
SCRIPT_ARGUMENT_SPEC = combine_specs(PG_CONNECTION_ARGS, DOCKER_COMMON_ARGS, SCRIPT_OPTIONS)
QUERY_MODULE_KWARGS = dict(
    supports_check_mode=True,
    mutually_exclusive=[("positional_args", "named_args")],
)
SCRIPT_MODULE_KWARGS = dict(
    supports_check_mode=True,
    mutually_exclusive=[("positional_args", "named_args"), ("path", "content")],
    required_one_of=[("path", "content")],
)

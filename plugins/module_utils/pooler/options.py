# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `pooler` module's options (OPTIONS, without the Docker connection options), its whole
argument spec and constraints."""

from __future__ import annotations
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import POSTGRES_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import DOCKER_COMMON_ARGS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import combine_specs

OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    primary=dict(type="str"),
    server_host=dict(type="str"),
    server_port=dict(type="int", default=5432),
    login_host=dict(type="str"),
    login_port=dict(type="int"),
    login_user=dict(type="str", default="postgres"),
    login_password=dict(type="str", no_log=True),
    login_db=dict(type="str", default="postgres"),
    login_unix_socket=dict(type="path"),
    image=dict(type="str", default="edoburu/pgbouncer:latest"),
    pull=dict(type="str", choices=["missing", "always", "never"], default="missing"),
    databases=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        dbname=dict(type="str"),
        pool_size=dict(type="int"),
        pool_mode=dict(type="str", choices=["session", "transaction", "statement"]),
    )),
    users=dict(type="list", elements="str", default=[]),
    auth=dict(type="str", choices=["userlist", "auth_query"], default="userlist"),
    auth_user=dict(type="str", default="pgdock_pooler_lookup"),
    auth_dbname=dict(type="str", default="postgres"),
    server_tls_cert_file=dict(type="path"),
    server_tls_key_file=dict(type="path", no_log=False),
    pool_mode=dict(type="str", choices=["session", "transaction", "statement"], default="transaction"),
    max_client_conn=dict(type="int", default=500),
    default_pool_size=dict(type="int", default=20),
    reserve_pool_size=dict(type="int", default=5),
    reserve_pool_timeout=dict(type="int", default=3),
    query_wait_timeout=dict(type="int", default=120),
    server_connect_timeout=dict(type="int", default=5),
    server_tls_sslmode=dict(type="str", default="prefer",
                            choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
    server_tls_ca_file=dict(type="path"),
    client_tls_sslmode=dict(type="str", default="disable",
                            choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
    client_tls_cert_file=dict(type="path"),
    client_tls_key_file=dict(type="path", no_log=False),
    client_tls_ca_file=dict(type="path"),
    admin_tls_cert_file=dict(type="path"),
    admin_tls_key_file=dict(type="path", no_log=False),
    settings=dict(type="dict", default={}),
    networks=dict(type="list", elements="str"),
    published_port=dict(type="int"),
    published_host_ip=dict(type="str", default="127.0.0.1"),
    secrets_dir=dict(type="path"),
    uid=dict(type="int", default=POSTGRES_UID),
    remove_config=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=60),
)
# the module's own options win over the connection options of the same name
ARGUMENT_SPEC = combine_specs(DOCKER_COMMON_ARGS, OPTIONS)
MODULE_KWARGS = dict(supports_check_mode=True, mutually_exclusive=[("primary", "server_host")])

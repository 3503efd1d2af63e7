# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQL access for the modules: where to connect (given directly, or resolved from a container made
by pgdock.postgres.container: its 127.0.0.1 port, superuser and password file) and a psycopg2
connection whose errors become messages without secrets."""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    CONTAINER_PORT,
    PASSWORD_FILE_NAME,
    SECRETS_MOUNT,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import (
    connect as docker_connect,
    get_or_none,
    is_managed,
    mount_source,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import env_to_dict
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import read_secret
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

try:
    import psycopg2
    import psycopg2.extensions
    import psycopg2.sql
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - reported through fail_json
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()

PG_CONNECTION_ARGS = dict(
    container=dict(type="str"),
    login_host=dict(type="str", default="127.0.0.1", aliases=["host"]),
    login_port=dict(type="int", aliases=["port"]),
    login_user=dict(type="str", aliases=["login"]),
    login_password=dict(type="str", no_log=True),
    login_db=dict(type="str", default="postgres", aliases=["db"]),
    login_unix_socket=dict(type="path", aliases=["unix_socket"]),
    ssl_mode=dict(type="str", default="prefer",
                  choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
    ssl_rootcert=dict(type="path", aliases=["ca_cert"]),
    ssl_cert=dict(type="path"),
    ssl_key=dict(type="path"),
    connect_timeout=dict(type="int", default=10),
    connect_params=dict(type="dict", default={}),
    session_role=dict(type="str"),
)
# libpq keywords that have an option of their own (or must never travel in a plain dict)
OWN_OPTION_KEYWORDS = dict(host="login_host or login_unix_socket", hostaddr="login_host", port="login_port",
                           user="login_user", dbname="login_db", password="login_password (it is no_log)",
                           sslmode="ssl_mode", sslrootcert="ssl_rootcert", sslcert="ssl_cert", sslkey="ssl_key",
                           connect_timeout="connect_timeout")


@dataclass
class ServerTarget:
    """Where and as whom to connect; `container` is the docker Container when resolved from one.
    `host` may be a unix socket directory; `session_role` is the role the session switches to."""

    host: str
    port: int
    user: str
    password: str | None = field(default=None, repr=False)
    dbname: str = "postgres"
    ssl_mode: str = "prefer"
    ssl_rootcert: str | None = None
    ssl_cert: str | None = None
    ssl_key: str | None = None
    connect_timeout: int = 10
    container: object = None
    connect_params: dict = field(default_factory=dict)
    session_role: str | None = None

    def dsn_params(self, dbname: str | None = None) -> dict:
        """Keyword arguments for psycopg2.connect (libpq names)."""
        params = dict(host=self.host, port=self.port, user=self.user, dbname=dbname or self.dbname,
                      sslmode=self.ssl_mode, connect_timeout=self.connect_timeout,
                      application_name="pgdock.postgres")
        params.update(self.connect_params)
        if self.password is not None:
            params["password"] = self.password
        for key, value in (("sslrootcert", self.ssl_rootcert), ("sslcert", self.ssl_cert),
                           ("sslkey", self.ssl_key)):
            if value:
                params[key] = value
        return params


def checked_connect_params(connect_params: dict | None) -> dict:
    """connect_params as libpq keywords (values as text); a keyword with an option of its own is an
    error naming that option, so that a password never travels in a dict that is not no_log."""
    params = {}
    for key, value in (connect_params or {}).items():
        if key in OWN_OPTION_KEYWORDS:
            raise PgdockError(f"connect_params: {key!r} has an option of its own: give it as {OWN_OPTION_KEYWORDS[key]}")
        if not isinstance(key, str) or not key.replace("_", "").isalnum():
            raise PgdockError(f"connect_params: {key!r} is not a libpq connection keyword")
        params[key] = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    return params


def resolve_target(params: dict) -> ServerTarget:
    """The server to talk to: login_* options, completed from `container` when given. A unix socket
    directory (login_unix_socket) takes the place of the host."""
    host, port = params.get("login_host") or "127.0.0.1", params.get("login_port")
    user, password, container = params.get("login_user"), params.get("login_password"), None
    connect_params = checked_connect_params(params.get("connect_params"))
    if params.get("container"):
        container = find_container(params)
        if not params.get("login_unix_socket"):
            binding = container_binding(container)
            port = port or binding[1]
            if not params.get("login_host") or params["login_host"] == "127.0.0.1":
                host = binding[0]
        env = env_to_dict((container.attrs.get("Config") or {}).get("Env"))
        user = user or env.get("POSTGRES_USER") or "postgres"
        if password is None and user == (env.get("POSTGRES_USER") or "postgres"):
            password = container_superuser_password(container)
    if params.get("login_unix_socket"):
        host = params["login_unix_socket"]
    return ServerTarget(
        host=host, port=port or 5432, user=user or "postgres", password=password,
        dbname=params.get("login_db") or "postgres", ssl_mode=params.get("ssl_mode") or "prefer",
        ssl_rootcert=params.get("ssl_rootcert"), ssl_cert=params.get("ssl_cert"),
        ssl_key=params.get("ssl_key"), connect_timeout=params.get("connect_timeout") or 10,
        container=container, connect_params=connect_params, session_role=params.get("session_role") or None,
    )


def find_container(params: dict):
    """The running container named by params['container'], made by pgdock.postgres."""
    client = docker_connect(params)
    container = get_or_none(client.containers, params["container"], "container")
    if container is None:
        raise PgdockError(f"container: no container named {params['container']!r} on the Docker host")
    if not is_managed(container.labels):
        raise PgdockError(f"container: {params['container']!r} was not created by pgdock.postgres; "
                          "give login_host/login_port/login_user/login_password instead")
    if container.status != "running":
        raise PgdockError(f"container: {params['container']!r} is not running (status {container.status})")
    return container


def container_binding(container, port: str = CONTAINER_PORT) -> tuple[str, int]:
    """(host address, port) that publishes the container's `port` (5432/tcp) on the Docker host."""
    bindings = ((container.attrs.get("HostConfig") or {}).get("PortBindings") or {}).get(port)
    if not bindings or not bindings[0].get("HostPort"):
        raise PgdockError(f"container: {container.name!r} publishes no port for {port.split('/')[0]}; publish one "
                          "(published_port) or give login_host/login_port")
    return reachable_address(bindings[0].get("HostIp")), int(bindings[0]["HostPort"])


def reachable_address(host_ip: str | None) -> str:
    """Where this host reaches a port published on `host_ip` (a wildcard binding answers on 127.0.0.1)."""
    return "127.0.0.1" if not host_ip or host_ip in ("0.0.0.0", "::") else host_ip


def container_login(params: dict, container: str, dbname: str = "postgres") -> dict:
    """The module's params with the login options cleared (session_role too), so that resolve_target
    takes host, port, superuser and password from the pgdock container `container`."""
    return dict(params, container=container, login_host=None, login_port=None, login_user=None,
                login_password=None, login_db=dbname, login_unix_socket=None, session_role=None)


def container_secrets_dir(container) -> str | None:
    """Host directory mounted at the container's secrets mount point."""
    return mount_source(container.attrs, SECRETS_MOUNT)


def container_superuser_password(container) -> str | None:
    """The superuser password from the container's password file on this host."""
    directory = container_secrets_dir(container)
    return read_secret(os.path.join(directory, PASSWORD_FILE_NAME)) if directory else None


def connect(target: ServerTarget, dbname: str | None = None, autocommit: bool = True):
    """A psycopg2 connection (switched to the target's session_role); failures become a PgdockError
    that names the server, not the password."""
    if not HAS_PSYCOPG2:
        raise PgdockError("the Python 'psycopg2' library is required on the Docker host: pip install psycopg2-binary")
    where = f"PostgreSQL at {target.host}:{target.port} as {target.user!r} (database {dbname or target.dbname!r})"
    try:
        conn = psycopg2.connect(**target.dsn_params(dbname))
    except psycopg2.Error as exc:
        reason = str(exc).strip().splitlines()
        raise PgdockError(f"cannot connect to {where}: {reason[-1] if reason else exc}") from None
    if target.session_role:
        switch_role(conn, target.session_role, where)
    conn.autocommit = autocommit
    return conn


def switch_role(conn, role: str, where: str) -> None:
    """SET ROLE on a fresh connection, committed so that it outlives the first transaction."""
    try:
        with conn.cursor() as cur:
            cur.execute(psycopg2.sql.SQL("SET ROLE {}").format(psycopg2.sql.Identifier(role)))
        conn.commit()
    except psycopg2.Error as exc:
        conn.close()
        message = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc).strip()
        raise PgdockError(f"session_role: cannot switch to role {role!r} on {where}: {message}") from None


def server_version_num(conn) -> int:
    """server_version_num of a connection, e.g. 180001."""
    return conn.server_version

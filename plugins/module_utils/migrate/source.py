# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server a migration copies from: a PostgreSQL this collection did not make, reached from the
Docker host by libpq options, and from containers (helpers, the target) by a route of its own: a
Docker network to join, or its unix socket directory mounted."""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import pgpass_line, read_secret
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.conninfo import conninfo
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import ServerTarget
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass

SOCKET_MOUNT = "/run/pgdock-source"       # the source's socket directory in containers
SOURCE_PGPASS = "source.pgpass"          # the source login's passfile, in the target's secrets dir
REPLICATION_PGPASS = "source-replication.pgpass"  # the replication login's passfile (physical)


@dataclass
class Route:
    """How a container reaches the source: libpq host and port, the network to join (or None) and
    the mounts it needs (the socket directory)."""

    host: str
    port: int
    network: str | None = None
    mounts: list = field(default_factory=list)

    def mount_specs(self) -> list[dict]:
        """The mounts as the container module's `mounts` option."""
        return [dict(source=m["Source"], target=m["Target"], type="bind", read_only=False) for m in self.mounts]


class Source:
    """The source server: options, sessions from the Docker host, its route from containers."""

    def __init__(self, options: dict, check_mode: bool = False):
        self.o = options
        self.check_mode = check_mode
        if not options.get("login_host") and not options.get("login_unix_socket"):
            raise PgdockError("source: give login_host (or login_unix_socket, the directory of its unix socket)")
        self.password = options.get("login_password")
        if self.password is None and options.get("passfile"):
            self.password = passfile_password(options["passfile"], options)
        self.user = options.get("login_user") or "postgres"

    # -- from the Docker host ------------------------------------------------------------------------
    def target(self, dbname: str | None = None) -> ServerTarget:
        host = self.o.get("login_unix_socket") or self.o["login_host"]
        return ServerTarget(host=host, port=self.o.get("login_port") or 5432, user=self.user,
                            password=self.password, dbname=dbname or self.o.get("login_db") or "postgres",
                            ssl_mode=self.o.get("ssl_mode") or "prefer", ssl_rootcert=self.o.get("ca_cert"),
                            connect_timeout=self.o.get("connect_timeout") or 10)

    def session(self, dbname: str | None = None, check_mode: bool | None = None) -> Session:
        """A session on the source (check mode: its changes recorded, not made)."""
        try:
            return Session(self.target(dbname), check_mode=self.check_mode if check_mode is None else check_mode,
                           secrets=[self.password] if self.password else ())
        except PgdockError as exc:
            raise PgdockError(f"source: {exc}. Check source.login_host/login_port (or login_unix_socket), "
                              "login_user and login_password, and that the source's pg_hba.conf lets this "
                              "Docker host in") from None

    def login_params(self) -> dict:
        """The login as engines that take module-style login options (the role engine) want it."""
        o = self.o
        return dict(container=None, login_host=o.get("login_host"), login_port=o.get("login_port") or 5432,
                    login_user=self.user, login_password=self.password, login_db=o.get("login_db") or "postgres",
                    login_unix_socket=o.get("login_unix_socket"), ssl_mode=o.get("ssl_mode") or "prefer",
                    ssl_rootcert=o.get("ca_cert"), ssl_cert=None, ssl_key=None,
                    connect_timeout=o.get("connect_timeout") or 10, connect_params={}, session_role=None)

    def describe(self) -> str:
        where = self.o.get("login_unix_socket") or self.o["login_host"]
        return f"{where}:{self.o.get('login_port') or 5432}"

    # -- from containers -----------------------------------------------------------------------------
    def route(self) -> Route:
        """How helpers and the target reach the source: container_host (or login_host) over
        source.network or the target's networks; the socket directory mounted when only
        login_unix_socket is given."""
        port = self.o.get("container_port") or self.o.get("login_port") or 5432
        host = self.o.get("container_host") or self.o.get("login_host")
        if host and host not in ("127.0.0.1", "localhost", "::1"):
            return Route(host, port, self.o.get("network"))
        socket_dir = self.o.get("login_unix_socket")
        if not socket_dir:
            raise PgdockError(
                f"source: login_host {host!r} is this Docker host itself, which containers cannot reach "
                "there; give source.container_host (the source's address as containers see it) or "
                "source.login_unix_socket (its socket directory, mounted into the containers)")
        return Route(SOCKET_MOUNT, port, self.o.get("network"),
                     [{"Source": socket_dir, "Target": SOCKET_MOUNT}])

    def docker_mounts(self, route: Route) -> list:
        """The route's mounts as docker Mounts for a helper container."""
        return [Mount(m["Target"], m["Source"], type="bind") for m in route.mounts]

    def conninfo(self, route: Route, user: str | None = None, dbname: str | None = None,
                 passfile: str = f"{SECRETS_MOUNT}/{SOURCE_PGPASS}", **extra) -> str:
        """A conninfo for a container on `route`, its password in `passfile` (never inline)."""
        params = dict(host=route.host, port=route.port, user=user or self.user,
                      dbname=dbname or self.o.get("login_db") or "postgres", passfile=passfile,
                      sslmode=self.o.get("ssl_mode") or "prefer")
        params.update(extra)
        return conninfo(**params)

    def pgpass(self, user: str | None = None, password: str | None = None) -> str:
        """The passfile content for a login on the source (any host: the route decides where)."""
        password = self.password if password is None else password
        if password is None:
            raise PgdockError("source: no password for the source login: give source.login_password or "
                              "source.passfile (containers cannot use the Docker host's peer or trust rules)")
        return pgpass_line(user or self.user, password)


def passfile_password(path: str, options: dict) -> str | None:
    """The password a libpq passfile holds for the source login (host, port, database, user matched as
    libpq does, '*' matching anything); None when no line matches."""
    text = read_secret(path)
    if text is None:
        raise PgdockError(f"source.passfile: {path} cannot be read")
    host = options.get("login_unix_socket") and "localhost" or options.get("login_host") or "localhost"
    wanted = (host, str(options.get("login_port") or 5432), options.get("login_db") or "postgres",
              options.get("login_user") or "postgres")
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = split_pgpass_line(line)
        if len(fields) == 5 and all(f == "*" or f == w for f, w in zip(fields[:4], wanted)):
            return fields[4]
    return None


def split_pgpass_line(line: str) -> list[str]:
    """The fields of a passfile line, with libpq's backslash escapes of ':' and '\\' undone."""
    fields, current, escaped = [], [], False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ":" and len(fields) < 4:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields

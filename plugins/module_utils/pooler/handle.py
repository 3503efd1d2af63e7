# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A running pooler made by the pooler module, as other engines (the switchover) drive it: its
files on the Docker host, the server it points at, and its admin console (pause, repoint, resume)."""

from __future__ import annotations

import os

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    POOLER_ADMIN_PASSWORD_FILE,
    POOLER_CONFIG_MOUNT,
    POOLER_CONTAINER_PORT,
    ROLE_LABEL,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import get_or_none, is_managed, mount_source
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.secrets import read_secret, write_secret
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import container_binding
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.admin import PoolerAdmin
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.config import (
    INI_NAME,
    admin_ssl,
    parse_ini,
    pointed_host,
    repointed_ini,
)


class PoolerHandle:
    """A running pooler made by this module: its files on the host and its admin console."""

    def __init__(self, container):
        self.container = container
        self.config_dir = mount_source(container.attrs, POOLER_CONFIG_MOUNT, "bind")
        if self.config_dir is None or container.labels.get(ROLE_LABEL) != "pooler":
            raise PgdockError(f"pooler: container {container.name!r} is not a pooler made by pgdock.postgres.pooler")
        self.ini_path = os.path.join(self.config_dir, INI_NAME)
        password = read_secret(os.path.join(os.path.dirname(self.config_dir), POOLER_ADMIN_PASSWORD_FILE))
        try:
            address = container_binding(container, POOLER_CONTAINER_PORT)
        except PgdockError:
            address = None
        if not password or address is None:
            raise PgdockError(f"pooler: {container.name!r} lacks its admin password file or published port")
        self.admin = PoolerAdmin(*address, password, ssl=admin_ssl(read_secret(self.ini_path),
                                                                   os.path.dirname(self.config_dir)))

    @classmethod
    def find(cls, client, name: str) -> "PoolerHandle":
        """The handle of the running pooler `name`; a clear error otherwise."""
        container = get_or_none(client.containers, name, "container")
        if container is None or not is_managed(container.labels):
            raise PgdockError(f"pooler: no pooler container named {name!r} made by pgdock.postgres")
        if container.status != "running":
            raise PgdockError(f"pooler: {name!r} is not running (status {container.status})")
        return cls(container)

    def pointed_host(self) -> str | None:
        """The server host its databases point at."""
        return pointed_host(read_secret(self.ini_path))

    def auth_query_login(self) -> tuple[str, str] | None:
        """(auth_dbname, auth_user) when the pooler looks passwords up with auth_query."""
        settings = parse_ini(read_secret(self.ini_path))["pgbouncer"]
        return (settings.get("auth_dbname") or "postgres", settings["auth_user"]) if settings.get("auth_user") else None

    def repoint(self, new_host: str, new_port: int = 5432) -> None:
        """Point every database at `new_host`:`new_port` (a pgdock server listens on 5432 on its
        networks) and RELOAD (server connections follow once released)."""
        text = read_secret(self.ini_path) or ""
        st = os.stat(self.ini_path)
        write_secret(self.ini_path, repointed_ini(text, new_host, new_port), st.st_uid, st.st_gid)
        self.admin.command("RELOAD")

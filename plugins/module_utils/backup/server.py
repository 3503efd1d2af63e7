# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A running pgdock server as the backup and restore engines see it: its container, image and data
layout, network and secrets directory, SQL through psql in its container (these engines need no
published port), the helper containers that run its own tools beside it (the repository and its
password file mounted, a 0600 .pgpass built inside), and the pg_hba.conf rule those helpers need."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import (
    PASSWORD_FILE_NAME,
    REPO_MOUNT,
    SECRETS_MOUNT,
    SERVER_PORT,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import run_script
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import env_to_dict, layout_of_image
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.server_file import ensure_replication_rules
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import container_secrets_dir, find_container
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.psql import ContainerSession

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass

# Builds a 0600 .pgpass inside the helper from the server's password file (mounted read-only), so
# the password is never in an environment variable or on a command line.
PGPASS_SCRIPT = (
    'umask 077; printf "*:*:*:%s:%s\\n" "$PGUSER" '
    '"$(head -n1 ' + SECRETS_MOUNT + '/' + PASSWORD_FILE_NAME + r' | sed -e "s/[\\:]/\\\\&/g")"'
    ' > /tmp/.pgpass; export PGPASSFILE=/tmp/.pgpass; '
)


class Server:
    """A running pgdock server seen by the backup and restore engines; `sql` is its psql session."""

    def __init__(self, client, params: dict):
        self.client = client
        self.container = find_container(params)
        self.name = self.container.name
        attrs = self.container.attrs
        self.env = env_to_dict((attrs.get("Config") or {}).get("Env"))
        self.superuser = self.env.get("POSTGRES_USER") or "postgres"
        self.image_name = (attrs.get("Config") or {}).get("Image")
        self.image_id = attrs.get("Image")
        image = client.images.get(self.image_id)
        self.layout = layout_of_image(self.image_name, image.attrs, self.env.get("PGDATA"))
        networks = list(((attrs.get("NetworkSettings") or {}).get("Networks") or {}))
        if not networks:
            raise PgdockError(f"container {self.name!r} is attached to no network")
        self.network = networks[0]
        self.secrets_dir = container_secrets_dir(self.container)
        if not self.secrets_dir:
            raise PgdockError(f"container {self.name!r} has no password file mount ({SECRETS_MOUNT})")
        self.sql = ContainerSession(self.container)

    def helper_mounts(self, repo_root: str, repo_read_only: bool = False) -> list:
        """The repository and the server's secrets directory (read-only), for a helper."""
        return [Mount(REPO_MOUNT, repo_root, type="bind", read_only=repo_read_only),
                Mount(SECRETS_MOUNT, self.secrets_dir, type="bind", read_only=True)]

    def helper_env(self) -> dict:
        """libpq's environment for a helper that connects to this server as its superuser."""
        return {"PGHOST": self.name, "PGPORT": str(SERVER_PORT), "PGUSER": self.superuser,
                "PGAPPNAME": "pgdock.postgres", "PGCONNECT_TIMEOUT": "10"}

    def run_helper(self, script: str, repo_root: str, what: str, args: list | None = None,
                   repo_read_only: bool = False, on_output=None) -> str:
        """`script` in a helper of the server's image on its network, logged in as its superuser
        (PGPASS_SCRIPT runs first); its output (see docker.access.run_script)."""
        return run_script(self.client, self.image_id, PGPASS_SCRIPT + script,
                          self.helper_mounts(repo_root, repo_read_only), what, network=self.network,
                          environment=self.helper_env(), args=args, on_output=on_output)

    def allow_replication(self, log) -> None:
        """A pg_hba.conf rule, first, that lets the helpers (same network) open a replication
        connection as the superuser, when none allows it yet; checked before it is loaded. `log`: the
        run's runner.ActionLog."""
        log.extend(ensure_replication_rules(self.sql, self.superuser, log.check_mode),
                   f"allow replication connections of {self.superuser} from the server's networks: ")

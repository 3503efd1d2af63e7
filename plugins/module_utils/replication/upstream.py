# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A primary on another Docker host (the replica module's `upstream`): reached at an address and
published port over TLS, by this module with a superuser login (the replication role, the slot,
the streaming check) and by the standby with the replication role (verify-full against the
stack's CA, copied into the replica's secrets directory). Pure: checks and connection values."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import SECRETS_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

UPSTREAM_CA_NAME = "upstream-ca.crt"  # the CA that verifies the upstream, in the replica's secrets dir
VERIFYING_MODES = ("verify-ca", "verify-full")


def check_upstream_options(p: dict) -> None:
    """What a replica of a primary on another host needs, and what it cannot do (yet)."""
    upstream = p["upstream"]
    if not 1 <= upstream["port"] <= 65535:
        raise PgdockError(f"upstream.port: {upstream['port']} is not a TCP port")
    if upstream["sslmode"] in VERIFYING_MODES and not upstream.get("ca_file"):
        raise PgdockError(f"upstream.ca_file is required with upstream.sslmode={upstream['sslmode']}: the CA "
                          "certificate (on this Docker host) that issued the primary's certificate")
    needed = [name for name in ("image", "replication_password", "networks") if not p.get(name)]
    if needed:
        raise PgdockError(f"{', '.join(needed)}: required with upstream (the primary runs on another Docker host: "
                          "its image, the replication role's password that every replica of it shares, and the "
                          "replica's networks on this host)")
    refused = [name for name, value in (("cascade_from", p.get("cascade_from")),
                                        ("synchronous", p.get("synchronous")),
                                        ("state=rejoined", p.get("state") == "rejoined")) if value]
    if refused:
        raise PgdockError(f"{', '.join(refused)}: not available with upstream (a primary on another Docker host)")


def upstream_login(upstream: dict) -> dict:
    """Login parameters of a SQL session on the upstream as its superuser, verified as the standby
    verifies it."""
    return dict(container=None, login_host=upstream["host"], login_port=upstream["port"],
                login_user=upstream["login_user"], login_password=upstream["login_password"],
                login_db=upstream["login_db"], ssl_mode=upstream["sslmode"],
                ssl_rootcert=upstream.get("ca_file"))


def standby_tls(upstream: dict) -> tuple[str, str | None]:
    """(sslmode, sslrootcert in the container) of the standby's and pg_basebackup's connection."""
    rootcert = f"{SECRETS_MOUNT}/{UPSTREAM_CA_NAME}" if upstream.get("ca_file") else None
    return upstream["sslmode"], rootcert


def basebackup_tls_env(upstream: dict) -> dict:
    """libpq's variables for pg_basebackup's connection to the upstream."""
    sslmode, rootcert = standby_tls(upstream)
    return {"PGSSLMODE": sslmode, **({"PGSSLROOTCERT": rootcert} if rootcert else {})}

# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replication role a primary needs before a standby can stream from it, made through the role
engine (its password sent as a SCRAM verifier computed here). The pg_hba.conf rule for it comes
from hba.server_file.ensure_replication_rules."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.role.engine import ensure_login_role


def ensure_replication_role(login_params: dict, user: str, password: str, check_mode: bool, warn) -> list[str]:
    """A LOGIN REPLICATION role with this password (sent as a SCRAM verifier); the statements run."""
    statements = ensure_login_role(login_params, dict(name=user, password=password, login=True, replication=True),
                                   check_mode, warn)
    return [f"replication role: {statement}" for statement in statements]

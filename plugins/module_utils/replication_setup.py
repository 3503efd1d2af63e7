# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a primary (or an upstream standby) needs before a standby can stream from it: the
replication role (through the role engine: SCRAM verifier computed here) and a pg_hba.conf rule for
replication from its networks (through the hba engine's checked file replacement)."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.hba_engine import ensure_first_rules, first_match
from ansible_collections.pgdock.postgres.plugins.module_utils.hba_rules import HbaRule, name_token, normalise_address
from ansible_collections.pgdock.postgres.plugins.module_utils.pg_catalog import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.role_engine import RoleRun, validate_options

ROLE_DEFAULTS = dict(state="present", update_password="always", superuser=None, createdb=None,
                     createrole=None, bypassrls=None, inherit=None, connection_limit=None,
                     valid_until=None, member_of=None, member_of_mode="exact",
                     reassign_owned_to=None, drop_owned=False)


def ensure_replication_role(login_params: dict, user: str, password: str, check_mode: bool, warn) -> list[str]:
    """A LOGIN REPLICATION role with this password (sent as a SCRAM verifier); the statements run."""
    params = dict(login_params, **ROLE_DEFAULTS, name=user, password=password, login=True, replication=True)
    validate_options(params)
    with Session(params, check_mode, secrets=[password]) as session:
        RoleRun(session, params, warn).present()
    return [f"replication role: {statement}" for statement in session.queries]


def allows_replication(rules: list[HbaRule], user: str, subnet: str) -> bool:
    """Whether a rule before any reject lets `user` connect for replication from `subnet`."""
    rule = first_match(rules, "replication", user, subnet)
    return rule is not None and rule.method != "reject"


def ensure_replication_hba(target, conn, user: str, check_mode: bool) -> list[str]:
    """Rules for replication by `user` from each network of the upstream container, added first
    when missing (hostssl when the server has TLS on); the hba engine checks the file before loading."""
    return ensure_first_rules(
        target, conn,
        lambda kind, subnet: HbaRule(kind, ("replication",), (name_token(user),), normalise_address(subnet),
                                     "scram-sha-256"),
        lambda rules, subnet: allows_replication(rules, user, subnet), check_mode)

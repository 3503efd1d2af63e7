# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a primary (or an upstream standby) needs before a standby can stream from it: the
replication role (through the role engine: SCRAM verifier computed here) and a pg_hba.conf rule for
replication from its networks (through the hba engine's checked file replacement)."""

from __future__ import annotations

import ipaddress

from ansible_collections.pgdock.postgres.plugins.module_utils.config_engine import query
from ansible_collections.pgdock.postgres.plugins.module_utils.container_access import read_file
from ansible_collections.pgdock.postgres.plugins.module_utils.hba_engine import container_subnets, replace_file
from ansible_collections.pgdock.postgres.plugins.module_utils.hba_rules import (
    HbaRule,
    name_token,
    normalise_address,
    parse_hba,
    render_hba,
)
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
    network = ipaddress.ip_network(subnet, strict=False)
    for rule in rules:
        if rule.type not in ("host", "hostssl") or "replication" not in rule.database:
            continue
        if rule.user != ("all",) and name_token(user) not in rule.user:
            continue
        if rule.address != "all":
            try:
                if not network.subnet_of(ipaddress.ip_network(rule.address, strict=False)):
                    continue
            except (ValueError, TypeError):
                continue
        return rule.method != "reject"
    return False


def ensure_replication_hba(target, conn, user: str, check_mode: bool) -> list[str]:
    """Rules for replication by `user` from each network of the upstream container, added first
    when missing (hostssl when the server has TLS on); the hba engine checks the file before loading."""
    container = target.container
    path, ssl = query(conn, "SELECT current_setting('hba_file'), current_setting('ssl')")[0]
    text = read_file(container, path) or ""
    rules, _others = parse_hba(text)
    kind = "hostssl" if ssl == "on" else "host"
    missing = [s for s in container_subnets(container) if not allows_replication(rules, user, s)]
    if not missing:
        return []
    added = [HbaRule(kind, ("replication",), (name_token(user),), normalise_address(s), "scram-sha-256")
             for s in missing]
    if not check_mode:
        replace_file(conn, target, path, text, render_hba(added + rules), 999)
    return [f"pg_hba.conf of {container.name}: add '{rule.render()}'" for rule in added]

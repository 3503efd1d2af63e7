# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pg_hba.conf of a running server container: where it is, the subnets its rules are about,
its checked replacement (the server checks the new file before it is loaded; the old file is put
back when the server rejects it or refuses a new login afterwards), and rules put first for the
features that need a login of their own (replication, the pooler's lookup role, backups).

Every function takes a session of pg.sql (TCP) or pg.psql (psql in the container) on that server."""

from __future__ import annotations


from ansible_collections.pgdock.postgres.plugins.module_utils.contract import POSTGRES_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import read_member, write_file
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import docker_action
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.rules import (
    HbaRule,
    allows_replication,
    name_token,
    normalise_address,
    parse_hba,
    render_hba,
)

ERRORS_QUERY = "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number"


def container_subnets(container) -> list[str]:
    """The subnets (IPv4 and IPv6) of every Docker network the container is attached to."""
    subnets = []
    for name, endpoint in sorted(((container.attrs.get("NetworkSettings") or {}).get("Networks") or {}).items()):
        with docker_action(f"inspecting network {name!r}"):
            network = container.client.networks.get(endpoint.get("NetworkID") or name)
        for pool in (network.attrs.get("IPAM") or {}).get("Config") or []:
            if pool.get("Subnet") and pool["Subnet"] not in subnets:
                subnets.append(pool["Subnet"])
    return subnets


def hba_file_and_ssl(session) -> tuple[str, bool]:
    """(the server's hba_file, whether it has TLS on)."""
    path, ssl = session.row("SELECT current_setting('hba_file'), current_setting('ssl')")
    return path, ssl == "on"


def replace_file(session, path: str, old_text: str, new_text: str, uid: int) -> None:
    """Write the new file; the server checks it (pg_hba_file_rules) before it is loaded. On an error,
    or when a new connection of this module is refused after the reload, the old file is put back."""
    container = session.container
    write_file(container, path, new_text, uid, uid, 0o600)
    errors = [(int(number), error) for number, error in session.rows(ERRORS_QUERY)]
    if errors:
        write_file(container, path, old_text, uid, uid, 0o600)
        lines = new_text.splitlines()
        detail = "; ".join(f"line {number} ({' '.join(lines[number - 1].split()) if 0 < number <= len(lines) else '?'}): "
                           f"{error}" for number, error in errors)
        raise PgdockError(f"the server rejects the new pg_hba.conf, the previous file was restored "
                          f"and is still in force: {detail}", errors=[error for _number, error in errors])
    session.reload_and_wait()
    try:
        session.probe_login()
    except PgdockError as exc:
        write_file(container, path, old_text, uid, uid, 0o600)
        session.reload_and_wait()
        raise PgdockError(f"the new rules refuse this module's own connection, the previous pg_hba.conf "
                          f"was restored: {exc}") from None


def ensure_first_rules(session, make_rule, satisfied, check_mode: bool) -> list[str]:
    """Rules put first in the container's pg_hba.conf for each of its network subnets where
    `satisfied(rules, subnet)` is false; `make_rule(kind, subnet)` makes one (kind: hostssl when the
    server has TLS on, else host). The file keeps its owner; it is checked and reloaded as by the hba
    module. The actions, as text."""
    container = session.container
    path, ssl = hba_file_and_ssl(session)
    found = read_member(container, path)
    text, uid = (found[0].decode("utf-8"), found[1]) if found else ("", POSTGRES_UID)
    rules, _others = parse_hba(text)
    kind = "hostssl" if ssl else "host"
    added = [make_rule(kind, subnet) for subnet in container_subnets(container) if not satisfied(rules, subnet)]
    if added and not check_mode:
        replace_file(session, path, text, render_hba(added + rules), uid)
    return [f"pg_hba.conf of {container.name}: add '{rule.render()}'" for rule in added]


def ensure_replication_rules(session, user: str, check_mode: bool) -> list[str]:
    """Rules for replication by `user` from each network of the session's server container, put
    first when a rule before any reject does not already allow it (hostssl when the server has TLS
    on, scram-sha-256); checked before they are loaded. The actions, as text."""
    return ensure_first_rules(
        session,
        lambda kind, subnet: HbaRule(kind, ("replication",), (name_token(user),), normalise_address(subnet),
                                     "scram-sha-256"),
        lambda rules, subnet: allows_replication(rules, user, subnet), check_mode)

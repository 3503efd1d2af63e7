# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgdock.postgres.hba engine: the container's pg_hba.conf replaced by an ordered rule list,
checked by the server before it is loaded, and put back when the server rejects it or when the
new rules would lock this module out."""

from __future__ import annotations

import ipaddress
from contextlib import closing

from ansible_collections.pgdock.postgres.plugins.module_utils.config_engine import query, reload_and_wait
from ansible_collections.pgdock.postgres.plugins.module_utils.container_access import read_file, write_file
from ansible_collections.pgdock.postgres.plugins.module_utils.docker_client import docker_action
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba_rules import (
    HbaRule,
    default_rules,
    name_token,
    parse_hba,
    render_hba,
    rule_from_option,
    rules_text,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg_connection import connect, resolve_target
from ansible_collections.pgdock.postgres.plugins.module_utils.pg_layout import env_to_dict

ERRORS_QUERY = "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number"


def ensure_hba(module) -> dict:
    """Compare the rules in the container's pg_hba.conf with the wanted ones; write, check, reload."""
    p = module.params
    if p["default_rules"] and p["rules"] is not None:
        raise PgdockError("rules and default_rules: true exclude each other; add rules to the defaults with extra_rules")
    target = resolve_target(p)
    container = target.container
    with closing(connect(target)) as conn:
        path, ssl = query(conn, "SELECT current_setting('hba_file'), current_setting('ssl')")[0]
        wanted = wanted_rules(p, container)
        if p["default_rules"] and p["require_ssl"] and ssl != "on":
            raise PgdockError(
                "default_rules: the rules accept only TLS connections from the networks, but this server "
                "has ssl=off, so every client (this module too) would be refused; turn TLS on first "
                "(pgdock.postgres.tls), or set require_ssl: false")
        old_text = read_file(container, path)
        if old_text is None:
            raise PgdockError(f"{path} (hba_file) does not exist in container {container.name!r}")
        current, others = parse_hba(old_text)
        changed = current != wanted or bool(others)
        result = dict(changed=changed, hba_file=path, rules=[rule.as_dict() for rule in wanted])
        if module._diff:
            result["diff"] = dict(before=rules_text(current, others), after=rules_text(wanted),
                                  before_header=path, after_header=path)
        if changed and not module.check_mode:
            replace_file(conn, target, path, old_text, render_hba(wanted), p["postgres_uid"])
    return result


def wanted_rules(p: dict, container) -> list:
    """The rule list the options ask for: `rules` as given, or the defaults with `extra_rules`."""
    extra = [rule_from_option(entry, f"extra_rules[{i}]") for i, entry in enumerate(p.get("extra_rules") or [])]
    if not p["default_rules"]:
        return [rule_from_option(entry, f"rules[{i}]") for i, entry in enumerate(p["rules"] or [])] + extra
    env = env_to_dict((container.attrs.get("Config") or {}).get("Env"))
    return default_rules(env.get("POSTGRES_USER") or "postgres", container_subnets(container),
                         p.get("replication_user"), p["require_ssl"], extra, p["extra_rules_position"],
                         cert_logins=p.get("cert_logins") or [])


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


def replace_file(conn, target, path: str, old_text: str, new_text: str, uid: int) -> None:
    """Write the new file; the server checks it (pg_hba_file_rules) before it is loaded. On an error,
    or when a new connection of this module is refused after the reload, the old file is put back."""
    container = target.container
    write_file(container, path, new_text, uid, uid, 0o600)
    errors = query(conn, ERRORS_QUERY)
    if errors:
        write_file(container, path, old_text, uid, uid, 0o600)
        lines = new_text.splitlines()
        detail = "; ".join(f"line {number} ({' '.join(lines[number - 1].split()) if 0 < number <= len(lines) else '?'}): "
                           f"{error}" for number, error in errors)
        raise PgdockError(f"the server rejects the new pg_hba.conf, the previous file was restored "
                          f"and is still in force: {detail}", errors=[error for _number, error in errors])
    reload_and_wait(conn)
    try:
        connect(target).close()
    except PgdockError as exc:
        write_file(container, path, old_text, uid, uid, 0o600)
        reload_and_wait(conn)
        raise PgdockError(f"the new rules refuse this module's own connection, the previous pg_hba.conf "
                          f"was restored: {exc}") from None


def first_match(rules: list[HbaRule], database: str, user: str, subnet: str) -> HbaRule | None:
    """The first TCP rule that a connection of `user` to `database` ("replication" for streaming)
    from an address of `subnet` matches; None when no rule does."""
    network = ipaddress.ip_network(subnet, strict=False)
    for rule in rules:
        if rule.type not in ("host", "hostssl"):
            continue
        if database == "replication":
            if "replication" not in rule.database:
                continue
        elif "all" not in rule.database and name_token(database) not in rule.database:
            continue
        if "all" not in rule.user and name_token(user) not in rule.user:
            continue
        if rule.address not in ("all", "samenet"):
            try:
                if not network.subnet_of(ipaddress.ip_network(rule.address, strict=False)):
                    continue
            except (ValueError, TypeError):
                continue
        return rule
    return None


def ensure_first_rules(target, conn, make_rule, satisfied, check_mode: bool) -> list[str]:
    """Rules put first in the container's pg_hba.conf for each of its network subnets where
    `satisfied(rules, subnet)` is false; `make_rule(kind, subnet)` makes one (kind: hostssl when the
    server has TLS on, else host). The file is checked and reloaded as by the hba module."""
    container = target.container
    path, ssl = query(conn, "SELECT current_setting('hba_file'), current_setting('ssl')")[0]
    text = read_file(container, path) or ""
    rules, _others = parse_hba(text)
    kind = "hostssl" if ssl == "on" else "host"
    added = [make_rule(kind, subnet) for subnet in container_subnets(container) if not satisfied(rules, subnet)]
    if added and not check_mode:
        replace_file(conn, target, path, text, render_hba(added + rules), 999)
    return [f"pg_hba.conf of {container.name}: add '{rule.render()}'" for rule in added]

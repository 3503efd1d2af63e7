# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgdock.postgres.hba engine: the container's pg_hba.conf replaced by an ordered rule list,
checked by the server before it is loaded, and put back when the server rejects it or when the
new rules would lock this module out."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import read_file
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.layout import env_to_dict
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.rules import (
    default_rules,
    parse_hba,
    render_hba,
    rule_from_option,
    rules_text,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.hba.server_file import (
    container_subnets,
    hba_file_and_ssl,
    replace_file,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import with_diff


def ensure_hba(module) -> dict:
    """Compare the rules in the container's pg_hba.conf with the wanted ones; write, check, reload."""
    p = module.params
    if p["default_rules"] and p["rules"] is not None:
        raise PgdockError("rules and default_rules: true exclude each other; add rules to the defaults with extra_rules")
    with Session(params=p) as session:
        container = session.container
        path, ssl = hba_file_and_ssl(session)
        wanted = wanted_rules(p, container)
        if p["default_rules"] and p["require_ssl"] and not ssl:
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
        with_diff(result, module._diff, rules_text(current, others), rules_text(wanted), path)
        if changed and not module.check_mode:
            replace_file(session, path, old_text, render_hba(wanted), p["postgres_uid"])
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

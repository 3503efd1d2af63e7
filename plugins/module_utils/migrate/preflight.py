# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a migration needs of its source, checked before anything changes: the facts read from the
source, and the problems they make for a method, each with the fix an operator applies (pure)."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.hba.rules import (
    first_local_match,
    first_match,
    name_token,
    parse_hba,
)

FACTS_SQL = """
select current_setting('server_version_num')::int, current_setting('wal_level'),
       current_setting('max_wal_senders')::int, current_setting('max_replication_slots')::int,
       pg_is_in_recovery(), r.rolsuper, r.rolreplication, current_setting('hba_file'),
       (select system_identifier::text from pg_control_system())
from pg_roles r where r.rolname = current_user"""
FACT_KEYS = ("version_num", "wal_level", "max_wal_senders", "max_replication_slots", "in_recovery",
             "superuser", "replication", "hba_file", "system_identifier")


# per-role and per-database settings of default_transaction_read_only = off: they win over the server's
# value that the cutover sets, so sessions of that role or database could still write
FENCE_OVERRIDES_SQL = """
select case when s.setrole = 0 then 'every role' else 'role ' || quote_ident(r.rolname) end
       || case when s.setdatabase = 0 then '' else ' in database ' || quote_ident(d.datname) end
from pg_db_role_setting s
left join pg_roles r on r.oid = s.setrole left join pg_database d on d.oid = s.setdatabase
where exists (select 1 from unnest(s.setconfig) c
              where split_part(c, '=', 1) = 'default_transaction_read_only' and not split_part(c, '=', 2)::boolean)
order by 1"""


def major_of(version_num: int) -> int:
    """The major version of a server_version_num (150007 -> 15)."""
    return version_num // 10000


def read_facts(session) -> dict:
    """The source's settings and login attributes that decide what a method can do."""
    facts = dict(zip(FACT_KEYS, session.row(FACTS_SQL, what="reading the source's settings")))
    facts["major"] = major_of(facts["version_num"])
    facts["databases"] = [r[0] for r in session.rows(
        "select datname from pg_database where datallowconn and not datistemplate order by datname")]
    facts["fence_overrides"] = [r[0] for r in session.rows(FENCE_OVERRIDES_SQL)]
    facts["hba_text"] = None
    if facts["superuser"]:
        facts["hba_text"] = session.value("select pg_read_file(current_setting('hba_file'))",
                                          what="reading the source's pg_hba.conf")
    return facts


def problems(method: str, facts: dict, target_major: int, databases: list[str] | None = None) -> list[str]:
    """What stops `method` from this source into a server of `target_major`, each with its fix."""
    found = []
    major = facts["major"]
    if facts["in_recovery"]:
        found.append("the source is a standby (pg_is_in_recovery() is true): migrate from its primary")
    if method == "physical" and target_major != major:
        found.append(f"method physical copies the data files, so the target must run the source's major "
                     f"version: the source is PostgreSQL {major}, the target image PostgreSQL {target_major}. "
                     f"Use a PostgreSQL {major} image, or method logical or dump to change versions")
    if method in ("logical", "dump") and target_major < major:
        found.append(f"the target image is PostgreSQL {target_major}, older than the source's {major}: "
                     "a migration can only keep or raise the major version; use an image of "
                     f"PostgreSQL {major} or newer")
    if method == "logical" and major < 10:
        found.append(f"method logical needs a source of PostgreSQL 10 or newer (it is {major}): use dump")
    if method == "physical" and facts["wal_level"] == "minimal":
        found.append("the source has wal_level = minimal: set wal_level = replica in its postgresql.conf "
                     "and restart it (a physical copy streams WAL)")
    if method == "logical" and facts["wal_level"] != "logical":
        found.append(f"the source has wal_level = {facts['wal_level']}: set wal_level = logical in its "
                     "postgresql.conf and restart it (logical replication decodes the WAL)")
    if method in ("physical", "logical") and facts["max_wal_senders"] < 2:
        found.append(f"the source has max_wal_senders = {facts['max_wal_senders']}: set it to 2 or more "
                     "(restart needed)")
    if method in ("physical", "logical") and facts["max_replication_slots"] < 1:
        found.append("the source has max_replication_slots = 0: set it to 1 or more (restart needed)")
    if method == "physical" and not (facts["superuser"] or facts["replication"]):
        found.append(f"source.login_user {facts.get('user', 'the login')!r} has neither SUPERUSER nor "
                     "REPLICATION: log in as a superuser (the module then makes the replication role), "
                     "or give a role WITH REPLICATION")
    if method in ("logical", "dump") and not facts["superuser"]:
        found.append("methods logical and dump read every role's password verifier and every table: "
                     "source.login_user must be a superuser of the source")
    if facts.get("fence_overrides"):
        found.append("default_transaction_read_only is set for " + ", ".join(facts["fence_overrides"])
                     + ": at cutover the source is made read-only with that setting, and these would "
                     "override it; remove them (ALTER ROLE ... RESET default_transaction_read_only, "
                     "ALTER DATABASE ... RESET default_transaction_read_only)")
    missing = sorted(set(databases or []) - set(facts["databases"]))
    if missing:
        found.append(f"databases: {missing} do not exist on the source (it has {facts['databases']})")
    return found


def replication_rule_problem(hba_text: str | None, user: str, route_kind: str, subnet: str | None,
                             database: str = "replication") -> str | None:
    """Why the source's pg_hba.conf refuses `user`'s connections for `database` ("replication" for
    streaming) from the containers (route_kind "local": its socket; "host": an address of `subnet`),
    with the line that fixes it; None when a rule lets them in (or the file could not be read)."""
    if hba_text is None:
        return None
    rules, _others = parse_hba(hba_text)
    if route_kind == "local":
        rule = first_local_match(rules, database, user)
        fix = f"local   {database_token(database)}   {name_token(user)}   scram-sha-256"
        where = "through its unix socket"
    else:
        rule = first_match(rules, database, user, subnet)
        fix = f"host    {database_token(database)}   {name_token(user)}   {subnet}   scram-sha-256"
        where = f"from {subnet}"
    if rule is not None and rule.method not in ("reject", "peer", "ident"):
        return None
    why = "no rule matches" if rule is None else f"the first matching rule says {rule.method}"
    return (f"the source's pg_hba.conf does not let {user!r} connect ({database}) {where}: {why}. "
            f"Add before its other rules: '{fix}' and reload the source (SELECT pg_reload_conf())")


def database_token(database: str) -> str:
    """A database column token: the replication keyword as it is, a name quoted when needed."""
    return database if database == "replication" else name_token(database)

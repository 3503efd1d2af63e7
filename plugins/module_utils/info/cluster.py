# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The info module's sections on what the whole cluster shares: `roles` (attributes, memberships
and the kind of password, never the verifier) and `tablespaces` (owner, location, size)."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.info.catalog import by_name

# the kind is computed by the server: the verifier itself never leaves it
PASSWORD_KIND = """,
           case when a.rolpassword is null then 'none'
                when a.rolpassword like 'SCRAM-SHA-256$%' then 'scram-sha-256'
                when a.rolpassword ~ '^md5[0-9a-f]{32}$' then 'md5'
                else 'unknown' end as password_kind"""
ROLES_QUERY = """
    select r.rolname as name, r.rolsuper as superuser, r.rolcanlogin as login,
           r.rolreplication as replication, r.rolcreatedb as createdb, r.rolcreaterole as createrole,
           r.rolbypassrls as bypassrls, r.rolinherit as inherit, r.rolconnlimit as connection_limit,
           case when isfinite(r.rolvaliduntil)
                then to_char(r.rolvaliduntil at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                else r.rolvaliduntil::text end as valid_until,
           array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
                 where m.member = r.oid order by g.rolname) as member_of{kind}
    from pg_roles r {join}
    where r.rolname !~ '^pg_' order by r.rolname"""

TABLESPACES_QUERY = """
    select t.spcname as name, pg_get_userbyid(t.spcowner) as owner,
           nullif(pg_tablespace_location(t.oid), '') as location, t.spcoptions as options,
           case when has_tablespace_privilege(t.oid, 'CREATE') or pg_has_role('pg_read_all_stats', 'MEMBER')
                     or t.oid = (select dattablespace from pg_database where datname = current_database())
                then pg_tablespace_size(t.oid) end as size_bytes
    from pg_tablespace t order by t.spcname"""


def role_facts(g) -> dict:
    """Every role but the predefined pg_* ones; password_kind (scram-sha-256, md5, none) when this
    login may read pg_authid, else None."""
    readable = bool(g.session.value("select has_table_privilege('pg_catalog.pg_authid', 'SELECT')"))
    query = ROLES_QUERY.format(kind=PASSWORD_KIND if readable else ", null::text as password_kind",
                               join="left join pg_authid a on a.oid = r.oid" if readable else "")
    return {"roles": by_name(g.session.rows(query, dicts=True)),
            "password_kind_readable": readable}


def tablespace_facts(g) -> dict:
    """Every tablespace with its owner, location (None for the built-in ones) and size in bytes
    (None where this login may not measure it)."""
    return {"tablespaces": by_name(g.session.rows(TABLESPACES_QUERY, dicts=True))}

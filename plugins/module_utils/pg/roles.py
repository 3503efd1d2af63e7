# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Roles as the role and grant engines see them: names the server accepts, oids, and membership
(GRANT role TO member) read from and written to the catalogs through a pg.sql Session."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - pg.connection.connect reports the missing library
    pass

NAME_MAX_BYTES = 63  # NAMEDATALEN - 1: longer names are silently truncated by the server
PUBLIC = "PUBLIC"
RESERVED_ROLE_NAMES = ("public", "none", "current_user", "session_user", "current_role")


def check_role_name(name: str, option: str, allow_public: bool = False) -> None:
    """Refuse names the server would reject or silently truncate; the message names the option."""
    if allow_public and name.upper() == PUBLIC:
        return
    if not name or "\x00" in name:
        raise PgdockError(f"{option}: a role name must be non-empty and contain no NUL character")
    if len(name.encode("utf-8")) > NAME_MAX_BYTES:
        raise PgdockError(f"{option}: role name {name!r} is longer than {NAME_MAX_BYTES} bytes; "
                          "PostgreSQL would truncate it")
    if name.lower() in RESERVED_ROLE_NAMES:
        raise PgdockError(f"{option}: {name!r} is a reserved role name")


def grantee_sql(name: str):
    """A grantee in GRANT/REVOKE: the PUBLIC keyword or a quoted role name."""
    return sql.SQL(PUBLIC) if name.upper() == PUBLIC else sql.Identifier(name)


def current_user(session) -> str:
    """The role the session is connected as (session_user: SET ROLE does not change it)."""
    return session.value("SELECT session_user")


def role_oids(session, names, option: str) -> dict[str, int]:
    """{name: oid} for existing roles (PUBLIC -> 0); an unknown role is an error naming `option`."""
    names = list(dict.fromkeys(names))
    found = dict(session.rows("SELECT rolname, oid FROM pg_roles WHERE rolname = ANY(%s)", (names,)))
    result = {}
    for name in names:
        if name.upper() == PUBLIC:
            result[name] = 0
        elif name in found:
            result[name] = int(found[name])
        else:
            raise PgdockError(f"{option}: role {name!r} does not exist")
    return result


def memberships(session, member: str) -> set[str]:
    """Roles `member` is a direct member of."""
    return {row[0] for row in session.rows(
        "SELECT DISTINCT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s", (member,))}


def grant_membership(session, group: str, member: str) -> None:
    """GRANT group TO member."""
    session.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(member)),
                    f"granting membership in {group!r} to {member!r}")


def revoke_membership(session, group: str, member: str) -> None:
    """REVOKE group FROM member; from 16 on, once per grantor (REVOKE removes only the grant of the
    grantor it names, the current role by default)."""
    base = sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), sql.Identifier(member))
    what = f"revoking membership in {group!r} from {member!r}"
    if session.version < 160000:
        session.execute(base, what)
        return
    grantors = [row[0] for row in session.rows(
        "SELECT DISTINCT r.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member JOIN pg_roles r ON r.oid = m.grantor "
        "WHERE g.rolname = %s AND u.rolname = %s ORDER BY 1", (group, member))]
    for grantor in grantors:
        session.execute(base + sql.SQL(" GRANTED BY {}").format(sql.Identifier(grantor)), what)

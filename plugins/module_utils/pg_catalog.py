# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SQL helpers shared by the role and grant engines: a session that runs (or, in check mode, only
records) statements and turns server errors into messages without statement text or secrets, role
lookups, and role membership (GRANT role TO member) read from and written to the catalogs."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg_connection import connect, resolve_target

try:
    import psycopg2
    from psycopg2 import sql
except ImportError:  # pragma: no cover - pg_connection.connect reports the missing library
    pass

MASK = "********"
NAME_MAX_BYTES = 63  # NAMEDATALEN - 1: longer names are silently truncated by the server
PUBLIC = "PUBLIC"
RESERVED_ROLE_NAMES = ("public", "none", "current_user", "session_user", "current_role")


def server_error(exc, secrets=()) -> str:
    """A psycopg2 error as a message: the server's primary message, detail and hint, never the
    statement text (psycopg2 appends it, and it may hold a password verifier); secrets masked."""
    diag = getattr(exc, "diag", None)
    parts = [getattr(diag, "message_primary", None)]
    if parts[0]:
        parts += [getattr(diag, "message_detail", None), getattr(diag, "message_hint", None)]
    else:  # client-side failure (connection lost...): its first line only
        lines = str(exc).strip().splitlines()
        parts = [lines[0] if lines else type(exc).__name__]
    return mask(" ".join(part.strip().replace("\n", "; ") for part in parts if part), secrets)


def mask(text: str, secrets=()) -> str:
    """`text` with every non-empty secret replaced by MASK."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


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


class Session:
    """One connection; `execute` records each statement (masked) and runs it unless in check mode.

    Reads (`rows`) always run. Without autocommit, `close(commit=True)` commits the whole run.
    """

    def __init__(self, params: dict, check_mode: bool, dbname: str | None = None,
                 secrets=(), autocommit: bool = False, target=None):
        self.params, self.check_mode, self.secrets = params, check_mode, list(secrets)
        self.target = target or resolve_target(params)
        self.dbname = dbname or self.target.dbname
        self.conn = connect(self.target, dbname=self.dbname, autocommit=autocommit)
        self.queries: list[str] = []

    @property
    def version(self) -> int:
        """server_version_num, e.g. 180001."""
        return self.conn.server_version

    def other_database(self, dbname: str) -> "Session":
        """A session on another database of the same server, as the same role (autocommit)."""
        return Session(self.params, self.check_mode, dbname=dbname, secrets=self.secrets,
                       autocommit=True, target=self.target)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(commit=exc_type is None)

    def rows(self, query: str, params=None, what: str | None = None) -> list[tuple]:
        """Rows of a read-only query with %s / %(name)s parameters; `what` prefixes an error."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall()
        except psycopg2.Error as exc:
            self.rollback()
            raise PgdockError(f"{what or f'reading the catalogs of database {self.dbname!r} failed'}: "
                              f"{server_error(exc, self.secrets)}") from None

    def value(self, query: str, params=None, what: str | None = None):
        """The first column of the first row, or None."""
        found = self.rows(query, params, what)
        return found[0][0] if found else None

    def execute(self, statement, what: str | None = None) -> None:
        """Record a composed statement and run it unless in check mode; `what` names it in errors."""
        text = mask(statement.as_string(self.conn), self.secrets)
        self.queries.append(text)
        if self.check_mode:
            return
        try:
            with self.conn.cursor() as cur:
                cur.execute(statement)
        except psycopg2.Error as exc:
            self.rollback()
            raise PgdockError(f"{what or 'statement'} failed in database {self.dbname!r}: "
                              f"{server_error(exc, self.secrets)}", queries=self.queries) from None

    def rollback(self) -> None:
        """Undo an open transaction, ignoring a broken connection."""
        if not self.conn.autocommit:
            try:
                self.conn.rollback()
            except psycopg2.Error:
                pass

    def close(self, commit: bool = False) -> None:
        """Commit (unless check mode) or roll back, then close."""
        try:
            if commit and not self.check_mode and not self.conn.autocommit:
                self.conn.commit()
            else:
                self.rollback()
        except psycopg2.Error as exc:
            raise PgdockError(f"commit failed in database {self.dbname!r}: "
                              f"{server_error(exc, self.secrets)}", queries=self.queries) from None
        finally:
            self.conn.close()

    # -------------------------------------------------------------- roles

    def current_user(self) -> str:
        """The role the session is connected as (session_user: SET ROLE does not change it)."""
        return self.value("SELECT session_user")

    def role_oids(self, names, option: str) -> dict[str, int]:
        """{name: oid} for existing roles (PUBLIC -> 0); an unknown role is an error naming `option`."""
        names = list(dict.fromkeys(names))
        found = dict(self.rows("SELECT rolname, oid FROM pg_roles WHERE rolname = ANY(%s)", (names,)))
        result = {}
        for name in names:
            if name.upper() == PUBLIC:
                result[name] = 0
            elif name in found:
                result[name] = int(found[name])
            else:
                raise PgdockError(f"{option}: role {name!r} does not exist")
        return result

    def memberships(self, member: str) -> set[str]:
        """Roles `member` is a direct member of."""
        return {row[0] for row in self.rows(
            "SELECT DISTINCT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s", (member,))}

    def grant_membership(self, group: str, member: str) -> None:
        """GRANT group TO member."""
        self.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(member)),
                     f"granting membership in {group!r} to {member!r}")

    def revoke_membership(self, group: str, member: str) -> None:
        """REVOKE group FROM member; from 16 on, once per grantor (REVOKE removes only the grant of
        the grantor it names, the current role by default)."""
        base = sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), sql.Identifier(member))
        what = f"revoking membership in {group!r} from {member!r}"
        if self.version < 160000:
            self.execute(base, what)
            return
        grantors = [row[0] for row in self.rows(
            "SELECT DISTINCT r.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member JOIN pg_roles r ON r.oid = m.grantor "
            "WHERE g.rolname = %s AND u.rolname = %s ORDER BY 1", (group, member))]
        for grantor in grantors:
            self.execute(base + sql.SQL(" GRANTED BY {}").format(sql.Identifier(grantor)), what)


def grantee_sql(name: str):
    """A grantee in GRANT/REVOKE: the PUBLIC keyword or a quoted role name."""
    return sql.SQL(PUBLIC) if name.upper() == PUBLIC else sql.Identifier(name)

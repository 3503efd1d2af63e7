# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgdock.postgres.role engine: a role's attributes, password and memberships compared with the
catalogs and changed with CREATE/ALTER ROLE and GRANT/REVOKE; DROP ROLE after handing over or
dropping what the role owns in every database. Passwords leave this host only as SCRAM verifiers."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.roles import (
    check_role_name,
    current_user,
    grant_membership,
    memberships,
    revoke_membership,
    role_oids,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.scram import (
    MAX_PASSWORD_BYTES,
    is_verifier,
    parse_verifier,
    scram_verifier,
    verify_password,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import Session
from ansible_collections.pgdock.postgres.plugins.module_utils.role.options import OPTIONS as ROLE_OPTIONS
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import spec_params, with_diff

try:
    from psycopg2 import sql
except ImportError:  # pragma: no cover - pg_connection reports the missing library
    pass

# option, pg_roles column, keyword when true, keyword when false
ATTRIBUTES = (
    ("superuser", "rolsuper", "SUPERUSER", "NOSUPERUSER"),
    ("createrole", "rolcreaterole", "CREATEROLE", "NOCREATEROLE"),
    ("createdb", "rolcreatedb", "CREATEDB", "NOCREATEDB"),
    ("inherit", "rolinherit", "INHERIT", "NOINHERIT"),
    ("login", "rolcanlogin", "LOGIN", "NOLOGIN"),
    ("replication", "rolreplication", "REPLICATION", "NOREPLICATION"),
    ("bypassrls", "rolbypassrls", "BYPASSRLS", "NOBYPASSRLS"),
)
# a timestamptz as ISO 8601 in UTC to the second, or 'infinity' / '-infinity'
TIMESTAMP_TEXT = ("CASE WHEN {0} IS NULL THEN NULL WHEN isfinite({0}) THEN "
                  "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') ELSE {0}::text END")
MAX_INT4 = 2147483647


def ensure_role(module) -> dict:
    """Bring the role to the state the module's options describe; the module's result."""
    p = module.params
    validate_options(p)
    with Session(params=p, check_mode=module.check_mode, secrets=[p.get("password")], autocommit=False) as session:
        run = RoleRun(session, p, module.warn)
        before, after = run.absent() if p["state"] == "absent" else run.present()
    result = {"changed": bool(session.queries), "queries": session.queries, "role": after or {}}
    return with_diff(result, module._diff, before or {}, after or {})


def ensure_login_role(login_params: dict, options: dict, check_mode: bool, warn, state: str = "present") -> list[str]:
    """A role made by this engine for another feature, with the role module's defaults under
    `options` (its password, if any, sent as a SCRAM verifier); the statements run (or, in check
    mode, that would run)."""
    params = dict(login_params, **spec_params(ROLE_OPTIONS, dict(options, state=state), "role"))
    validate_options(params)
    with Session(params=params, check_mode=check_mode, secrets=[params.get("password")], autocommit=False) as session:
        run = RoleRun(session, params, warn)
        run.absent() if state == "absent" else run.present()
    return list(session.queries)


def validate_options(p: dict) -> None:
    """Reject bad input before the server is asked anything; each message names the option."""
    check_role_name(p["name"], "name")
    if p["name"].startswith("pg_"):
        raise PgdockError(f"name: {p['name']!r}: names starting with 'pg_' are reserved for "
                          "PostgreSQL's predefined roles")
    if p["state"] == "absent":
        if p.get("reassign_owned_to") is not None:
            check_role_name(p["reassign_owned_to"], "reassign_owned_to")
            if p["reassign_owned_to"] == p["name"]:
                raise PgdockError("reassign_owned_to: must be another role than the one dropped")
        return
    limit = p.get("connection_limit")
    if limit is not None and not -1 <= limit <= MAX_INT4:
        raise PgdockError(f"connection_limit: must be -1 (no limit) or a number of connections "
                          f"from 0 to {MAX_INT4}, got {limit}")
    for group in p.get("member_of") or []:
        check_role_name(group, "member_of")
        if group == p["name"]:
            raise PgdockError(f"member_of: role {group!r} cannot be a member of itself")
    password = p.get("password")
    if password is not None:
        encoded = password.encode("utf-8", "surrogateescape")
        if not password or "\x00" in password:
            raise PgdockError("password: must be non-empty and contain no NUL character "
                              "(to remove a password, drop and create the role, or set a new one)")
        if len(encoded) > MAX_PASSWORD_BYTES and not is_verifier(password):
            raise PgdockError(f"password: longer than {MAX_PASSWORD_BYTES} bytes, which PostgreSQL "
                              "and libpq refuse for SCRAM authentication")


def password_matches(password: str, stored: str | None) -> bool:
    """Whether the stored verifier already is `password` (a SCRAM verifier given as the password
    must be stored as it is; a cleartext one is checked with the stored salt and iterations)."""
    if is_verifier(password):
        return password == stored
    return verify_password(password, stored)


def password_type(stored: str | None) -> str | None:
    """The kind of a stored password: scram-sha-256, md5 or None (no password)."""
    if stored is None:
        return None
    if parse_verifier(stored) is not None:
        return "scram-sha-256"
    return "md5" if stored.startswith("md5") else "unknown"


def option_clauses(changes: dict, verifier: str | None) -> list:
    """CREATE/ALTER ROLE options for the attribute changes (and the verifier, when one is set)."""
    clauses = [sql.SQL(yes if changes[option] else no)
               for option, _column, yes, no in ATTRIBUTES if option in changes]
    if "connection_limit" in changes:
        clauses.append(sql.SQL("CONNECTION LIMIT {}").format(sql.Literal(changes["connection_limit"])))
    if "valid_until" in changes:
        clauses.append(sql.SQL("VALID UNTIL {}").format(sql.Literal(changes["valid_until"])))
    if verifier is not None:
        clauses.append(sql.SQL("PASSWORD {}").format(sql.Literal(verifier)))
    return clauses


class RoleRun:
    """One run against one server: read the role, plan, execute (or record in check mode)."""

    def __init__(self, session: Session, params: dict, warn):
        self.s, self.p, self.warn = session, params, warn
        self.name = params["name"]
        self.can_read_passwords = bool(session.value("SELECT has_table_privilege('pg_authid', 'SELECT')"))

    # ------------------------------------------------------------------ reading

    def read(self) -> dict | None:
        """The role's attributes, memberships and password kind; None when it does not exist."""
        columns = ", ".join(column for _option, column, _yes, _no in ATTRIBUTES)
        found = self.s.rows(f"SELECT {columns}, rolconnlimit, {TIMESTAMP_TEXT.format('rolvaliduntil')} "
                            "FROM pg_roles WHERE rolname = %s", (self.name,))
        if not found:
            return None
        row = found[0]
        role = {"name": self.name}
        role.update({option: row[i] for i, (option, _c, _y, _n) in enumerate(ATTRIBUTES)})
        role["connection_limit"], role["valid_until"] = row[len(ATTRIBUTES)], row[len(ATTRIBUTES) + 1]
        role["member_of"] = sorted(memberships(self.s, self.name))
        role["password_type"] = password_type(self.stored_password()) if self.can_read_passwords else "unknown"
        return role

    def stored_password(self) -> str | None:
        """rolpassword from pg_authid (needs superuser)."""
        return self.s.value("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (self.name,))

    def desired_valid_until(self) -> str | None:
        """valid_until as the server reads it, in the form `read` reports."""
        value = self.p.get("valid_until")
        if value is None:
            return None
        query = "SELECT " + TIMESTAMP_TEXT.format("%(v)s::timestamptz")
        return self.s.value(query, {"v": value}, what=f"valid_until: {value!r} is not a timestamp PostgreSQL accepts")

    # ------------------------------------------------------------------ present

    def present(self) -> tuple[dict | None, dict]:
        """Create or alter the role and its memberships; (before, after) for the diff."""
        before = self.read()
        desired = {option: self.p[option] for option, _c, _y, _n in ATTRIBUTES if self.p.get(option) is not None}
        if self.p.get("connection_limit") is not None:
            desired["connection_limit"] = self.p["connection_limit"]
        if self.p.get("valid_until") is not None:
            desired["valid_until"] = self.desired_valid_until()
        groups = self.p.get("member_of")
        if groups is not None:
            role_oids(self.s, groups, "member_of")
        changes = {key: value for key, value in desired.items() if before is None or before[key] != value}
        verifier = self.new_verifier(before)
        clauses = option_clauses(changes, verifier)
        role_sql = sql.Identifier(self.name)
        if before is None:
            statement = sql.SQL("CREATE ROLE {}").format(role_sql)
            self.s.execute(statement + sql.SQL(" WITH ") + sql.SQL(" ").join(clauses) if clauses else statement,
                           f"creating role {self.name!r}")
        elif clauses:
            self.s.execute(sql.SQL("ALTER ROLE {} WITH ").format(role_sql) + sql.SQL(" ").join(clauses),
                           f"altering role {self.name!r}")
        current = set(before["member_of"]) if before else set()
        wanted = set(groups or ())
        for group in sorted(wanted - current):
            grant_membership(self.s, group, self.name)
        if groups is not None and self.p["member_of_mode"] == "exact":
            for group in sorted(current - wanted):
                revoke_membership(self.s, group, self.name)
        after = self.predicted(before, changes, groups, verifier) if self.s.check_mode else self.read()
        if self.p.get("password") is not None:
            state = "changed" if verifier is not None else "unchanged"
            before = dict(before, password="unchanged") if before else before
            after = dict(after, password=state)
        return before, after

    def new_verifier(self, before: dict | None) -> str | None:
        """The SCRAM verifier to set, or None when the stored password already is the given one."""
        password = self.p.get("password")
        if password is None or (before is not None and self.p["update_password"] == "on_create"):
            return None
        if before is not None:
            if not self.can_read_passwords:
                self.warn(f"cannot read stored passwords (pg_authid) as {self.s.target.user!r}; the password "
                          "of the role is set on every run. Connect as a superuser to compare it.")
            elif password_matches(password, self.stored_password()):
                return None
        verifier = password if is_verifier(password) else scram_verifier(password)
        self.s.secrets.append(verifier)
        return verifier

    def predicted(self, before, changes, groups, verifier) -> dict:
        """The role as a check-mode run expects it after the changes."""
        role = dict(before) if before else {"name": self.name, "superuser": False, "createrole": False,
                                            "createdb": False, "inherit": True, "login": False,
                                            "replication": False, "bypassrls": False,
                                            "connection_limit": -1, "valid_until": None,
                                            "member_of": [], "password_type": None}
        role.update(changes)
        if groups is not None:
            kept = role["member_of"] if self.p["member_of_mode"] == "append" else []
            role["member_of"] = sorted(set(kept) | set(groups))
        if verifier is not None:
            role["password_type"] = "scram-sha-256"
        return role

    # ------------------------------------------------------------------ absent

    def absent(self) -> tuple[dict | None, dict | None]:
        """Hand over or drop what the role owns in every database, then drop it."""
        before = self.read()
        if before is None:
            return None, None
        if self.name == current_user(self.s):
            raise PgdockError(f"name: refusing to drop role {self.name!r}: the module is connected as it. "
                              "Connect as another role (login_user) to drop it.")
        new_owner = self.p.get("reassign_owned_to")
        if new_owner is not None:
            role_oids(self.s, [new_owner], "reassign_owned_to")
        databases = self.databases_with_objects()
        if databases and new_owner is None and not self.p["drop_owned"]:
            raise PgdockError(
                f"role {self.name!r} owns objects or holds privileges in database(s) {', '.join(databases)}; "
                "give reassign_owned_to (a role that takes over its objects) and/or drop_owned: true "
                "(drops its objects and revokes its privileges) to drop it")
        if new_owner is not None or self.p["drop_owned"]:
            for dbname in databases:
                if dbname != self.s.dbname:
                    with self.s.other_database(dbname) as other:
                        try:
                            self.hand_over(other, new_owner)
                        finally:
                            self.s.queries.extend(other.queries)
            self.hand_over(self.s, new_owner)
        self.s.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(self.name)), f"dropping role {self.name!r}")
        return before, None

    def hand_over(self, session: Session, new_owner: str | None) -> None:
        """REASSIGN OWNED and/or DROP OWNED in the database of `session`."""
        role_sql = sql.Identifier(self.name)
        if new_owner is not None:
            session.execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(role_sql, sql.Identifier(new_owner)),
                            f"reassigning the objects of {self.name!r} to {new_owner!r}")
        if self.p["drop_owned"]:
            session.execute(sql.SQL("DROP OWNED BY {}").format(role_sql),
                            f"dropping the objects and privileges of {self.name!r}")

    def databases_with_objects(self) -> list[str]:
        """Databases where the role owns objects or holds privileges (pg_shdepend); a database that
        takes no connections there is an error, since nothing could be handed over in it."""
        found = self.s.rows(
            "SELECT DISTINCT d.datname, d.datallowconn FROM pg_shdepend s "
            "JOIN pg_database d ON d.oid = s.dbid OR (s.dbid = 0 AND d.datname = current_database()) "
            "WHERE s.refclassid = 'pg_authid'::regclass "
            "AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = %s) ORDER BY 1", (self.name,))
        closed = [name for name, allowed in found if not allowed]
        if closed:
            raise PgdockError(f"role {self.name!r} has objects in database(s) {', '.join(closed)}, which "
                              "accept no connections; handle them first (ALTER DATABASE ... ALLOW_CONNECTIONS)")
        return [name for name, _allowed in found]

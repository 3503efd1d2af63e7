# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the engines run SQL on a server: a Session on one psycopg2 connection. It reads
(`rows`, `row`, `value`), runs what the caller decided to run (`run`), records a change and runs it
unless in check mode (`execute`, masked in `queries`), reloads the configuration and waits for it
(`reload_and_wait`), and turns server errors into messages without statement text or secrets
(`error_text`)."""

from __future__ import annotations

import time

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import connect, resolve_target

try:
    import psycopg2
except ImportError:  # pragma: no cover - pg.connection.connect reports the missing library
    pass

MASK = "********"
RELOAD_TIMEOUT = 15


class QueryError(PgdockError):
    """A statement failed on the server, or the connection was lost while it ran; `reason` is the
    server's (or the client library's) own message."""

    def __init__(self, msg: str, reason: str = "", sqlstate: str | None = None, **details):
        super().__init__(msg, **details)
        self.reason, self.sqlstate = reason, sqlstate


def error_text(exc, secrets=()) -> str:
    """A psycopg2 error as a message: the server's primary message, detail and hint, never the
    statement text (psycopg2 appends it, and it may hold a password verifier); secrets masked."""
    diag = getattr(exc, "diag", None)
    parts = [getattr(diag, "message_primary", None)]
    if parts[0]:
        parts += [getattr(diag, "message_detail", None), getattr(diag, "message_hint", None)]
    else:  # client-side failure (connection lost...): its first line
        lines = str(exc).strip().splitlines()
        parts = [lines[0] if lines else type(exc).__name__]
    return mask(" ".join(part.strip().replace("\n", "; ") for part in parts if part), secrets)


def mask(text: str, secrets=()) -> str:
    """`text` with every non-empty secret replaced by MASK."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


class SessionReads:
    """What every session builds on its own `rows` and `run`: the first row, one value, and a reload
    of the configuration that waits until it took effect."""

    def row(self, query, params=None, what: str | None = None, **kwargs):
        """The first row of a query, or None."""
        found = self.rows(query, params, what, **kwargs)
        return found[0] if found else None

    def value(self, query, params=None, what: str | None = None):
        """The first column of the first row, or None."""
        found = self.row(query, params, what)
        return found[0] if found else None

    def reload_and_wait(self, timeout: int = RELOAD_TIMEOUT) -> None:
        """pg_reload_conf(), then wait until the server's configuration load time has moved (this
        session, or a new one, has re-read the files; the postmaster has too)."""
        before = self.value("SELECT pg_conf_load_time()")
        self.run("SELECT pg_reload_conf()")
        deadline = time.monotonic() + timeout
        while self.value("SELECT pg_conf_load_time()") <= before:
            if time.monotonic() > deadline:
                raise PgdockError(f"the server did not reload its configuration within {timeout} s")
            time.sleep(0.1)


class Session(SessionReads):
    """One connection to one database of a server.

    `target`: a pg.connection.ServerTarget (or give `params`, the module's login options). With
    autocommit off, `close(commit=True)` (or leaving the `with` block without an error) commits the
    whole run; in check mode nothing is committed."""

    def __init__(self, target=None, check_mode: bool = False, dbname: str | None = None, secrets=(),
                 autocommit: bool = True, params: dict | None = None):
        self.check_mode, self.secrets = check_mode, list(secrets)
        self.target = target if target is not None else resolve_target(params)
        self.dbname = dbname or self.target.dbname
        self.conn = connect(self.target, dbname=self.dbname, autocommit=autocommit)
        self.queries: list[str] = []

    @property
    def container(self):
        """The docker container the target was resolved from, or None."""
        return self.target.container

    @property
    def version(self) -> int:
        """server_version_num, e.g. 180001."""
        return self.conn.server_version

    def other_database(self, dbname: str, autocommit: bool = True) -> "Session":
        """A session on another database of the same server, as the same role."""
        return Session(self.target, self.check_mode, dbname=dbname, secrets=self.secrets, autocommit=autocommit)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(commit=exc_type is None)

    # -- reading and running ---------------------------------------------------------------------
    def run(self, statement, params=None, what: str = "query", dicts: bool = False):
        """Run one statement (text with %s / %(name)s parameters, or composed) and return its rows
        (tuples, or dicts by column name), None when it returns none. A failure rolls back an open
        transaction and raises QueryError starting with `what`."""
        names, rows, _count, _status = self.run_statement(statement, params, what)
        if names is None:
            return None
        return [dict(zip(names, row)) for row in rows] if dicts else rows

    def run_statement(self, statement, params=None, what: str = "query") -> tuple:
        """Run one statement and return (column names or None, rows, rowcount, statusmessage). A
        failure rolls back an open transaction and raises QueryError with the server's SQLSTATE."""
        try:
            return self._cursor_run(statement, params)
        except psycopg2.Error as exc:
            self.rollback()
            reason = error_text(exc, self.secrets)
            raise QueryError(f"{what}: {reason}", reason, sqlstate=getattr(exc, "pgcode", None)) from None

    def _cursor_run(self, statement, params) -> tuple:
        with self.conn.cursor() as cur:
            cur.execute(statement, params)
            if cur.description is None:
                return None, [], cur.rowcount, cur.statusmessage
            return [col.name for col in cur.description], cur.fetchall(), cur.rowcount, cur.statusmessage

    def rows(self, query, params=None, what: str | None = None, dicts: bool = False) -> list:
        """Rows of a query; `what` names it in an error."""
        what = what or f"reading the catalogs of database {self.dbname!r} failed"
        return self.run(query, params, what, dicts) or []

    def execute(self, statement, what: str | None = None) -> None:
        """A change: record the composed statement (secrets masked) and run it unless in check mode."""
        text = mask(statement.as_string(self.conn), self.secrets)
        self.queries.append(text)
        if self.check_mode:
            return
        try:
            self._cursor_run(statement, None)
        except psycopg2.Error as exc:
            self.rollback()
            reason = error_text(exc, self.secrets)
            raise QueryError(f"{what or 'statement'} failed in database {self.dbname!r}: {reason}", reason,
                             queries=self.queries) from None

    def probe_login(self) -> None:
        """Open a new connection the way this one was opened; PgdockError when the server refuses it."""
        connect(self.target, dbname=self.dbname).close()

    # -- the end ---------------------------------------------------------------------------------
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
            reason = error_text(exc, self.secrets)
            raise QueryError(f"commit failed in database {self.dbname!r}: {reason}", reason,
                             queries=self.queries) from None
        finally:
            self.conn.close()

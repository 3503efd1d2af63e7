# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgdock.postgres.query and pgdock.postgres.script engines: one statement with its result and
a `changed` from its kind, or a script's statements in one transaction. In check mode every
statement runs in a transaction that is rolled back (reads in a read-only one)."""

from __future__ import annotations

import os
import re

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.connection import resolve_target
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import QueryError, Session, error_text
from ansible_collections.pgdock.postgres.plugins.module_utils.query.arguments import bind
from ansible_collections.pgdock.postgres.plugins.module_utils.query.kinds import READ, changed, kind_of, transaction_control
from ansible_collections.pgdock.postgres.plugins.module_utils.query.statements import split
from ansible_collections.pgdock.postgres.plugins.module_utils.query.values import rows_as_dicts

try:
    import psycopg2
    import psycopg2.extensions
    from psycopg2 import sql
except ImportError:  # pragma: no cover - connect() reports the missing library
    pass

NO_TRANSACTION_BLOCK = "25001"  # active_sql_transaction: "... cannot run inside a transaction block"
READ_ONLY_TRANSACTION = "25006"  # read_only_sql_transaction
SNIPPET = 100


# ---------------------------------------------------------------- query

def run_query(module) -> dict:
    """Run the one statement of `query`; the module's result."""
    p = module.params
    statement = single_statement(p["query"])
    params = bind([statement], p.get("positional_args"), p.get("named_args"), "query")[0]
    kind = kind_of(statement)
    result = dict(query=p["query"], kind=kind, query_result=[], rowcount=0, statusmessage=None)
    in_transaction = module.check_mode or not p["autocommit"]
    with open_session(p, autocommit=not in_transaction, check_mode=module.check_mode) as session:
        try:
            names, rows, rowcount, status = run_checked(session, p, params, kind, module.check_mode)
        except QueryError as exc:
            if exc.sqlstate != NO_TRANSACTION_BLOCK:
                raise
            if not (module.check_mode and p["autocommit"]):
                raise PgdockError(f"query failed: {exc.reason}. This statement runs only outside a transaction "
                                  "block: set autocommit: true") from None
            return dict(result, changed=True, not_run=(
                "not run in check mode: the statement runs only outside a transaction block (autocommit), "
                "and check mode runs everything in a transaction that is rolled back"))
    return dict(result, changed=changed(kind, rowcount, status), query_result=rows_as_dicts(names, rows),
                rowcount=rowcount, statusmessage=status)


def single_statement(text: str):
    """The one statement of `text`; PgdockError for none, several, or transaction control."""
    statements = split(text or "")
    if not statements:
        raise PgdockError("query: no SQL statement given (the text is empty or only comments)")
    if len(statements) > 1:
        second = statements[1]
        raise PgdockError(f"query: the text holds {len(statements)} statements (the second starts at line "
                          f"{second.line}: {snippet(second)}); this module runs exactly one, so that its result and "
                          "changed are that statement's. Run several with pgdock.postgres.script (one "
                          "transaction), or one task each")
    command = transaction_control(statements[0])
    if command:
        raise PgdockError(f"query: {command} is transaction control; this module runs each statement in its own "
                          "transaction (or with autocommit: true, none): leave it out, or use pgdock.postgres.script")
    return statements[0]


def run_checked(session, p: dict, params, kind: str, check_mode: bool) -> tuple:
    """Run the statement; in check mode a read goes in a read-only transaction, or (a read that
    writes, such as nextval()) in one that is rolled back like any other."""
    if check_mode and kind == READ:
        session.conn.readonly = True
        set_search_path(session, p)
        try:
            return session.run_statement(p["query"], params, "query failed")
        except QueryError as exc:
            if exc.sqlstate != READ_ONLY_TRANSACTION:
                raise
        session.conn.readonly = False
    set_search_path(session, p)
    return session.run_statement(p["query"], params, "query failed")


# ---------------------------------------------------------------- script

def run_script(module) -> dict:
    """Run the statements of `path` or `content` in one transaction; the module's result."""
    p = module.params
    text = script_text(p)
    statements = split(text)
    if not statements:
        raise PgdockError("script: no SQL statement in it (it is empty or only comments)")
    for statement in statements:
        command = transaction_control(statement)
        if command:
            raise PgdockError(f"script: line {statement.line}: {command} is transaction control; the script runs in "
                              "one transaction (all of it or nothing), which this would break: leave it out")
    all_params = bind(statements, p.get("positional_args"), p.get("named_args"), "script")
    names, rows, rowcount, status = None, [], 0, None
    with open_session(p, autocommit=False, check_mode=module.check_mode) as session:
        set_search_path(session, p)
        for index, (statement, params) in enumerate(zip(statements, all_params), 1):
            try:
                names, rows, rowcount, status = session.run_statement(statement.text, params)
            except QueryError as exc:
                raise PgdockError(failure_message(exc, statement, index, len(statements))) from None
    return dict(changed=not module.check_mode, statements=len(statements), query_result=rows_as_dicts(names, rows),
                rowcount=rowcount, statusmessage=status)


def script_text(p: dict) -> str:
    """The script from `content`, or from the file `path` on this host (decoded as `encoding` when
    Python knows it, else UTF-8)."""
    if p.get("content") is not None:
        return p["content"]
    path = p["path"]
    if not os.path.isfile(path):
        raise PgdockError(f"path: {path!r} is not a file on this host")
    codec = python_codec(p.get("encoding")) or "utf-8"
    try:
        with open(path, encoding=codec) as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise PgdockError(f"path: cannot read {path!r} as {codec} text: {exc}") from None


def python_codec(encoding: str | None) -> str | None:
    """Python's codec for a PostgreSQL encoding name (UTF8, utf-8, LATIN1, WIN1252), None when unknown."""
    if not encoding:
        return None
    return psycopg2.extensions.encodings.get(re.sub(r"[-_ ]", "", encoding.upper()))


def failure_message(exc: QueryError, statement, index: int, total: int) -> str:
    """A failed script statement: where it starts and its first line (a password's value masked),
    the server's message, and that nothing was kept."""
    hint = (" It runs only outside a transaction block: run it with pgdock.postgres.query and autocommit: true"
            if exc.sqlstate == NO_TRANSACTION_BLOCK else "")
    return (f"script: statement {index} of {total}, at line {statement.line} ({snippet(statement)}), failed: "
            f"{exc.reason}.{hint} Nothing was changed: the script runs in one transaction, which was rolled back")


def snippet(statement) -> str:
    """A statement's first line for a message: shortened, and the value after PASSWORD masked."""
    first = re.sub(r"(?i)\b(password)\b.*", r"\1 ********", statement.first_line)
    return first[:SNIPPET] + "..." if len(first) > SNIPPET else first


# ---------------------------------------------------------------- both

def open_session(p: dict, autocommit: bool, check_mode: bool) -> Session:
    """A session on the login database in the client encoding asked for."""
    target = resolve_target(p)
    session = Session(target, check_mode=check_mode, secrets=[target.password], autocommit=autocommit)
    if p.get("encoding"):
        try:
            session.conn.set_client_encoding(p["encoding"])
        except psycopg2.Error as exc:
            session.close()
            raise PgdockError(f"encoding: {p['encoding']!r} is not a client encoding the server knows "
                              f"({error_text(exc, session.secrets)})") from None
    return session


def set_search_path(session, p: dict) -> None:
    """SET search_path to the schemas asked for (again after a rollback: SET is transactional)."""
    if p.get("search_path"):
        session.run(sql.SQL("SET search_path TO {}").format(
            sql.SQL(", ").join(sql.Identifier(name) for name in p["search_path"])), what="search_path")

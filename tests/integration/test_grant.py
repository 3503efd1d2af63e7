"""Integration tests of pgdock.postgres.grant against real PostgreSQL 15 and 18 containers."""

from __future__ import annotations

import secrets

import psycopg2
import pytest
from psycopg2 import sql as pgsql

from ansible_runner import run_module
from test_role import MAJORS, connect, role_names, sql


def grant(server: dict, check: bool = False, diff: bool = False, **args):
    return run_module("grant", dict(container=server["name"], **args), check=check, diff=diff)


def as_role(server: dict, user: str, password: str, query, dbname: str = "appdb"):
    """Run `query` as `user`; the rows, or the psycopg2 error class name when it fails."""
    try:
        conn = connect(server, user, password, dbname=dbname)
    except psycopg2.OperationalError as exc:
        return "no-connect" if "permission denied" in str(exc) else str(exc)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall() if cur.description else "ok"
    except psycopg2.Error as exc:
        return type(exc).__name__
    finally:
        conn.close()


def setup_app(server: dict) -> dict:
    """Database appdb owned by app_owner (no CONNECT for PUBLIC), a table with a serial, login roles."""
    passwords = {name: "Pw-" + secrets.token_hex(6) for name in ("app_owner", "ro", "rw", "mon")}
    for name, password in passwords.items():
        sql(server, pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(pgsql.Identifier(name), pgsql.Literal(password)))
    sql(server, "CREATE DATABASE appdb OWNER app_owner")
    sql(server, "REVOKE CONNECT, TEMPORARY ON DATABASE appdb FROM PUBLIC")
    assert as_role(server, "app_owner", passwords["app_owner"],
                   "CREATE TABLE items (id serial PRIMARY KEY, name text); INSERT INTO items (name) VALUES ('a')") == "ok"
    return passwords


@pytest.mark.parametrize("major", MAJORS)
def test_presets(pg_server, major):
    server = pg_server(major)
    pw = setup_app(server)
    readonly = dict(login_db="appdb", roles=["ro"], preset="readonly", target_role="app_owner")
    readwrite = dict(login_db="appdb", roles=["rw"], preset="readwrite", target_role="app_owner")
    monitor = dict(login_db="appdb", roles=["mon"], preset="monitor")

    checked = grant(server, check=True, diff=True, **readonly)
    assert checked.changed and checked["diff"]["before"]["database appdb"] == {"ro": []}, checked
    assert as_role(server, "ro", pw["ro"], "SELECT 1") == "no-connect"
    first = grant(server, diff=True, **readonly)
    assert first.changed and first["queries"] == checked["queries"], first
    assert first["privileges"] == checked["privileges"]  # check mode predicted the outcome
    assert first["privileges"]["table public.items"] == {"ro": ["SELECT"]}
    assert first["privileges"]["default privileges of app_owner on tables in schema public"] == {"ro": ["SELECT"]}
    for args in (readwrite, monitor):
        assert grant(server, **args).changed
    for args in (readonly, readwrite, monitor):
        again = grant(server, diff=True, **args)
        assert not again.changed and again["queries"] == [], again
        assert again["diff"]["before"] == again["diff"]["after"]

    assert as_role(server, "ro", pw["ro"], "SELECT name FROM items") == [("a",)]
    assert as_role(server, "ro", pw["ro"], "INSERT INTO items (name) VALUES ('x')") == "InsufficientPrivilege"
    assert as_role(server, "rw", pw["rw"], "INSERT INTO items (name) VALUES ('b')") == "ok"
    assert as_role(server, "rw", pw["rw"], "UPDATE items SET name = 'c' WHERE name = 'b'") == "ok"
    assert as_role(server, "rw", pw["rw"], "DELETE FROM items WHERE name = 'c'") == "ok"
    assert as_role(server, "rw", pw["rw"], "TRUNCATE items") == "InsufficientPrivilege"
    assert as_role(server, "mon", pw["mon"], "SELECT pg_has_role('pg_monitor', 'MEMBER')") == [(True,)]
    assert as_role(server, "mon", pw["mon"], "SELECT name FROM items") == "InsufficientPrivilege"

    # a table the owner creates later is covered by the default privileges
    assert as_role(server, "app_owner", pw["app_owner"],
                   "CREATE TABLE later (id serial, name text); INSERT INTO later (name) VALUES ('l')") == "ok"
    assert as_role(server, "ro", pw["ro"], "SELECT name FROM later") == [("l",)]
    assert as_role(server, "ro", pw["ro"], "INSERT INTO later (name) VALUES ('x')") == "InsufficientPrivilege"
    assert as_role(server, "rw", pw["rw"], "INSERT INTO later (name) VALUES ('w')") == "ok"
    assert not grant(server, **readonly).changed  # the new table already has what the preset asks

    revoked = grant(server, state="absent", **readonly)
    assert revoked.changed and all(not privs["ro"] for privs in revoked["privileges"].values()), revoked
    assert as_role(server, "ro", pw["ro"], "SELECT 1") == "no-connect"
    assert not grant(server, state="absent", **readonly).changed
    assert as_role(server, "rw", pw["rw"], "SELECT count(*) FROM later") == [(2,)]  # others untouched


@pytest.mark.parametrize("major", MAJORS)
def test_object_privileges_with_hostile_names(pg_server, major):
    server = pg_server(major)
    schema, table, grantee = 'weird"schema', "x'); DROP TABLE t;--", 'weird"grantee'
    sql(server, pgsql.SQL("CREATE TABLE t (id int); CREATE ROLE {g}; CREATE ROLE helper; CREATE SCHEMA {s}; "
                          "CREATE TABLE {s}.{t} (id int); CREATE TABLE {s}.other (id int); CREATE SEQUENCE {s}.seq; "
                          "CREATE FUNCTION {s}.add_one(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1 + 1'; "
                          "CREATE FUNCTION {s}.add_one(text) RETURNS text LANGUAGE sql AS 'SELECT $1'").format(
        s=pgsql.Identifier(schema), t=pgsql.Identifier(table), g=pgsql.Identifier(grantee)))
    roles_before = role_names(server)
    cases = [
        dict(type="table", schema=schema, objs=[table], privileges=["select", "update"], with_grant_option=True),
        dict(type="table", schema=schema, objs=["ALL_IN_SCHEMA"], privileges=["INSERT"]),
        dict(type="sequence", schema=schema, objs=["seq"], privileges=["usage"]),
        dict(type="function", schema=schema, objs=["add_one(int)"], privileges=["EXECUTE"]),
        dict(type="function", schema=schema, objs=["ALL_IN_SCHEMA"], privileges=["EXECUTE"]),
        dict(type="schema", objs=[schema], privileges=["USAGE", "CREATE"]),
        dict(type="database", objs=["postgres"], privileges=["TEMP"]),
        dict(type="role", objs=["helper"]),
    ]
    for case in cases:
        checked = grant(server, check=True, roles=[grantee], **case)
        done = grant(server, diff=True, roles=[grantee], **case)
        assert checked.changed and done.changed and not done.failed, (case, done)
        assert done["privileges"] == checked["privileges"], case
        assert done["diff"]["before"] != done["diff"]["after"]
        assert not grant(server, roles=[grantee], **case).changed, case

    acl = sql(server, "SELECT relacl::text[] FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE n.nspname = %s AND c.relname = %s", (schema, table))
    assert any(item.startswith('"weird""grantee"=ar*w*') for item in acl[0][0]), acl
    assert sql(server, "SELECT id FROM t") == []
    assert role_names(server) == roles_before

    # the grant option is taken away, then the privileges
    dropped_option = grant(server, roles=[grantee], type="table", schema=schema, objs=[table],
                           privileges=["SELECT", "UPDATE"], with_grant_option=False)
    assert dropped_option.changed
    assert dropped_option["privileges"][f"table {schema}.{table}"][grantee] == ["INSERT", "SELECT", "UPDATE"]
    revoked = grant(server, roles=[grantee], type="table", schema=schema, objs=["ALL_IN_SCHEMA"],
                    privileges=["ALL"], state="absent")
    assert revoked.changed and revoked["queries"] == [
        'REVOKE SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "weird""schema" FROM "weird""grantee"']
    assert not grant(server, roles=[grantee], type="table", schema=schema, objs=["ALL_IN_SCHEMA"],
                     privileges=["ALL"], state="absent").changed

    # PUBLIC: no more CONNECT on a database, idempotently
    sql(server, "CREATE DATABASE closed")
    public = dict(roles=["PUBLIC"], type="database", objs=["closed"], privileges=["CONNECT", "TEMPORARY"],
                  state="absent")
    closed = grant(server, diff=True, **public)
    assert closed.changed and closed["diff"]["before"]["database closed"]["PUBLIC"] == ["CONNECT", "TEMPORARY"]
    assert closed["diff"]["after"]["database closed"]["PUBLIC"] == []
    assert not grant(server, **public).changed


@pytest.mark.parametrize("major", MAJORS)
def test_default_privileges(pg_server, major):
    server = pg_server(major)
    pw = "Pw-" + secrets.token_hex(6)
    sql(server, pgsql.SQL("CREATE ROLE owner LOGIN PASSWORD {}; CREATE ROLE reader; CREATE SCHEMA s1 AUTHORIZATION owner; "
                          "CREATE SCHEMA s2 AUTHORIZATION owner").format(pgsql.Literal(pw)))
    everywhere = dict(roles=["reader"], type="default_privileges", objs=["tables", "sequences"],
                      privileges=["SELECT"], target_role="owner")
    in_s1 = dict(roles=["reader"], type="default_privileges", objs=["functions"], privileges=["EXECUTE"],
                 target_role="owner", schema="s1")
    no_public_execute = dict(roles=["PUBLIC"], type="default_privileges", objs=["functions"],
                             privileges=["EXECUTE"], target_role="owner", state="absent")
    for args in (everywhere, in_s1, no_public_execute):
        done = grant(server, diff=True, **args)
        assert done.changed and not done.failed, done
        assert not grant(server, **args).changed, args
    assert done["queries"] == ['ALTER DEFAULT PRIVILEGES FOR ROLE "owner" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC']

    conn = connect(server, "owner", pw)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE s2.t (id int); CREATE SEQUENCE s2.q; "
                    "CREATE FUNCTION s1.f() RETURNS int LANGUAGE sql AS 'SELECT 1'; "
                    "CREATE FUNCTION s2.g() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    conn.close()
    privileges = dict(sql(server, "SELECT 's2.t', has_table_privilege('reader', 's2.t', 'SELECT') UNION ALL "
                                  "SELECT 's2.q', has_sequence_privilege('reader', 's2.q', 'SELECT') UNION ALL "
                                  "SELECT 's1.f', has_function_privilege('reader', 's1.f()', 'EXECUTE') UNION ALL "
                                  "SELECT 's2.g', has_function_privilege('reader', 's2.g()', 'EXECUTE')"))
    assert privileges == {"s2.t": True, "s2.q": True, "s1.f": True, "s2.g": False}


@pytest.mark.parametrize("major", MAJORS)
def test_bad_input(pg_server, major):
    server = pg_server(major)
    sql(server, "CREATE ROLE app; CREATE TABLE t (id int); CREATE SEQUENCE q; "
                "CREATE FUNCTION f(int) RETURNS int LANGUAGE sql AS 'SELECT 1'; "
                "CREATE FUNCTION f(text) RETURNS int LANGUAGE sql AS 'SELECT 1'")
    cases = [
        (dict(type="database", objs=["postgres"], privileges=["INSERT"]),
         "privileges: 'INSERT' is not a privilege of databases; use CREATE, CONNECT, TEMPORARY or ALL"),
        (dict(type="sequence", objs=["q"], privileges=["DELETE"]), "'DELETE' is not a privilege of sequences"),
        (dict(type="table", objs=["t"], privileges=["SELECT"], roles=["nobody"]), "roles: role 'nobody' does not exist"),
        (dict(type="table", objs=["missing"], privileges=["SELECT"]), "objs: table 'missing' does not exist in schema"),
        (dict(type="table", objs=["q"], privileges=["SELECT"]), "is a sequence, not a table; use type sequence"),
        (dict(type="table", objs=["t"], schema="nope", privileges=["SELECT"]), "schema: schema 'nope' does not exist"),
        (dict(type="database", objs=["nodb"], privileges=["CONNECT"]), "objs: database 'nodb' does not exist"),
        (dict(type="database", objs=["ALL_IN_SCHEMA"], privileges=["CONNECT"]), "ALL_IN_SCHEMA stands alone"),
        (dict(type="function", objs=["f"], privileges=["EXECUTE"]), "is ambiguous (2 functions have that name)"),
        (dict(type="function", objs=["f(bigint)"], privileges=["EXECUTE"]), "objs: function 'f(bigint)'"),
        (dict(type="default_privileges", objs=["tables"], privileges=["SELECT"], target_role="ghost"),
         "target_role: role 'ghost' does not exist"),
        (dict(type="role", objs=["ghost"]), "objs: role 'ghost' does not exist"),
        (dict(preset="readonly", type="table"), "parameters are mutually exclusive: preset|type"),
    ]
    if major < 17:
        cases.append((dict(type="table", objs=["t"], privileges=["MAINTAIN"]), "MAINTAIN needs PostgreSQL 17"))
    for args, message in cases:
        result = grant(server, **dict(dict(roles=["app"]), **args))
        assert result.failed and message in result["msg"], (args, result.get("msg"))
    assert sql(server, "SELECT relacl FROM pg_class WHERE relname IN ('t', 'q')") == [(None,), (None,)]

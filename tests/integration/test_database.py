"""Integration tests of pgdock.postgres.database on real PostgreSQL 15 and 18 containers."""

from __future__ import annotations

import psycopg2
import pytest
from psycopg2 import sql

from ansible_runner import run_module

MAJORS = [15, 18]
HOSTILE_DB = 'my "odd" db name'
HOSTILE_ROLE = "o'wner \"x\""
HOSTILE_SCHEMA = "sch ema\"; drop"


def connect(srv: dict, dbname: str = "postgres"):
    conn = psycopg2.connect(host="127.0.0.1", port=srv["port"], user=srv["superuser"], password=srv["password"],
                            dbname=dbname, connect_timeout=5)
    conn.autocommit = True
    return conn


def rows(srv: dict, statement, params=None, dbname: str = "postgres"):
    conn = connect(srv, dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def create_role(srv: dict, name: str) -> None:
    rows(srv, sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))


def database(srv: dict, **args):
    return run_module("database", dict(container=srv["name"], **args), diff=True)


@pytest.mark.parametrize("major", MAJORS)
def test_create_with_owner_encoding_locale_and_template_idempotent(pg_server, unique, major):
    srv = pg_server(major)
    create_role(srv, "app_owner")
    create_role(srv, "new_owner")
    name = unique("db")
    args = dict(name=name, owner="app_owner", encoding="utf-8", locale="en_US.UTF-8")

    planned = run_module("database", dict(container=srv["name"], **args), check=True, diff=True)
    assert planned.changed and not planned.failed, planned
    assert planned["diff"]["before"] == {} and planned["diff"]["after"]["owner"] == "app_owner"
    assert 'TEMPLATE "template0"' in planned["queries"][0]
    assert rows(srv, "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)) == [(0,)]

    created = database(srv, **args)
    assert created.changed and not created.failed, created
    assert rows(srv, "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype "
                "FROM pg_database WHERE datname = %s", (name,)) == [("app_owner", "UTF8", "en_US.UTF-8", "en_US.UTF-8")]
    again = database(srv, **args)
    assert not again.changed and again["queries"] == [], again

    owned = database(srv, **{**args, "owner": "new_owner"})
    assert owned.changed and owned["queries"] == [f'ALTER DATABASE "{name}" OWNER TO "new_owner"'], owned
    assert owned["diff"]["before"]["owner"] == "app_owner" and owned["diff"]["after"]["owner"] == "new_owner"

    # encoding and locale cannot change: a clear message, and the database is kept
    refused = database(srv, name=name, encoding="SQL_ASCII", lc_collate="C")
    assert refused.failed, refused
    assert "cannot change the encoding or locale" in refused["msg"], refused["msg"]
    assert "encoding is 'UTF8', not 'SQL_ASCII'" in refused["msg"] and "lc_collate is 'en_US.UTF-8'" in refused["msg"]
    assert rows(srv, "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)) == [(1,)]

    # a template database of our own, copied with its content
    rows(srv, "CREATE TABLE seeded (id int)", dbname=name)
    copy = database(srv, name=unique("copy"), template=name)
    assert copy.changed and not copy.failed, copy
    assert rows(srv, "SELECT count(*) FROM seeded", dbname=copy["database"]["name"]) == [(0,)]

    unknown = database(srv, name=unique("bad"), owner="nobody_here")
    assert unknown.failed and "'nobody_here' do not exist" in unknown["msg"], unknown


@pytest.mark.parametrize("major", MAJORS)
def test_hostile_names_are_created_and_usable(pg_server, major):
    srv = pg_server(major)
    create_role(srv, HOSTILE_ROLE)
    args = dict(name=HOSTILE_DB, owner=HOSTILE_ROLE, schemas=[{"name": HOSTILE_SCHEMA, "owner": HOSTILE_ROLE}],
                extensions=[{"name": "pg_trgm", "schema": HOSTILE_SCHEMA}])
    created = database(srv, **args)
    assert created.changed and not created.failed, created
    assert created["database"]["schemas"][HOSTILE_SCHEMA] == HOSTILE_ROLE
    assert created["database"]["extensions"]["pg_trgm"]["schema"] == HOSTILE_SCHEMA
    rows(srv, sql.SQL("CREATE TABLE {}.t (v text); INSERT INTO {}.t VALUES ('x')").format(
        sql.Identifier(HOSTILE_SCHEMA), sql.Identifier(HOSTILE_SCHEMA)), dbname=HOSTILE_DB)
    assert rows(srv, sql.SQL("SELECT v, {}.similarity(v, 'x') FROM {}.t").format(
        sql.Identifier(HOSTILE_SCHEMA), sql.Identifier(HOSTILE_SCHEMA)), dbname=HOSTILE_DB) == [("x", 1.0)]
    assert not database(srv, **args).changed

    dropped = database(srv, name=HOSTILE_DB, state="absent")
    assert dropped.changed and not dropped.failed, dropped
    assert rows(srv, "SELECT count(*) FROM pg_database WHERE datname = %s", (HOSTILE_DB,)) == [(0,)]
    assert not database(srv, name=HOSTILE_DB, state="absent").changed


@pytest.mark.parametrize("major", MAJORS)
def test_extensions_and_schemas(pg_server, unique, major):
    srv = pg_server(major)
    create_role(srv, "reporting")
    name = unique("ext")
    args = dict(name=name, schemas=[{"name": "reporting", "owner": "reporting"}, {"name": "audit"}],
                extensions=[{"name": "pgcrypto"}, {"name": "pg_trgm", "state": "latest"},
                            {"name": "pg_stat_statements"}, {"name": "hstore", "version": "1.4"},
                            {"name": "citext", "schema": "audit"}])
    created = database(srv, **args)
    assert created.changed and not created.failed, created
    installed = dict(rows(srv, "SELECT extname, extversion FROM pg_extension", dbname=name))
    assert {"pgcrypto", "pg_trgm", "pg_stat_statements", "hstore", "citext"} <= set(installed)
    assert installed["hstore"] == "1.4"
    assert created["database"]["extensions"]["citext"]["schema"] == "audit"
    assert created["database"]["schemas"] == {"public": "pg_database_owner", "reporting": "reporting",
                                              "audit": srv["superuser"]}
    assert not database(srv, **args).changed

    latest = rows(srv, "SELECT default_version FROM pg_available_extensions WHERE name = 'hstore'")[0][0]
    updated = database(srv, name=name, extensions=[{"name": "hstore", "state": "latest"}])
    assert updated.changed and updated["queries"] == [f"ALTER EXTENSION \"hstore\" UPDATE TO '{latest}'"], updated
    assert updated["diff"]["before"]["extensions"]["hstore"]["version"] == "1.4"
    assert rows(srv, "SELECT extversion FROM pg_extension WHERE extname = 'hstore'", dbname=name) == [(latest,)]

    removed = database(srv, name=name, extensions=[{"name": "pg_trgm", "state": "absent"},
                                                   {"name": "citext", "state": "absent"}],
                       schemas=[{"name": "audit", "state": "absent"}, {"name": "reporting", "owner": srv["superuser"]}])
    assert removed.changed and not removed.failed, removed
    assert "pg_trgm" not in removed["database"]["extensions"] and "audit" not in removed["database"]["schemas"]
    assert removed["database"]["schemas"]["reporting"] == srv["superuser"]

    missing = database(srv, name=name, extensions=[{"name": "no_such_ext"}, {"name": "hstore", "version": "9.9"}])
    assert missing.failed, missing
    assert "no_such_ext is not available on the server" in missing["msg"]
    assert "hstore has no version '9.9' (available: " in missing["msg"]

    # one transaction: a failing schema drop leaves the extension created before it undone
    blocked = database(srv, name=name, extensions=[{"name": "pg_trgm", "schema": "reporting"}],
                       schemas=[{"name": "reporting", "state": "absent"}])
    assert blocked.failed and "dropping schema 'reporting'" in blocked["msg"], blocked
    assert rows(srv, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'", dbname=name) == [(0,)]


@pytest.mark.parametrize("major", MAJORS)
def test_drop_refuses_while_connected_unless_forced(pg_server, unique, major):
    srv = pg_server(major)
    name = unique("busy")
    assert database(srv, name=name).changed
    client = connect(srv, name)
    try:
        refused = database(srv, name=name, state="absent")
        assert refused.failed and "has 1 open connection(s)" in refused["msg"], refused
        assert "force: true" in refused["msg"]
        assert rows(srv, "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)) == [(1,)]

        planned = run_module("database", dict(container=srv["name"], name=name, state="absent", force=True),
                             check=True)
        assert planned.changed and planned["queries"] == [f'DROP DATABASE "{name}" WITH (FORCE)'], planned
        forced = database(srv, name=name, state="absent", force=True)
        assert forced.changed and not forced.failed, forced
        assert forced["diff"]["after"] == {} and forced["diff"]["before"]["name"] == name
        assert rows(srv, "SELECT count(*) FROM pg_database WHERE datname = %s", (name,)) == [(0,)]
        with pytest.raises(psycopg2.Error):
            with client.cursor() as cur:
                cur.execute("SELECT 1")
    finally:
        client.close()

"""Integration tests of pgdock.postgres.query on real PostgreSQL containers."""

from __future__ import annotations

import os

import pytest

from ansible_runner import run_module
# unique: the fixture that gives the Docker objects of these tests names starting with pgdock-q-
from query_fixtures import on_server, server_sql, table_exists, unique  # noqa: F401  # pylint: disable=unused-import

HOSTILE = ["it's \"quoted\"", "with space", "$(touch /tmp/pgdock-q-pwned)", "`touch /tmp/pgdock-q-pwned`",
           "x'); DROP TABLE items; --"]


def query(srv: dict, text: str, check: bool = False, **args):
    return on_server("query", srv, check=check, query=text, **args)


@pytest.mark.parametrize("major", [15, 18])
def test_results_types_and_changed_per_kind(pg_server, major):
    srv = pg_server(major)
    created = query(srv, "CREATE TABLE items (id serial PRIMARY KEY, name text, price numeric(10,2))")
    assert created.changed and not created.failed and created["kind"] == "other", created
    inserted = query(srv, "INSERT INTO items (name, price) VALUES (%s, %s), (%s, %s)",
                     positional_args=["apple", "1.25", "pear", "2"])
    assert inserted.changed and inserted["rowcount"] == 2 and inserted["statusmessage"] == "INSERT 0 2", inserted
    assert inserted["query"] == "INSERT INTO items (name, price) VALUES (%s, %s), (%s, %s)"

    read = query(srv, "SELECT id, name, price FROM items WHERE price > %(min)s ORDER BY id", named_args={"min": 1})
    assert not read.changed and read["kind"] == "read" and read["rowcount"] == 2, read
    assert read["query_result"] == [{"id": 1, "name": "apple", "price": 1.25}, {"id": 2, "name": "pear", "price": 2}]
    assert read["statusmessage"] == "SELECT 2"
    assert not query(srv, "SELECT id FROM items WHERE price > %(min)s", named_args={"min": 1}).changed

    types = query(srv, "SELECT 12345678901234567890.123456789::numeric AS big, '2024-05-01 10:00+00'::timestamptz "
                  "AS at, '2024-05-01'::date AS day, interval '1 day 2 hours' AS span, '\\x00ff'::bytea AS raw, "
                  "int4range(1, 5) AS r, ARRAY[1, 2] AS a, '{\"k\": [1.5]}'::jsonb AS j, NULL AS nothing, "
                  "'NaN'::float8 AS nan, gen_random_uuid() IS NOT NULL AS ok, 'a;b' AS semi")
    assert not types.failed, types
    row = types["query_result"][0]
    assert row["big"] == "12345678901234567890.123456789" and row["day"] == "2024-05-01"
    assert row["at"] == "2024-05-01T10:00:00+00:00" and row["span"] == "1 day, 2:00:00"
    assert row["raw"] == "\\x00ff" and row["r"] == {"lower": 1, "upper": 5, "bounds": "[)", "empty": False}
    assert row["a"] == [1, 2] and row["j"] == {"k": [1.5]} and row["nothing"] is None
    assert row["nan"] == "NaN" and row["ok"] is True and row["semi"] == "a;b"

    for text, kind in (("SHOW server_version_num", "read"), ("VALUES (1)", "read"), ("TABLE items", "read"),
                       ("EXPLAIN SELECT * FROM items", "read"), ("EXPLAIN ANALYZE SELECT 1", "read")):
        result = query(srv, text)
        assert not result.changed and result["kind"] == kind and not result.failed, (text, result)

    nothing = query(srv, "UPDATE items SET price = 0 WHERE name = %s", positional_args=["none such"])
    assert not nothing.changed and nothing["rowcount"] == 0 and nothing["kind"] == "dml", nothing
    deleted = query(srv, "DELETE FROM items WHERE name = %s", positional_args=["pear"])
    assert deleted.changed and deleted["rowcount"] == 1, deleted
    into = query(srv, "SELECT * INTO items_copy FROM items")
    assert into.changed and into["kind"] == "other" and table_exists(srv, "items_copy"), into
    locked = query(srv, "SELECT * FROM items FOR UPDATE")
    assert locked.changed and locked["kind"] == "other", locked
    granted = query(srv, "GRANT SELECT ON items TO pg_monitor")
    assert granted.changed and not granted.failed, granted
    merged = query(srv, "MERGE INTO items t USING (VALUES ('apple')) s(name) ON t.name = s.name "
                   "WHEN MATCHED THEN UPDATE SET price = 3")
    assert merged.changed and merged["rowcount"] == 1 and merged["kind"] == "dml", merged


def test_check_mode_changes_nothing_and_autocommit(pg_server, unique):
    srv = pg_server(18)
    server_sql(srv, "CREATE TABLE t (id int); CREATE SEQUENCE s")
    planned = query(srv, "INSERT INTO t SELECT generate_series(1, 3)", check=True)
    assert planned.changed and planned["rowcount"] == 3 and not planned.failed, planned
    assert server_sql(srv, "SELECT count(*) FROM t") == [(0,)]
    ddl = query(srv, "CREATE TABLE planned (id int)", check=True)
    assert ddl.changed and not ddl.failed and not table_exists(srv, "planned"), ddl
    read = query(srv, "SELECT count(*) AS n FROM t", check=True)
    assert not read.changed and read["query_result"] == [{"n": 0}], read
    read_only = query(srv, "SHOW transaction_read_only", check=True, encoding="LATIN1")
    assert read_only["query_result"] == [{"transaction_read_only": "on"}], read_only
    encoded = query(srv, "SELECT current_setting('client_encoding') AS e, current_setting('transaction_read_only') AS ro",
                    encoding="LATIN1")
    assert encoded["query_result"] == [{"e": "LATIN1", "ro": "off"}], encoded
    writes_in_read = query(srv, "SELECT nextval('s') AS v", check=True)
    assert not writes_in_read.failed and writes_in_read["query_result"] == [{"v": 1}], writes_in_read

    dbname = unique("db")
    skipped = query(srv, f'CREATE DATABASE "{dbname}"', check=True, autocommit=True)
    assert skipped.changed and "not run in check mode" in skipped["not_run"] and not skipped.failed, skipped
    assert server_sql(srv, "SELECT count(*) FROM pg_database WHERE datname = %s", (dbname,)) == [(0,)]
    for check in (True, False):
        refused = query(srv, "VACUUM t", check=check)
        assert refused.failed and "cannot run inside a transaction block" in refused["msg"], refused
        assert "set autocommit: true" in refused["msg"]
    vacuumed = query(srv, "VACUUM (ANALYZE) t", autocommit=True)
    assert vacuumed.changed and not vacuumed.failed and vacuumed["statusmessage"] == "VACUUM", vacuumed
    made = query(srv, f'CREATE DATABASE "{dbname}"', autocommit=True)
    assert made.changed and not made.failed, made
    assert server_sql(srv, "SELECT count(*) FROM pg_database WHERE datname = %s", (dbname,)) == [(1,)]
    in_db = query(srv, "SELECT current_database() AS db", login_db=dbname)
    assert in_db["query_result"] == [{"db": dbname}], in_db


def test_bad_input_is_refused_and_nothing_changes(pg_server):
    srv = pg_server(18)
    server_sql(srv, "CREATE TABLE keep (id int)")
    cases = [
        (dict(query="SELECT 1; DROP TABLE keep"), "holds 2 statements"),
        (dict(query="SELECT 1; DROP TABLE keep"), "pgdock.postgres.script"),
        (dict(query="  -- nothing\n"), "no SQL statement given"),
        (dict(query="DROP TABLE keep WHERE %s"), "neither positional_args nor named_args"),
        (dict(query="DROP TABLE keep", positional_args=[1]), "no %s placeholder"),
        (dict(query="SELECT %s, %s", positional_args=[1]), "2 %s placeholder(s) but 1 positional_args"),
        (dict(query="SELECT %(a)s", named_args={"b": 1}), "no value for %(a)s"),
        (dict(query="SELECT %s", positional_args=[1], named_args={"a": 1}), "mutually exclusive"),
        (dict(query="COMMIT"), "COMMIT is transaction control"),
        (dict(query="DROP TABLE keep", encoding="NO-SUCH-ENC"), "encoding: 'NO-SUCH-ENC'"),
        (dict(query="SELECT * FROM missing_table"), 'relation "missing_table" does not exist'),
    ]
    for args, message in cases:
        result = on_server("query", srv, **args)
        assert result.failed and message in result["msg"], (args, result)
    assert table_exists(srv, "keep")
    quoted = query(srv, "SELECT ';' AS a, $$;$$ AS b -- ; DROP TABLE keep\n;")
    assert quoted["query_result"] == [{"a": ";", "b": ";"}] and not quoted.failed, quoted
    literal = query(srv, "SELECT 'a%' LIKE %s AS hit, 'b%%' AS pct", positional_args=["a%%"])
    assert literal.failed and "write a literal % as %%" in literal["msg"], literal
    literal = query(srv, "SELECT 'a%%' LIKE %s AS hit", positional_args=["a%"])
    assert literal["query_result"] == [{"hit": True}], literal


def test_hostile_values_and_no_password_in_output(pg_server):
    srv = pg_server(18)
    schema = 'odd "schema" $(x) `y`'
    server_sql(srv, f'CREATE SCHEMA "{schema.replace(chr(34), chr(34) * 2)}"')
    server_sql(srv, f'CREATE TABLE "{schema.replace(chr(34), chr(34) * 2)}".items (name text)')
    for value in HOSTILE:
        inserted = query(srv, "INSERT INTO items (name) VALUES (%(name)s)", named_args={"name": value},
                         search_path=[schema])
        assert inserted.changed and not inserted.failed, inserted
        assert value not in inserted["query"]
    back = query(srv, "SELECT name, quote_ident(name) AS ident FROM items ORDER BY name", search_path=[schema])
    assert sorted(r["name"] for r in back["query_result"]) == sorted(HOSTILE), back
    assert not os.path.exists("/tmp/pgdock-q-pwned")

    # the login password given as an option: neither in the result nor in a failure
    direct = dict(login_host="127.0.0.1", login_port=srv["port"], login_user=srv["superuser"],
                  login_password=srv["password"])
    ok = run_module("query", dict(direct, query="SELECT current_user AS u"))
    failed = run_module("query", dict(direct, query="SELECT %s::int", positional_args=[srv["password"]]))
    assert ok["query_result"] == [{"u": srv["superuser"]}], ok
    assert failed.failed and "invalid input syntax for type integer" in failed["msg"], failed
    # the server quotes the bad value back; the login password is masked in the message
    assert srv["password"] not in failed["msg"] and "********" in failed["msg"]
    assert srv["password"] not in ok.stdout + ok.stderr + back.stdout + back.stderr
    wrong = run_module("query", dict(direct, login_password="Wrong-" + srv["password"], query="SELECT 1"))
    assert wrong.failed and srv["password"] not in wrong.stdout + wrong.stderr, wrong

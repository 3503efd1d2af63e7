"""Integration tests of pgdock.postgres.script on real PostgreSQL containers."""

from __future__ import annotations

# unique: the fixture that gives the Docker objects of these tests names starting with pgdock-q-
from query_fixtures import on_server, server_sql, table_exists, unique  # noqa: F401  # pylint: disable=unused-import

SCHEMA_SQL = """-- the application's schema
CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.name := trim(NEW.name); -- a ; inside the body
  RETURN NEW;
END $$;
CREATE TRIGGER accounts_touch BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION touch();
/* a block comment; with a semicolon */
CREATE FUNCTION answer() RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT 41;
  SELECT 42;
END;
INSERT INTO accounts (name) VALUES ('  ada  '), ('bob;');
SELECT id, name, answer() AS answer FROM accounts ORDER BY id;
"""


def script(srv: dict, check: bool = False, **args):
    return on_server("script", srv, check=check, **args)


def test_a_file_runs_in_order_with_its_last_result(pg_server, tmp_path):
    srv = pg_server(18)
    path = tmp_path / "schema.sql"
    path.write_text(SCHEMA_SQL)
    planned = script(srv, check=True, path=str(path))
    assert not planned.changed and not planned.failed and planned["statements"] == 6, planned
    assert planned["query_result"] == [{"id": 1, "name": "ada", "answer": 42}, {"id": 2, "name": "bob;", "answer": 42}]
    assert not table_exists(srv, "accounts")

    ran = script(srv, path=str(path))
    assert ran.changed and not ran.failed and ran["statements"] == 6 and ran["statusmessage"] == "SELECT 2", ran
    assert [r["name"] for r in ran["query_result"]] == ["ada", "bob;"]
    assert server_sql(srv, "SELECT answer()") == [(42,)]

    seeded = script(srv, content="INSERT INTO accounts (name) VALUES (%s), (%s);\n"
                                 "UPDATE accounts SET name = name || '!' WHERE name = %s;",
                    positional_args=["carol", "dave", "ada"])
    assert seeded.changed and seeded["statements"] == 2 and seeded["rowcount"] == 1, seeded
    named = script(srv, content="INSERT INTO accounts (name) VALUES (%(n)s);\nSELECT count(*) AS c FROM accounts "
                                "WHERE name = %(n)s OR name LIKE 'x%%';", named_args={"n": "$(eve) `x` 'q'"})
    assert named["query_result"] == [{"c": 1}], named
    assert server_sql(srv, "SELECT count(*) FROM accounts WHERE name = %s", ("$(eve) `x` 'q'",)) == [(1,)]
    in_schema = script(srv, content="CREATE SCHEMA \"s p\";\nSET search_path TO \"s p\";\nCREATE TABLE x (i int);")
    assert in_schema.changed, in_schema
    found = script(srv, content="SELECT count(*) AS n FROM x;", search_path=["s p"])
    assert found["query_result"] == [{"n": 0}], found


def test_a_failure_midway_leaves_nothing(pg_server, tmp_path):
    srv = pg_server(18)
    server_sql(srv, "CREATE ROLE victim LOGIN")
    text = ("CREATE TABLE first_t (id int);\nINSERT INTO first_t VALUES (1);\n\n"
            "CREATE TABLE second_t (id int);\n  INSERT INTO no_such_table\n  VALUES (2);\nCREATE TABLE third_t (id int);\n")
    failed = script(srv, content=text)
    assert failed.failed, failed
    assert "statement 4 of 5, at line 5 (INSERT INTO no_such_table)" in failed["msg"], failed["msg"]
    assert 'relation "no_such_table" does not exist' in failed["msg"] and "Nothing was changed" in failed["msg"]
    assert not any(table_exists(srv, t) for t in ("first_t", "second_t", "third_t"))

    secret = "Do-not-show-" + srv["password"][-4:]
    masked = script(srv, content=f"CREATE TABLE pw_t (id int);\nALTER ROLE no_such_role PASSWORD '{secret}';")
    assert masked.failed and "(ALTER ROLE no_such_role PASSWORD ********)" in masked["msg"], masked
    assert secret not in masked["msg"] and not table_exists(srv, "pw_t")

    vacuum = script(srv, content="CREATE TABLE v_t (id int);\nVACUUM v_t;")
    assert vacuum.failed and "pgdock.postgres.query and autocommit: true" in vacuum["msg"], vacuum
    assert not table_exists(srv, "v_t")

    for content, message in (
        ("CREATE TABLE c_t (id int);\nCOMMIT;\nDROP TABLE c_t;", "line 2: COMMIT is transaction control"),
        ("CREATE TABLE c_t (id int);\nBEGIN;", "line 2: BEGIN is transaction control"),
        ("SAVEPOINT a;", "SAVEPOINT is transaction control"),
        ("-- only a comment\n", "no SQL statement in it"),
        ("CREATE TABLE c_t (id int %s);", "neither positional_args nor named_args"),
        ("CREATE TABLE c_t (id int);", "positional_args are given but the text has no %s placeholder"),
    ):
        result = script(srv, content=content, **({"positional_args": [1]} if "given but" in message else {}))
        assert result.failed and message in result["msg"], (content, result)
    both = script(srv, content="SELECT 1", path=str(tmp_path / "x.sql"))
    assert both.failed and "mutually exclusive: path|content" in both["msg"], both
    missing = script(srv, path=str(tmp_path / "none.sql"))
    assert missing.failed and "is not a file on this host" in missing["msg"], missing
    neither = script(srv)
    assert neither.failed and "one of the following is required: path, content" in neither["msg"], neither
    assert not table_exists(srv, "c_t")
    assert srv["password"] not in "".join(r.stdout + r.stderr for r in (failed, masked, vacuum, missing))


def test_check_mode_rolls_back_and_a_latin1_file(pg_server, tmp_path):
    srv = pg_server(15)
    server_sql(srv, "CREATE SEQUENCE seq")
    planned = script(srv, check=True, content="CREATE TABLE planned (id int);\nSELECT nextval('seq') AS v;")
    assert not planned.changed and not planned.failed and planned["query_result"] == [{"v": 1}], planned
    assert not table_exists(srv, "planned")
    assert server_sql(srv, "SELECT is_called FROM seq") == [(True,)]  # the sequence advanced (documented)
    path = tmp_path / "latin1.sql"
    path.write_bytes("CREATE TABLE café (nom text);\nINSERT INTO café VALUES ('crème');\n".encode("latin-1"))
    ran = script(srv, path=str(path), encoding="LATIN1")
    assert ran.changed and not ran.failed, ran
    assert server_sql(srv, "SELECT nom FROM café") == [("crème",)]
    not_utf8 = script(srv, path=str(path))
    assert not_utf8.failed and "as utf-8 text" in not_utf8["msg"], not_utf8

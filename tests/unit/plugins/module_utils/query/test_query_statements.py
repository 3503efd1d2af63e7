"""query.statements: statements split at a top-level ; as PostgreSQL's lexer reads quotes and comments."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.query.statements import code_only, split


def texts(sql: str) -> list:
    return [s.text for s in split(sql)]


@pytest.mark.parametrize("sql", [
    "SELECT 'a;b'",
    "SELECT 'it''s; here'",
    "SELECT E'\\';' AS x",
    'SELECT 1 AS "semi;colon"',
    'SELECT 1 AS "a""b;"',
    "SELECT $$;$$",
    "SELECT $tag$ $$ ; $$ $tag$",
    "SELECT /* ; /* nested ; */ still ; */ 1",
    "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END",
    "DO $body$ BEGIN RAISE NOTICE 'x;'; END $body$",
])
def test_one_statement_whatever_the_semicolons_inside(sql):
    assert texts(sql) == [sql]
    assert texts(sql + " ;") == [sql]


def test_several_statements_their_lines_and_first_lines():
    sql = "-- header\n\nCREATE TABLE t (id int);\nINSERT INTO t\n  VALUES (1);\n/* c */ SELECT 'x\n;y'; ;\n"
    found = split(sql)
    assert [s.text for s in found] == ["CREATE TABLE t (id int)", "INSERT INTO t\n  VALUES (1)", "SELECT 'x\n;y'"]
    assert [s.line for s in found] == [3, 4, 6]
    assert found[1].first_line == "INSERT INTO t"
    assert found[0].words == ["create", "table", "t", "id", "int"]


def test_atomic_body_then_the_next_statement():
    sql = ("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END;\n"
           "CALL p();")
    assert texts(sql) == [sql.split("\n", maxsplit=1)[0][:-1], "CALL p()"]


def test_comments_are_not_separators_and_not_kept_at_the_ends():
    assert texts("-- a ;\nSELECT 1 -- ; not a separator\n") == ["SELECT 1"]
    assert texts("SELECT 1 -- ; not a separator ;") == ["SELECT 1"]


@pytest.mark.parametrize("sql", ["", "   ", "-- only\n", "/* only */", ";;"])
def test_nothing_is_no_statement(sql):
    assert split(sql) == []


def test_unterminated_quotes_run_to_the_end():
    assert texts("SELECT 'open; SELECT 2") == ["SELECT 'open; SELECT 2"]
    assert texts("SELECT $$ open; SELECT 2") == ["SELECT $$ open; SELECT 2"]
    assert texts("SELECT 1 /* open; SELECT 2") == ["SELECT 1"]


def test_dollar_signs_that_are_not_quotes():
    assert texts("PREPARE q AS SELECT $1; SELECT a$b$ FROM t") == ["PREPARE q AS SELECT $1", "SELECT a$b$ FROM t"]


def test_code_only_blanks_quotes_and_comments():
    statement = split("SELECT '%s', \"%s\", $$%s$$, %s -- %s\n, 1")[0]
    code = code_only(statement)
    assert len(code) == len(statement.text)
    assert code.count("%s") == 1 and "SELECT" in code

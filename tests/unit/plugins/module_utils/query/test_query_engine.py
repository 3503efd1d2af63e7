"""query.engine: the pure parts: one statement or a refusal, a script failure's message, file codecs."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.sql import QueryError
from ansible_collections.pgdock.postgres.plugins.module_utils.query.engine import (
    NO_TRANSACTION_BLOCK, failure_message, python_codec, single_statement)
from ansible_collections.pgdock.postgres.plugins.module_utils.query.statements import split


def test_one_statement_with_its_comments_and_semicolon():
    assert single_statement("-- why\nSELECT ';' ; -- done").text == "SELECT ';'"


@pytest.mark.parametrize("text, message", [
    ("", "no SQL statement given"), ("/* */ ;", "no SQL statement given"),
    ("SELECT 1;\nSELECT 2", "holds 2 statements (the second starts at line 2: SELECT 2)"),
    ("SELECT 1; ALTER ROLE r PASSWORD 'x'", "line 1: ALTER ROLE r PASSWORD ********)"),
    ("BEGIN", "BEGIN is transaction control"),
])
def test_refusals(text, message):
    with pytest.raises(PgdockError) as caught:
        single_statement(text)
    assert message in str(caught.value)


def test_a_script_failure_names_the_statement_and_masks_a_password():
    statement = split("SELECT 1;\n\n  ALTER ROLE r PASSWORD 'hush'\n  VALID UNTIL 'infinity';")[1]
    message = failure_message(QueryError("x", 'role "r" does not exist'), statement, 2, 2)
    assert message.startswith("script: statement 2 of 2, at line 3 (ALTER ROLE r PASSWORD ********), failed: "
                              'role "r" does not exist.')
    assert "hush" not in message and "rolled back" in message
    long = split("CREATE TABLE " + "x" * 200 + " (id int)")[0]
    vacuum = failure_message(QueryError("x", "no", sqlstate=NO_TRANSACTION_BLOCK), long, 1, 1)
    assert "x" * 101 not in vacuum and "..." in vacuum and "autocommit: true" in vacuum


def test_codecs_of_postgresql_encodings():
    assert python_codec("UTF8") == python_codec("utf-8") == "utf_8"
    assert python_codec("latin1") == "iso8859_1" and python_codec("WIN1252") == "cp1252"
    assert python_codec(None) is None and python_codec("NOPE") is None

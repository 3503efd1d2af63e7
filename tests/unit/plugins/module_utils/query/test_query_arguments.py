"""query.arguments: positional_args and named_args matched to placeholders, as psycopg2 reads them."""

from __future__ import annotations

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.query.arguments import bind, placeholders
from ansible_collections.pgdock.postgres.plugins.module_utils.query.statements import split


def test_placeholders():
    assert placeholders("a %s b %(x)s %% %(y)s %s") == (2, ["x", "y"], [])
    assert placeholders("LIKE 'a%'") == (0, [], ["%'"])


def test_positional_args_are_dealt_out_in_order():
    statements = split("INSERT INTO t VALUES (%s, %s); SELECT 1; UPDATE t SET a = %s")
    assert bind(statements, [1, 2, 3], None, "script") == [(1, 2), (), (3,)]


def test_named_args_go_to_every_statement():
    statements = split("SELECT %(a)s; SELECT %(b)s, %(a)s")
    assert bind(statements, None, {"a": 1, "b": 2}, "script") == [{"a": 1, "b": 2}] * 2


def test_without_arguments_percent_is_text_outside_placeholders():
    assert bind(split("SELECT 'a%s' LIKE 'a%' -- %s"), None, None, "query") == [None]
    assert bind(split("SELECT 1"), [], {}, "query") == [None]


@pytest.mark.parametrize("sql, positional, named, message", [
    ("SELECT %s", None, None, "has placeholders (%s or %(name)s) but neither positional_args nor named_args"),
    ("SELECT 1", [1], None, "positional_args are given but the text has no %s placeholder"),
    ("SELECT 1", None, {"a": 1}, "named_args are given but the text has no %(name)s placeholder"),
    ("SELECT %s, %s", [1], None, "2 %s placeholder(s) but 1 positional_args"),
    ("SELECT %(a)s", [1], None, "positional_args fill %s placeholders, but the text has %(name)s ones (a)"),
    ("SELECT %s", None, {"a": 1}, "named_args fill %(name)s placeholders, but the text has 1 %s"),
    ("SELECT %(a)s, %(b)s", None, {"a": 1}, "named_args has no value for %(b)s"),
    ("SELECT %s WHERE x LIKE 'a%'", [1], None, "write a literal % as %%"),
])
def test_mismatches_are_refused(sql, positional, named, message):
    with pytest.raises(PgdockError) as caught:
        bind(split(sql), positional, named, "query")
    assert message in str(caught.value)

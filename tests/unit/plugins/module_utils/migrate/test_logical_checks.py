"""migrate.logical_checks: names of what the logical method makes, skip_tables names, blocking tables."""

from __future__ import annotations

import re

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.logical_checks import (
    blocking_problems,
    object_name,
    parse_table,
    slot_name,
    table_label,
    unknown_skips,
)

SLOT_RE = re.compile(r"^[a-z0-9_]{1,63}$")


@pytest.mark.parametrize("target", ["orders-db", "Orders.DB", "x" * 200, "pgdock-ml-mtgt-3fa2c1-9a0b"])
def test_object_and_slot_names_are_valid_slot_names(target):
    base = object_name(target)
    assert base.startswith("pgdock_mig_")
    assert len(base) <= 48
    assert SLOT_RE.match(slot_name(base, 4294967295))


def test_long_names_differ_by_their_hash():
    assert object_name("a" * 100 + "1") != object_name("a" * 100 + "2")
    assert object_name("orders-db") == "pgdock_mig_orders_db"


@pytest.mark.parametrize("schema, table", [
    ("public", "audit_log"), ("sales $(id) `x`", "order's items"), ("my.schema", 'Order "x"'),
    ("ünï", "t"), (" padded", "t "), ("a", "b.c"),
])
def test_labels_parse_back(schema, table):
    assert parse_table(table_label(schema, table)) == (schema, table)


def test_plain_names_are_written_as_they_are():
    assert table_label("public", "audit_log") == "public.audit_log"
    assert table_label("sales $(id)", "order's") == "sales $(id).order's"
    assert table_label("my.schema", 'x"y') == '"my.schema"."x""y"'
    assert parse_table("public.Audit Log") == ("public", "Audit Log")
    assert parse_table('"my.schema".t') == ("my.schema", "t")


@pytest.mark.parametrize("text", ["audit_log", "a.", ".b", '"open.b', '"a"x.b', "a.b.c"])
def test_bad_table_names_are_refused(text):
    if text == "a.b.c":  # the table part may hold dots: only the first one splits
        assert parse_table(text) == ("a", "b.c")
        return
    with pytest.raises(ValueError, match="schema.table|not closed"):
        parse_table(text)


def test_blocking_tables_are_listed_by_name_with_their_fix():
    tables = {"no_key": [("public", "nokey"), ("s x", "n'k")], "unlogged": [("public", "scratch")]}
    found = blocking_problems("shop", tables, set(), False, 3)
    assert len(found) == 3
    assert "public.nokey, s x.n'k" in found[0] and "replica_identity_full: true" in found[0]
    assert "skip_tables" in found[0]
    assert "unlogged" in found[1] and "public.scratch" in found[1]
    assert "3 large objects" in found[2] and "method dump" in found[2]


def test_identity_full_and_skips_accept_the_tables():
    tables = {"no_key": [("public", "nokey")], "unlogged": [("public", "scratch")]}
    assert blocking_problems("shop", tables, {("public", "scratch")}, True, 0) == []
    assert blocking_problems("shop", tables, {("public", "scratch"), ("public", "nokey")}, False, 0) == []
    assert len(blocking_problems("shop", tables, set(), True, 0)) == 1


def test_unknown_skips_are_named():
    assert unknown_skips({("public", "gone"), ("public", "t")}, {("public", "t")}) == ["public.gone"]

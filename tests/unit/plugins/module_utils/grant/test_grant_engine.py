"""Pure planning logic of the grant engine: option checks, presets, privilege names, and the
actions that bring held privileges to what is asked (idempotent by construction)."""

from __future__ import annotations

import itertools

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.grant.engine import (
    ALL_IN_SCHEMA,
    MEMBER,
    Request,
    apply_plan,
    describe,
    merge_actions,
    normalize_privileges,
    plan,
    preset_requests,
    requests_from_options,
    validate_options,
)

PG15, PG18 = 150010, 180001


def options(**over):
    base = dict(roles=["app"], state="present", preset=None, type=None, objs=None, privileges=None,
                schema=None, target_role=None, with_grant_option=None, login_db="appdb")
    base.update(over)
    return base


# ---------------------------------------------------------------- options

@pytest.mark.parametrize("over, message", [
    (dict(roles=[]), "roles: give at least one role"),
    (dict(roles=["x" * 64], type="database", objs=["d"], privileges=["CONNECT"]), "longer than 63 bytes"),
    (dict(preset="readonly", type="table"), "either a preset or type"),
    (dict(), "type: give the type"),
    (dict(type="table", privileges=["SELECT"]), "objs: give the table objects"),
    (dict(type="table", objs=["t"]), "privileges: give the privileges"),
    (dict(type="database", objs=[ALL_IN_SCHEMA], privileges=["CONNECT"]), "ALL_IN_SCHEMA stands alone"),
    (dict(type="table", objs=[ALL_IN_SCHEMA, "t"], privileges=["SELECT"]), "ALL_IN_SCHEMA stands alone"),
    (dict(type="default_privileges", objs=["views"], privileges=["SELECT"]), "'views' is not a kind"),
    (dict(type="default_privileges", objs=["schemas"], privileges=["USAGE"], schema="s"), "cannot be limited"),
    (dict(type="table", objs=["t"], privileges=["SELECT"], target_role="owner"), "target_role: only for"),
    (dict(type="role", objs=["pg_monitor"], privileges=["SELECT"]), "give no privileges"),
    (dict(type="role", objs=["pg_monitor"], with_grant_option=True), "not supported for type role"),
    (dict(type="role", objs=["pg_monitor"], roles=["public"]), "PUBLIC cannot be a member"),
])
def test_bad_options(over, message):
    with pytest.raises(PgdockError, match=message):
        validate_options(options(**over))


@pytest.mark.parametrize("over", [
    dict(preset="readonly", target_role="owner"),
    dict(roles=["PUBLIC"], type="database", objs=["d"], privileges=["CONNECT"], state="absent"),
    dict(roles=['weird"name', "x'); DROP TABLE t;--"], type="table", objs=[ALL_IN_SCHEMA], privileges=["ALL"]),
    dict(type="default_privileges", objs=["tables", "sequences"], privileges=["SELECT"], schema="s"),
    dict(type="role", objs=["pg_monitor"]),
])
def test_good_options(over):
    validate_options(options(**over))


def test_requests_default_schema_and_one_request_per_default_kind():
    assert requests_from_options(options(type="table", objs=["t"], privileges=["select"])) == [
        Request("table", ("t",), ("select",), "public")]
    assert requests_from_options(options(type="database", objs=["d"], privileges=["connect"])) == [
        Request("database", ("d",), ("connect",))]
    kinds = requests_from_options(options(type="default_privileges", objs=["tables", "sequences"],
                                          privileges=["SELECT"], target_role="o"))
    assert [(r.objs, r.schema, r.target_role, r.privilege_kind) for r in kinds] == [
        (("tables",), None, "o", "tables"), (("sequences",), None, "o", "sequences")]


# ---------------------------------------------------------------- presets

def test_readonly_preset():
    requests = preset_requests("readonly", "appdb", "public", "owner")
    assert requests == [
        Request("database", ("appdb",), ("CONNECT",)),
        Request("schema", ("public",), ("USAGE",)),
        Request("table", (ALL_IN_SCHEMA,), ("SELECT",), "public"),
        Request("default_privileges", ("tables",), ("SELECT",), "public", "owner"),
        Request("sequence", (ALL_IN_SCHEMA,), ("SELECT",), "public"),
        Request("default_privileges", ("sequences",), ("SELECT",), "public", "owner"),
    ]


def test_readwrite_preset_is_readonly_plus_writes():
    privileges = {(r.type, r.objs): r.privileges for r in preset_requests("readwrite", "d", "s", None)}
    assert privileges[("table", (ALL_IN_SCHEMA,))] == ("SELECT", "INSERT", "UPDATE", "DELETE")
    assert privileges[("default_privileges", ("tables",))] == ("SELECT", "INSERT", "UPDATE", "DELETE")
    assert privileges[("sequence", (ALL_IN_SCHEMA,))] == ("USAGE", "SELECT", "UPDATE")
    assert privileges[("database", ("d",))] == ("CONNECT",)
    assert "TRUNCATE" not in privileges[("table", (ALL_IN_SCHEMA,))]


def test_monitor_preset():
    assert preset_requests("monitor", "appdb", "public", None) == [
        Request("role", ("pg_monitor",)), Request("database", ("appdb",), ("CONNECT",))]
    assert normalize_privileges((), "role", PG18) == (MEMBER,)


def test_preset_uses_login_db_and_schema():
    requests = requests_from_options(options(preset="readonly", schema="sales", login_db="shop"))
    assert requests[0].objs == ("shop",) and requests[1].objs == ("sales",)
    assert all(r.schema == "sales" for r in requests[2:])


# ---------------------------------------------------------------- privileges

@pytest.mark.parametrize("kind, given, version, expected", [
    ("database", ["connect", "Temp"], PG18, ("CONNECT", "TEMPORARY")),
    ("database", ["ALL PRIVILEGES"], PG18, ("CREATE", "CONNECT", "TEMPORARY")),
    ("table", ["ALL"], PG15, ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")),
    ("table", ["all"], PG18, ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
                              "MAINTAIN")),
    ("table", ["delete", "select", "SELECT"], PG18, ("SELECT", "DELETE")),
    ("sequence", ["update", "usage"], PG15, ("USAGE", "UPDATE")),
    ("function", ["execute"], PG15, ("EXECUTE",)),
    ("schemas", ["all"], PG15, ("USAGE", "CREATE")),
    ("types", ["usage"], PG15, ("USAGE",)),
])
def test_normalize_privileges(kind, given, version, expected):
    assert normalize_privileges(given, kind, version) == expected


@pytest.mark.parametrize("kind, given, version, message", [
    ("table", ["CONNECT"], PG18, "'CONNECT' is not a privilege of tables; use SELECT"),
    ("database", ["SELECT"], PG18, "not a privilege of databases; use CREATE, CONNECT, TEMPORARY or ALL"),
    ("sequence", ["INSERT"], PG18, "not a privilege of sequences"),
    ("function", ["USAGE"], PG18, "not a privilege of functions"),
    ("sequences", ["DELETE"], PG18, r"not a privilege of sequences \(default privileges\)"),
    ("table", ["MAINTAIN"], PG15, "MAINTAIN needs PostgreSQL 17"),
    ("table", ["SELECT; DROP TABLE t"], PG18, "is not a privilege"),
])
def test_unknown_privileges(kind, given, version, message):
    with pytest.raises(PgdockError, match=message):
        normalize_privileges(given, kind, version)


# ---------------------------------------------------------------- planning

WANT = ("SELECT", "INSERT")


@pytest.mark.parametrize("held, state, grant_option, expected", [
    ({}, "present", None, [("grant", WANT)]),
    ({"SELECT": False}, "present", None, [("grant", ("INSERT",))]),
    ({"SELECT": True, "INSERT": False}, "present", None, []),
    ({"SELECT": True, "INSERT": False}, "present", False, [("revoke_option", ("SELECT",))]),
    ({"SELECT": True, "INSERT": False}, "present", True, [("grant_option", ("INSERT",))]),
    ({}, "present", True, [("grant_option", WANT)]),
    ({"SELECT": False, "DELETE": False}, "absent", None, [("revoke", ("SELECT",))]),
    ({"DELETE": False}, "absent", None, []),
    ({"SELECT": True, "INSERT": False}, "absent", True, [("revoke_option", ("SELECT",))]),
    ({"SELECT": False}, "absent", True, []),
])
def test_plan(held, state, grant_option, expected):
    assert plan(held, WANT, state, grant_option) == expected


@pytest.mark.parametrize("state, grant_option", list(itertools.product(("present", "absent"), (None, True, False))))
@pytest.mark.parametrize("held", [{}, {"SELECT": False}, {"SELECT": True}, {"SELECT": True, "INSERT": False},
                                  {"SELECT": True, "INSERT": True, "DELETE": False}])
def test_plan_then_apply_is_idempotent(held, state, grant_option):
    after = apply_plan(held, plan(held, WANT, state, grant_option))
    assert plan(after, WANT, state, grant_option) == []
    assert after.get("DELETE") == held.get("DELETE")  # privileges not asked for are never touched


def test_merge_actions_for_all_in_schema():
    plans = [[("grant", ("SELECT",))], [("grant", ("INSERT",)), ("revoke_option", ("SELECT",))], []]
    order = ("SELECT", "INSERT", "UPDATE")
    assert merge_actions(plans, order) == [("revoke_option", ("SELECT",)), ("grant", ("SELECT", "INSERT"))]
    assert merge_actions([[], []], order) == []


def test_describe_marks_grant_options():
    assert describe({"SELECT": True, "INSERT": False}) == ["INSERT", "SELECT*"]
    assert describe({}) == []

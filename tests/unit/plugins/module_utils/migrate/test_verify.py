"""migrate.verify: the differences between two inventories."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.verify import differences, summary


def inventory(rows=10, owner="app", extensions=("plpgsql",), estimated=False, md5=None, roles=None):
    table = {"owner": owner, "rows": rows, "estimated": estimated}
    if md5:
        table["md5"] = md5
    return {"roles": roles or {"app": [False, True, False, False, True, False, False]},
            "databases": {"shop": {"owner": "app", "encoding": "UTF8", "extensions": list(extensions),
                                   "tables": {"public.items": table}}}}


def test_identical_sides_have_no_difference():
    assert differences(inventory(), inventory(), ["shop"]) == []


def test_each_difference_is_named():
    assert differences(inventory(), inventory(rows=9), ["shop"]) == [
        "database 'shop': table public.items has 9 rows on the target, 10 on the source"]
    assert "owned by 'x'" in differences(inventory(), inventory(owner="x"), ["shop"])[0]
    assert "extension 'postgis'" in differences(inventory(extensions=("plpgsql", "postgis")), inventory(), ["shop"])[0]
    assert "role 'app' is missing" in differences(inventory(), inventory(roles={"other": []}), ["shop"])[0]
    assert "other rows" in differences(inventory(md5="a"), inventory(md5="b"), ["shop"])[0]
    missing = {"roles": inventory()["roles"], "databases": {}}
    assert differences(inventory(), missing, ["shop"]) == ["database 'shop' is missing on the target"]


def test_estimates_are_not_compared():
    assert differences(inventory(estimated=True), inventory(rows=3, estimated=True), ["shop"]) == []


def test_summary_counts_exact_rows_and_estimated_tables():
    assert summary(inventory()) == {"databases": 1, "roles": 1, "tables": 1, "rows": 10, "estimated_tables": 0}
    assert summary(inventory(estimated=True))["estimated_tables"] == 1

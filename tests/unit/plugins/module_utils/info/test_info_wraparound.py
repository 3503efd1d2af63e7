"""Unit tests of the wraparound summary: shares of the freeze ages and of the hard limit, the
closest database, warnings."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.info.wraparound import hard_limit, wraparound_summary

LIMIT = 2 ** 31 - 3_000_000


def row(name, xid_age, mxid_age=1, allows=True):
    return dict(name=name, allows_connections=allows, xid_age=xid_age, mxid_age=mxid_age,
                freeze_max_age=200_000_000, multixact_freeze_max_age=400_000_000)


def test_hard_limit_by_version():
    assert hard_limit(180001) == hard_limit(140000) == LIMIT == 2_144_483_648
    assert hard_limit(130012) == 2 ** 31 - 1_000_000


def test_percentages_and_closest():
    summary = wraparound_summary([row("postgres", 100_000_000), row("app", 50_000_000, 200_000_000),
                                  row("template0", 10, allows=False)], LIMIT)
    app = summary["databases"]["app"]
    assert app["xid_percent_of_freeze_max_age"] == 25.0 and app["mxid_percent_of_freeze_max_age"] == 50.0
    assert app["xid_percent_of_hard_limit"] == round(100 * 50_000_000 / LIMIT, 2)
    assert summary["databases"]["template0"]["allows_connections"] is False
    # app's multixact age is the larger share of all
    assert summary["closest"] == {"database": "app", "percent_of_hard_limit": round(100 * 200_000_000 / LIMIT, 2),
                                  "xid_age": 50_000_000, "mxid_age": 200_000_000}
    assert summary["hard_limit"] == LIMIT and summary["autovacuum_freeze_max_age"] == 200_000_000
    assert summary["autovacuum_multixact_freeze_max_age"] == 400_000_000
    assert summary["warnings"] == []


def test_warning_above_half_of_the_hard_limit():
    summary = wraparound_summary([row("busy", LIMIT // 2 + 1_000_000), row("calm", LIMIT // 2 - 1_000_000)], LIMIT)
    assert len(summary["warnings"]) == 1
    assert summary["warnings"][0].startswith("database 'busy' is at 50.05% of the transaction ID wraparound limit")
    assert "VACUUM (FREEZE)" in summary["warnings"][0]
    assert summary["closest"]["database"] == "busy"


def test_other_threshold_and_no_databases():
    assert len(wraparound_summary([row("x", LIMIT // 10)], LIMIT, warn_percent=5)["warnings"]) == 1
    empty = wraparound_summary([], LIMIT)
    assert empty["databases"] == {} and empty["closest"] is None and empty["warnings"] == []

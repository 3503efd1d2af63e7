"""migrate.reverse: the reverse subscription's options, where the source reaches the target, the
names of the reverse objects, and the refusals that change nothing."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.logical_checks import object_name, slot_name
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.reverse import (
    ReverseReplication,
    reverse_endpoint,
    shared_networks,
    subscription_options,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog

SLOT_RE = re.compile(r"^[a-z0-9_]{1,63}$")


def reverse_for(state: dict | None, check_mode: bool = False, **params) -> ReverseReplication:
    """A ReverseReplication over a run that only knows its state, name and options."""
    p = dict(dict(reverse_replication=True, source={"login_host": "db1"}, replication_user="pgdock_migrate",
                  pooler=None), **params)
    run = SimpleNamespace(name="orders-db", p=p, check_mode=check_mode, log=ActionLog(check_mode), pooler=None,
                          state=lambda: state, save_state=lambda **kw: pytest.fail(f"state saved: {kw}"))
    return ReverseReplication(SimpleNamespace(run=run, p=p, name=object_name("orders-db")))


def test_origin_none_from_16_on_only():
    assert "origin" not in subscription_options(150007)
    assert subscription_options(160000).endswith(", origin = none")
    for version in (150007, 180001):
        assert "create_slot = false" in subscription_options(version)
        assert "copy_data = false" in subscription_options(version)


def test_the_source_reaches_the_target_by_name_unless_told():
    assert reverse_endpoint(None, 5432, "orders-db-18") == ("orders-db-18", 5432)
    assert reverse_endpoint("10.0.0.7", 6432, "orders-db-18") == ("10.0.0.7", 6432)


def test_shared_networks():
    container = SimpleNamespace(attrs={"NetworkSettings": {"Networks": {"app": {}, "bridge": {}}}})
    assert shared_networks(container, ["app", "other"]) == ["app"]
    assert shared_networks(container, ["other"]) == []
    assert shared_networks(SimpleNamespace(attrs={}), ["app"]) == []


@pytest.mark.parametrize("target", ["orders-db", "x" * 200])
def test_reverse_slot_names_are_valid(target):
    reverse = reverse_for(None)
    reverse.name = f"{object_name(target)}_r"
    assert SLOT_RE.match(slot_name(reverse.name, 4294967295))
    assert slot_name(reverse.name, 1) != slot_name(object_name(target), 1)


def test_not_asked_no_problem():
    assert reverse_for(None, reverse_replication=False).problems() == []


def test_a_source_without_container_is_refused_with_what_to_give():
    [problem] = reverse_for(None).problems()
    assert "source.container" in problem and "without reverse_replication" in problem


@pytest.mark.parametrize("state, words", [
    (None, "not cut over"),
    ({"phase": "subscribed"}, "not cut over"),
    ({"phase": "cut_over"}, "without reverse_replication"),
    ({"phase": "cut_over", "reverse": {"slots": {"app": "s"}, "subscribed": False}}, "without reverse_replication"),
])
def test_revert_is_refused_when_nothing_replicated_back(state, words):
    with pytest.raises(PgdockError, match=words):
        reverse_for(state).revert(sessions=None)


def test_revert_again_changes_nothing():
    reverse = reverse_for({"phase": "reverted", "revert_downtime_seconds": 0.8})
    result = reverse.revert(sessions=None)
    assert result["state"] == "reverted" and result["write_downtime_seconds"] == 0.8
    assert reverse.run.log.actions == []


def test_revert_in_check_mode_reports_the_plan_only():
    state = {"phase": "cut_over", "reverse": {"slots": {"app": "s"}, "subscribed": True, "databases": ["app"]}}
    reverse = reverse_for(state, check_mode=True)
    assert reverse.revert(sessions=None) == {"state": "planned"}
    plan = " | ".join(reverse.run.log.actions)
    assert "make the target read-only" in plan and "set every sequence on the source" in plan, plan
    assert "drop subscription" in plan


def test_finalize_without_reverse_changes_nothing_and_needs_a_cutover():
    reverse = reverse_for({"phase": "cut_over"})
    assert reverse.finalize() == {"state": "finalized"} and reverse.run.log.actions == []
    with pytest.raises(PgdockError, match="not cut over"):
        reverse_for({"phase": "reverted"}).finalize()


def test_synced_or_cutover_after_a_revert_is_refused():
    with pytest.raises(PgdockError, match="state aborted"):
        reverse_for(None).refuse_when_reverted({"phase": "reverted"})
    reverse_for(None).refuse_when_reverted({"phase": "cut_over"})

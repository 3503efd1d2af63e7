"""Unit tests of the retention policy on a synthetic 90-day calendar of backups."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.retention import (
    plan_retention,
    RetentionPolicy,
    wal_to_prune,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import int_to_lsn, wal_file_position

NOW = datetime(2025, 6, 1, 3, 30, tzinfo=timezone.utc)
SEG = 16 * 1024 * 1024


def calendar(days: int = 90) -> list[dict]:
    """Weekly full on Sundays, daily incremental on the others (chained), logical every 6 hours."""
    labels, parent, lsn = [], None, SEG
    for day in range(days, 0, -1):
        moment = (NOW - timedelta(days=day)).replace(hour=1, minute=0)
        lsn += 3 * SEG
        if moment.weekday() == 6:
            kind, parent_id = "full", None
        else:
            kind, parent_id = ("incremental", parent) if parent else ("full", None)
        ident = f"{moment:%Y%m%d}-{kind[0].upper()}"
        labels.append(dict(id=ident, kind=kind, parent=parent_id, stop_time=moment.isoformat(),
                           start_lsn=int_to_lsn(lsn), stop_lsn=int_to_lsn(lsn + 100)))
        parent = ident
        for hour in (6, 12, 18):
            at = moment.replace(hour=hour)
            labels.append(dict(id=f"{at:%Y%m%d-%H}L", kind="logical", parent=None, stop_time=at.isoformat()))
    return labels


def age(label: dict) -> timedelta:
    return NOW - datetime.fromisoformat(label["stop_time"])


def test_tiers_of_the_default_policy():
    labels = calendar()
    plan = plan_retention(labels, NOW)
    kept = {lab["id"]: lab for lab in labels if lab["id"] in plan["keep"]}
    assert set(plan["keep"]) | set(plan["delete"]) == {lab["id"] for lab in labels}
    for lab in labels:
        if age(lab) <= timedelta(days=14):
            assert lab["id"] in kept, lab
    for lab in kept.values():
        if age(lab) > timedelta(days=14):
            assert lab["kind"] != "logical", lab
    old = [lab for lab in kept.values() if age(lab) > timedelta(days=42)]
    assert old and all(lab["kind"] == "full" for lab in old)
    fulls = [lab for lab in labels if lab["kind"] == "full"]
    assert all(lab["id"] in kept for lab in fulls)
    assert any(lab["kind"] == "incremental" and timedelta(days=14) < age(lab) <= timedelta(days=42)
               for lab in kept.values())


def test_every_kept_incremental_has_its_whole_chain():
    labels = calendar()
    by_id = {lab["id"]: lab for lab in labels}
    plan = plan_retention(labels, NOW, RetentionPolicy(keep_bases_days=20))
    for backup_id in plan["keep"]:
        parent = by_id[backup_id]["parent"]
        while parent:
            assert parent in plan["keep"], (backup_id, parent)
            parent = by_id[parent]["parent"]


def test_long_chain_keeps_old_incrementals_it_needs():
    """A chain started 60 days ago without a new full: its old incrementals stay."""
    labels, parent = [], None
    for day in range(60, 0, -1):
        kind = "full" if parent is None else "incremental"
        ident = f"d{day:02d}"
        labels.append(dict(id=ident, kind=kind, parent=parent,
                           stop_time=(NOW - timedelta(days=day)).isoformat(), start_lsn=int_to_lsn(day * SEG)))
        parent = ident
    plan = plan_retention(labels, NOW)
    assert plan["delete"] == []
    assert plan["reasons"]["d59"].startswith("in the chain of")


def test_at_least_two_fulls_and_max_days():
    labels = calendar()
    plan = plan_retention(labels, NOW, RetentionPolicy(keep_all_days=0, keep_bases_days=0, max_days=1,
                                                       min_fulls=2, pitr_days=0))
    kept_fulls = [i for i in plan["keep"] if i.endswith("-F")]
    assert len(kept_fulls) == 2
    newest = sorted(lab["id"] for lab in labels if lab["kind"] == "full")[-2:]
    assert sorted(kept_fulls) == newest


def test_pitr_window_keeps_its_base():
    labels = calendar()
    policy = RetentionPolicy(keep_all_days=3, keep_bases_days=3, pitr_days=10)
    plan = plan_retention(labels, NOW, policy)
    window_start = NOW - timedelta(days=10)
    physical = [lab for lab in labels if lab["kind"] != "logical"
                and datetime.fromisoformat(lab["stop_time"]) <= window_start]
    base = max(physical, key=lambda lab: lab["stop_time"])
    assert base["id"] in plan["keep"] and plan["reasons"][base["id"]] == "base of the point-in-time window"


def test_wal_older_than_the_oldest_kept_base_is_pruned():
    labels = calendar()
    plan = plan_retention(labels, NOW)
    kept = [lab for lab in labels if lab["id"] in plan["keep"]]
    oldest = min(int(lab["start_lsn"].split("/")[0], 16) << 32 | int(lab["start_lsn"].split("/")[1], 16)
                 for lab in kept if lab["kind"] != "logical") // SEG
    names = [f"00000001{seg >> 8:08X}{seg & 0xFF:08X}" for seg in range(oldest + 50)] + ["00000002.history"]
    pruned = wal_to_prune(names, kept)
    assert len(pruned) == oldest
    assert all(wal_file_position(n) < oldest for n in pruned)
    assert "00000002.history" not in pruned
    assert wal_to_prune(names, []) == []


def test_wal_file_position():
    assert wal_file_position("000000010000000200000003") == 2 * 256 + 3
    assert wal_file_position("000000010000000200000003.partial") == 2 * 256 + 3
    assert wal_file_position("00000002.history") is None

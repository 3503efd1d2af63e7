"""Unit tests of the slots summary: inactive slots, the WAL they retain, warnings."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.info.slots import human_bytes, slot_summary


def slot(name, active, retained, slot_type="physical", wal_status="reserved"):
    return dict(slot_name=name, slot_type=slot_type, active=active, retained_bytes=retained, wal_status=wal_status)


def test_inactive_slots_their_total_and_one_warning_each():
    summary = slot_summary([slot("standby1", True, 100), slot("old", False, 48 * 1024 * 1024),
                            slot("cdc", False, 2048, "logical")])
    assert summary["inactive"] == ["old", "cdc"]
    assert summary["inactive_retained_bytes"] == 48 * 1024 * 1024 + 2048
    assert len(summary["warnings"]) == 2
    assert "'old' (physical) is inactive and retains 48.0 MiB of WAL" in summary["warnings"][0]
    assert "'cdc' (logical) is inactive and retains 2.0 KiB" in summary["warnings"][1]
    assert "pg_drop_replication_slot" in summary["warnings"][0]


def test_active_slots_warn_of_nothing():
    assert slot_summary([slot("a", True, 10)]) == {"inactive": [], "inactive_retained_bytes": 0, "warnings": []}
    assert slot_summary([]) == {"inactive": [], "inactive_retained_bytes": 0, "warnings": []}


def test_a_slot_without_restart_lsn_counts_as_nothing_retained():
    summary = slot_summary([slot("fresh", False, None)])
    assert summary["inactive_retained_bytes"] == 0
    assert "retains an unknown amount of WAL" in summary["warnings"][0]


def test_lost_wal_warns_even_when_active():
    summary = slot_summary([slot("gone", True, None, wal_status="lost")])
    assert summary["inactive"] == [] and len(summary["warnings"]) == 1
    assert "'gone' has lost WAL it needs (wal_status lost)" in summary["warnings"][0]


def test_human_bytes():
    assert human_bytes(0) == "0 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(16 * 1024 ** 2) == "16.0 MiB"
    assert human_bytes(3 * 1024 ** 5) == "3072.0 TiB"
    assert human_bytes(None) == "an unknown amount"

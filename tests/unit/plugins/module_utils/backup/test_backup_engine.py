"""backup.engine: which WAL records count as a change of data (pg_waldump --stats=record)."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.engine import stats_show_changes

HEADER = """WAL statistics between 0/3000028 and 0/3000150:
Type                                           N      (%)          Record size      (%)             FPI size      (%)        Combined size      (%)
----                                           -      ---          -----------      ---             --------      ---        -------------      ---
"""


def stats(*rows: tuple[str, int]) -> str:
    return HEADER + "".join(f"{kind:<40} {count:>8} (100.00) {count * 50:>20} (100.00)\n" for kind, count in rows)


def test_checkpoints_switches_and_hint_bits_are_no_change():
    assert not stats_show_changes(stats(("XLOG/CHECKPOINT_ONLINE", 1), ("XLOG/SWITCH", 1), ("Standby/RUNNING_XACTS", 2),
                                        ("Heap2/PRUNE_ON_ACCESS", 3), ("Transaction/COMMIT", 1)))


def test_an_insert_is_a_change_and_a_zero_count_is_not():
    assert stats_show_changes(stats(("XLOG/SWITCH", 1), ("Heap/INSERT", 1), ("Btree/INSERT_LEAF", 2))) == [
        "Heap/INSERT: 1", "Btree/INSERT_LEAF: 2"]
    assert not stats_show_changes(stats(("Heap/INSERT", 0)))
    assert not stats_show_changes(HEADER + "Total                                  3 [100.00%]\n")

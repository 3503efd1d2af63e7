"""backup.wal_continuity: which archived segments a backup needs to replay to the newest one, across
timeline switches, and how gaps are reported."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.wal_continuity import Archive, parse_history, runs


def seg(tli: int, number: int, suffix: str = "") -> str:
    return f"{tli:08X}{0:08X}{number:08X}{suffix}"


def archive(names, histories=None) -> Archive:
    histories = histories or {}
    return Archive.from_files(list(names) + list(histories), histories.__getitem__)


def test_history_files_are_parsed_oldest_first():
    text = "1\t0/5000000\tno recovery target specified\n\n# comment\n2\t0/7000A0\tbefore 2025-01-01\n"
    assert parse_history(text) == [(1, 0x5000000), (2, 0x7000A0)]


def test_a_continuous_archive_has_no_gap_and_counts_what_it_checked():
    wal = archive([seg(1, n) for n in range(2, 9)] + ["README", seg(1, 9) + ".tmp", seg(1, 3) + ".00000028.backup"])
    problems, summary = wal.gaps(1, "0/3000100")
    assert problems == [] and summary == {"checked": True, "from": seg(1, 3), "to": seg(1, 8), "segments": 6}
    assert wal.newest == (1, 8)


def test_a_removed_segment_is_a_gap_named_by_its_first_segment():
    wal = archive([seg(1, n) for n in (3, 4, 7, 9, 10)])
    problems, _summary = wal.gaps(1, "0/3000100")
    assert [p["file"] for p in problems] == [f"wal/{seg(1, 5)}", f"wal/{seg(1, 8)}"]
    assert f"{seg(1, 5)} to {seg(1, 6)} (2 segments) missing" in problems[0]["problem"]
    assert f"WAL gap: {seg(1, 8)} missing" in problems[1]["problem"]
    assert archive([seg(1, n) for n in (3, 4, 7)]).gaps(1, "0/7000000")[0] == []  # after the gap: whole


def test_a_backup_newer_than_the_archive_or_no_archive_needs_nothing():
    assert archive([seg(1, 2)]).gaps(1, "0/5000000") == ([], {
        "checked": False, "from": seg(1, 5), "to": seg(1, 2),
        "why": "the newest archived segment is older than the backup"})
    assert archive([]).gaps(1, "0/5000000") == ([], {"checked": False, "why": "no archived WAL"})


def test_after_a_switchover_the_new_timeline_takes_over_from_the_switch_segment():
    # timeline 1 left for 2 in segment 6: tl1 up to 5, tl2 from 6 (tl1's 6 is only a .partial)
    names = [seg(1, n) for n in range(3, 6)] + [seg(1, 6, ".partial")] + [seg(2, n) for n in range(6, 9)]
    wal = archive(names, {"00000002.history": "1\t0/60000A0\tno recovery target specified\n"})
    problems, summary = wal.gaps(1, "0/3000100")
    assert problems == [] and summary["segments"] == 6 and summary["to"] == seg(2, 8)
    assert wal.gaps(2, "0/7000100")[0] == []
    # tl2's own copy of the switch segment is needed, tl1's .partial is not
    missing = archive([n for n in names if n != seg(2, 6)], {"00000002.history": "1\t0/60000A0\tx\n"})
    problems, _summary = missing.gaps(1, "0/3000100")
    assert [p["file"] for p in problems] == [f"wal/{seg(2, 6)}"]


def test_a_switch_on_a_segment_boundary_starts_the_new_timeline_there():
    names = [seg(1, n) for n in range(3, 6)] + [seg(2, n) for n in range(6, 8)]
    wal = archive(names, {"00000002.history": "1\t0/6000000\tx\n"})
    assert wal.gaps(1, "0/3000100")[0] == []


def test_a_missing_history_file_or_a_foreign_timeline_is_reported():
    names = [seg(1, 3), seg(3, 7)]
    problems, _summary = archive(names).gaps(1, "0/3000100")
    assert problems[0]["file"] == "wal/00000003.history" and "history of timeline 3" in problems[0]["problem"]
    # timeline 3 branched from 1, so a backup of timeline 2 cannot reach it
    wal = archive(names, {"00000003.history": "1\t0/6000000\tx\n"})
    problems, _summary = wal.gaps(2, "0/5000000")
    assert "timeline 2 is not in the history of timeline 3" in problems[0]["problem"]
    # a backup of timeline 1 that ends after timeline 1 was left
    problems, _summary = wal.gaps(1, "0/6800000")
    assert "after timeline 1 was left" in problems[0]["problem"]


def test_runs_group_consecutive_segments_of_one_timeline():
    assert runs([(1, 5), (1, 6), (1, 8), (2, 9), (2, 10)]) == [[(1, 5), (1, 6)], [(1, 8)], [(2, 9), (2, 10)]]
    assert runs([]) == []

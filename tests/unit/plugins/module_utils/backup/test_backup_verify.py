"""backup.verify without Docker (no pg_verifybackup: a client of None skips it): sums, chains and WAL
gaps flagged by backup id and file, the record of problems kept only while something is wrong, and
the catalogue that `list` shows with it."""

from __future__ import annotations

import os

import pytest

from backup_fixtures import add_backup
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import PROBLEMS_FILE, Repository
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.verify import (
    Verification,
    failure,
    flagged,
    problem_lines,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog


@pytest.fixture
def repo(tmp_path):
    repository = Repository(str(tmp_path / "repo"))
    repository.ensure_layout()
    add_backup(repository, "F1", "2025-01-01T01:00:00+00:00", timeline=1, start_lsn="0/2000028",
               stop_lsn="0/2000100", image="postgres:17", major=17)
    add_backup(repository, "I1", "2025-01-02T01:00:00+00:00", "incremental", "F1", timeline=1,
               start_lsn="0/4000028", stop_lsn="0/4000100", image="postgres:17", major=17)
    add_backup(repository, "L1", "2025-01-03T01:00:00+00:00", "logical")
    for number in range(2, 8):
        open(os.path.join(repository.wal_dir, f"0000000100000000000000{number:02X}"), "wb").close()
    return repository


def verify(repo, check_mode=False):
    warnings: list = []
    log = ActionLog(check_mode)
    return Verification(repo, None, log, warnings.append).run(), log, warnings


def test_a_clean_repository_is_ok_and_nothing_is_recorded(repo):
    result, log, warnings = verify(repo)
    assert result["ok"] and not log.changed and not os.path.exists(os.path.join(repo.root, PROBLEMS_FILE))
    assert result["verified"]["F1"]["checks"]["wal"] == {
        "checked": True, "from": "000000010000000000000002", "to": "000000010000000000000007", "segments": 6}
    assert result["verified"]["L1"]["checks"] == {"sha256": "ok"}
    assert result["wal"] == {"newest": "000000010000000000000007", "segments": 6, "timelines": [1]}
    assert "skipped: image 'postgres:17'" in result["verified"]["F1"]["checks"]["pg_verifybackup"]
    assert len(warnings) == 2  # one per physical backup


def test_corruption_gaps_and_broken_chains_are_flagged_by_id_and_file(repo):
    with open(os.path.join(repo.backup_dir("full", "F1"), "base.tar.gz"), "ab") as handle:
        handle.write(b"x")
    os.unlink(os.path.join(repo.wal_dir, "000000010000000000000005"))
    add_backup(repo, "I2", "2025-01-04T01:00:00+00:00", "incremental", "gone", timeline=1,
               start_lsn="0/6000028", stop_lsn="0/6000100")
    result, log, _warnings = verify(repo)
    assert not result["ok"] and log.changed
    f1 = result["verified"]["F1"]
    assert {"file": "full/F1/base.tar.gz", "problem": "sha256 mismatch (corrupt)"} in f1["problems"]
    assert f1["checks"]["pg_verifybackup"] == "skipped: the files do not match their sums"
    gap = "WAL gap: 000000010000000000000005 missing from the archive"
    assert [p["file"] for p in f1["problems"]] == ["full/F1/base.tar.gz", "wal/000000010000000000000005"]
    assert gap in f1["problems"][1]["problem"]
    assert [p["file"] for p in result["verified"]["I1"]["problems"]] == ["wal/000000010000000000000005"]
    assert "chain is broken" in result["verified"]["I2"]["problems"][0]["problem"]
    assert result["verified"]["L1"]["ok"]
    lines = problem_lines(result["verified"])
    assert lines[0] == "F1: full/F1/base.tar.gz: sha256 mismatch (corrupt)" and len(lines) == 4
    error = failure(result)
    assert str(error).startswith("verify: 4 problem(s) in 3 backup(s): F1: full/F1/base.tar.gz") and error.details["ok"] is False

    # the record: what list shows; rewritten only when the findings change, removed once all is well
    record = repo.problems_record()
    assert sorted(record["backups"]) == ["F1", "I1", "I2"]
    listed = {label["id"]: label["verified"] for label in flagged(repo.catalogue(), record)}
    assert listed["L1"] is None and listed["F1"]["ok"] is False and listed["F1"]["problems"] == f1["problems"]
    _again, log, _warnings = verify(repo)
    assert not log.changed
    repo.remove_backup(repo.find("I2"))
    repo.remove_backup(repo.find("F1"))
    repo.remove_backup(repo.find("I1"))
    result, log, _warnings = verify(repo)
    assert result["ok"] and log.changed and not os.path.exists(os.path.join(repo.root, PROBLEMS_FILE))


def test_check_mode_records_nothing(repo):
    os.unlink(os.path.join(repo.wal_dir, "000000010000000000000003"))
    result, log, _warnings = verify(repo, check_mode=True)
    assert not result["ok"] and log.changed and repo.problems_record() == {}

"""Unit tests of the backup repository: ids, LSNs, sums, labels, catalogue and chains."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import pytest

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.engine import stats_show_changes
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import (
    check_backup,
    manifest_wal_range,
    new_backup_id,
    Repository,
    verify_sums,
    write_label,
    write_sums,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import int_to_lsn, lsn_to_int, parse_time


def make_backup(repo: Repository, kind: str, backup_id: str, parent=None, stop="2025-01-01T00:00:00+00:00",
                labelled=True) -> str:
    directory = repo.backup_dir(kind, backup_id)
    os.makedirs(directory)
    with open(os.path.join(directory, "base.tar.gz"), "wb") as handle:
        handle.write(b"data of " + backup_id.encode())
    write_sums(directory)
    if labelled:
        write_label(directory, dict(kind=kind, id=backup_id, parent=parent, stop_time=stop))
    return directory


def test_lsn_round_trip_and_ids():
    assert lsn_to_int("16/B374D848") == 0x16B374D848
    assert int_to_lsn(0x16B374D848) == "16/B374D848"
    assert lsn_to_int(None) is None
    moment = datetime(2025, 1, 31, 12, 0, 0, 123456, tzinfo=timezone.utc)
    assert new_backup_id("full", moment) == "20250131-120000-123F"
    assert new_backup_id("logical", moment).endswith("L")


def test_parse_time():
    assert parse_time("2025-01-31T12:00:00Z") == datetime(2025, 1, 31, 12, tzinfo=timezone.utc)
    assert parse_time("2025-01-31 12:00:00").tzinfo is not None
    with pytest.raises(PgdockError, match="ISO 8601"):
        parse_time("yesterday")


def test_repository_must_be_absolute():
    with pytest.raises(PgdockError, match="absolute"):
        Repository("backups")


def test_only_labelled_backups_are_catalogued(tmp_path):
    repo = Repository(str(tmp_path))
    assert repo.ensure_layout()
    assert not repo.ensure_layout()
    make_backup(repo, "full", "A", stop="2025-01-01T00:00:00+00:00")
    make_backup(repo, "incremental", "B", parent="A", stop="2025-01-02T00:00:00+00:00")
    make_backup(repo, "full", "C", labelled=False)
    assert [lab["id"] for lab in repo.catalogue()] == ["A", "B"]
    assert repo.incomplete() == ["full/C"]
    assert [lab["id"] for lab in repo.chain("B")] == ["A", "B"]
    assert repo.latest()["id"] == "B"
    assert repo.latest(before=parse_time("2025-01-01T12:00:00Z"))["id"] == "A"
    assert json.loads((tmp_path / "full" / "A" / "label.json").read_text())["format"] == 1


def test_broken_chain_is_refused(tmp_path):
    repo = Repository(str(tmp_path))
    make_backup(repo, "incremental", "B", parent="gone")
    with pytest.raises(PgdockError, match="chain is broken"):
        repo.chain("B")


def test_sums_name_the_bad_file(tmp_path):
    repo = Repository(str(tmp_path))
    directory = make_backup(repo, "full", "A")
    assert verify_sums(directory) == []
    target = tmp_path / "full" / "A" / "base.tar.gz"
    data = bytearray(target.read_bytes())
    data[0] ^= 1
    target.write_bytes(bytes(data))
    (tmp_path / "full" / "A" / "extra").write_text("x")
    problems = verify_sums(directory)
    assert problems == [f"{target}: sha256 mismatch (corrupt)", f"{directory}/extra: not listed in SHA256SUMS"]
    with pytest.raises(PgdockError, match="base.tar.gz"):
        check_backup(repo, repo.find("A"))


def test_removed_backup_leaves_the_catalogue_first(tmp_path):
    repo = Repository(str(tmp_path))
    make_backup(repo, "full", "A")
    repo.remove_backup(repo.find("A"))
    assert repo.catalogue() == [] and not (tmp_path / "full" / "A").exists()
    with pytest.raises(PgdockError, match="not in the catalogue"):
        repo.find("A")


def test_manifest_wal_range():
    manifest = json.dumps({"WAL-Ranges": [{"Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000120"}]})
    assert manifest_wal_range(manifest) == {"timeline": 1, "start_lsn": "0/2000028", "stop_lsn": "0/2000120"}
    with pytest.raises(PgdockError):
        manifest_wal_range("{}")


STATS = """WAL statistics between 0/5000028 and 0/503FEA0:
Type                                           N      (%)          Record size      (%)
----                                           -      ---          -----------      ---
Transaction/COMMIT                            11 (  2.13)                 3186 (  3.27)
Standby/RUNNING_XACTS                          2 (  0.39)                  100 (  0.10)
Heap2/PRUNE_ON_ACCESS                          6 (  1.16)                  452 (  0.46)
XLOG/FPI_FOR_HINT                              3 (  0.50)                  100 (  0.10)
Heap/INSERT                                    {inserts} (  0.97)                 5124 (  5.25)
                                        --------                      --------
Total                                        516                         97566 [37.55%]
"""


def test_change_detection_ignores_maintenance_records():
    assert stats_show_changes(STATS.format(inserts=5))
    assert not stats_show_changes(STATS.format(inserts=0))
    assert not stats_show_changes("")

"""Unit tests of the restore's recovery targets without Docker: WAL positions, which backup a
target picks, and the checks made before anything is created."""

from __future__ import annotations

import pytest

from backup_fixtures import add_backup as add_catalogued
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import Repository
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import parse_lsn
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.engine import RestoreEngine
from ansible_collections.pgdock.postgres.plugins.module_utils.restore.volume import default_target

SEGMENT = 16 * 1024 * 1024


def add_backup(repo: Repository, backup_id: str, stop_time: str, stop_lsn: str, kind: str = "full",
               parent=None) -> None:
    add_catalogued(repo, backup_id, stop_time, kind, parent, start_lsn=stop_lsn, stop_lsn=stop_lsn)


@pytest.fixture
def repo(tmp_path):
    repository = Repository(str(tmp_path))
    repository.ensure_layout()
    add_backup(repository, "F1", "2025-01-01T01:00:00+00:00", "0/2000100")
    add_backup(repository, "I1", "2025-01-02T01:00:00+00:00", "0/5000100", "incremental", "F1")
    add_backup(repository, "F2", "2025-01-03T01:00:00+00:00", "1/0000100")
    for name in ("000000010000000000000002", "000000010000000000000003", "000000010000000000000004",
                 "000000010000000000000005", "000000010000000000000006.partial", "00000002.history"):
        (tmp_path / "wal" / name).write_bytes(b"")
    return repository


def engine(repo: Repository, **params) -> RestoreEngine:
    args = dict(repository=repo.root, backup=None, kind="physical", target="latest", target_time=None,
                target_lsn=None, list_databases=False)
    args.update(params)
    return RestoreEngine(args, False, print)


@pytest.mark.parametrize(("text", "value"), [
    ("0/3000148", 0x3000148), ("16/B374D848", 0x16B374D848), ("ffffffff/FFFFFFFF", 2 ** 64 - 1),
    (" 0/0 ", 0),
])
def test_wal_positions(text, value):
    assert parse_lsn(text) == value


@pytest.mark.parametrize("text", ["", " ", "12345", "0/", "/1", "0/XYZ", "1/2/3", "123456789/0", "0x16/B374D848",
                                  "0 / 1", "-1/0", None, 5])
def test_malformed_wal_positions_name_the_option_and_the_form(text):
    with pytest.raises(PgdockError, match=r"^target_lsn: .* is not a WAL position; .*\(e\.g\. 0/3000148\)"):
        parse_lsn(text)


def test_bad_target_is_refused_when_the_engine_is_made(repo):
    with pytest.raises(PgdockError, match="^target_lsn: '0/12/3' is not a WAL position"):
        engine(repo, target_lsn="0/12/3")


def test_target_lsn_picks_the_newest_backup_that_ends_before_it(repo):
    assert engine(repo, target_lsn="0/5000100")._chosen_backup()["id"] == "I1"
    assert engine(repo, target_lsn="0/50000FF")._chosen_backup()["id"] == "F1"
    assert engine(repo, target_lsn="1/0")._chosen_backup()["id"] == "I1"
    assert engine(repo, target_lsn="1/100")._chosen_backup()["id"] == "F2"
    with pytest.raises(PgdockError, match="holds no physical backup whose WAL ends before 0/1000000"):
        engine(repo, target_lsn="0/1000000")._chosen_backup()


def test_explicit_backup_that_ends_after_the_target_is_refused(repo):
    with pytest.raises(PgdockError, match=r"^target_lsn: 0/4000000 is before the end of backup I1 \(its WAL ends "
                                          r"at 0/5000100\)"):
        engine(repo, backup="I1", target_lsn="0/4000000")._chosen_backup()
    with pytest.raises(PgdockError, match="^target_time: .* is before the end of backup F2"):
        engine(repo, backup="F2", target_time="2025-01-02T12:00:00Z")._chosen_backup()
    assert engine(repo, backup="F1", target_lsn="0/4000000")._chosen_backup()["id"] == "F1"


def test_recovery_settings_need_archived_wal_that_reaches_the_position(repo, tmp_path):
    layout = type("Layout", (), {"volume_path": "/var/lib/postgresql/data"})()
    inside = engine(repo, target_lsn="0/6fffffe")
    settings = inside._recovery_settings(layout, {"id": "F1"})
    assert settings["recovery_target_lsn"] == "0/6FFFFFE" and settings["recovery_target_action"] == "promote"
    with pytest.raises(PgdockError, match=r"^target_lsn: 0/7000000 is past the end of the archived WAL \(its last "
                                          r"segment 000000010000000000000006.partial ends at 0/7000000\)"):
        engine(repo, target_lsn="0/7000000")._recovery_settings(layout, {"id": "F1"})
    for each in (tmp_path / "wal").iterdir():
        each.unlink()
    with pytest.raises(PgdockError, match="^target_time: repository .* holds no archived WAL"):
        engine(repo, target_time="2025-01-04T00:00:00Z")._recovery_settings(layout, {"id": "F2"})
    assert engine(repo)._recovery_settings(layout, {"id": "F2"}) is None


@pytest.mark.parametrize("target, backup, expected", [
    (None, None, "latest"), (None, "F1", "immediate"), ("latest", "F1", "latest"), ("immediate", None, "immediate")])
def test_the_default_target_of_a_named_backup_is_that_backup(target, backup, expected):
    assert default_target(target, backup) == expected

"""Integration tests of the backup module's verify on real backups of PostgreSQL 15, 17 and 18: a
clean repository passes every check and changes nothing; a flipped byte, a removed WAL segment and a
broken chain are flagged by backup id and file, fail the task, and show in `list`."""

from __future__ import annotations

import pytest
from ansible_runner import run_module
from test_backup import backup, catalogue, psql

MAJORS = [15, 17, 18]


def archiving_server(pg_server, repo, major: int) -> dict:
    """A server that archives WAL into `repo` (archive_command) from its first start."""
    settings = {"archive_mode": "on"}
    if major >= 17:
        settings["summarize_wal"] = "on"
    server = pg_server(major, settings=settings, wal_archive_dir=str(repo / "wal"))
    switch(server, repo)
    return server


def switch(server: dict, repo) -> str:
    """A WAL segment switched and archived (the module waits for it); its name."""
    result = run_module("backup", dict(container=server["name"], repository=str(repo), archive=True))
    assert not result.failed, result
    return result["archive"]["checked_segment"]


def verify(repo, **extra):
    return run_module("backup", dict(repository=str(repo), verify=True, **extra))


def flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("major", MAJORS)
def test_a_clean_repository_is_verified_ok_and_nothing_changes(pg_server, docker_client, tmp_path, major):
    repo = tmp_path / "repo"
    server = archiving_server(pg_server, repo, major)
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS i")
    physical = [backup(server, repo, "full")["backup"]["id"]]
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(1001, 2000)")
    if major >= 17:
        inc = backup(server, repo, "incremental")
        assert inc.changed and not inc.failed, inc
        physical.append(inc["backup"]["id"])
    logical = backup(server, repo, "logical")["backup"]["id"]
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(2001, 3000)")
    newest = switch(server, repo)

    result = verify(repo)
    assert not result.failed and not result.changed and result["ok"], result
    assert sorted(result["verified"]) == sorted(physical + [logical])
    for backup_id in physical:
        entry = result["verified"][backup_id]
        assert entry["ok"] and entry["problems"] == [], entry
        assert entry["checks"]["sha256"] == "ok" and entry["checks"]["pg_verifybackup"] == "ok", entry
        assert entry["checks"]["wal"]["checked"] and entry["checks"]["wal"]["to"] == newest, entry
    assert result["verified"][logical]["checks"] == {"sha256": "ok"}
    assert result["wal"]["newest"] == newest and result["wal"]["timelines"] == [1]
    assert not (repo / "PROBLEMS.json").exists()
    listed = run_module("backup", dict(repository=str(repo), list=True, verify=True))
    assert not listed.changed and [b["verified"]["ok"] for b in listed["catalogue"]] == [True] * len(listed["catalogue"])
    assert [b["verified"] for b in catalogue(repo)] == [None] * len(listed["catalogue"])
    # the helpers are gone (with their scratch volumes: removed with v=True)
    for backup_id in physical:
        helper = f"org.pgdock.helper=pg_verifybackup of backup {backup_id}"
        assert not docker_client.containers.list(all=True, filters={"label": helper})


def test_a_flipped_byte_is_flagged_by_id_and_file_and_list_shows_it(pg_server, docker_client, tmp_path):
    repo = tmp_path / "repo"
    server = pg_server(18)
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS i")
    older = backup(server, repo, "full")["backup"]["id"]
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(1001, 2000)")
    newest = backup(server, repo, "full")["backup"]["id"]
    base = repo / "full" / newest / "base.tar.gz"
    intact = base.read_bytes()
    flip_a_byte(base)

    result = verify(repo)
    assert result.failed and result.changed, result
    assert f"{newest}: full/{newest}/base.tar.gz: sha256 mismatch (corrupt)" in result["msg"], result["msg"]
    assert older not in result["msg"]
    assert result["verified"][newest]["problems"] == [
        {"file": f"full/{newest}/base.tar.gz", "problem": "sha256 mismatch (corrupt)"}]
    assert result["verified"][older]["ok"] and not result["ok"]
    listed = {b["id"]: b["verified"] for b in catalogue(repo)}
    assert listed[older] is None and listed[newest]["ok"] is False, listed
    assert listed[newest]["problems"][0]["file"] == f"full/{newest}/base.tar.gz"

    reported = verify(repo, fail_on_problems=False)  # the same findings: reported, nothing recorded anew
    assert not reported.failed and not reported.changed and not reported["ok"], reported
    base.write_bytes(intact)
    repaired = verify(repo)
    assert not repaired.failed and repaired.changed and repaired["ok"], repaired
    assert [b["verified"] for b in catalogue(repo)] == [None, None]


def test_a_removed_wal_segment_is_a_gap_for_the_backups_before_it(pg_server, docker_client, tmp_path):
    repo = tmp_path / "repo"
    server = archiving_server(pg_server, repo, 17)
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS i")
    full = backup(server, repo, "full")["backup"]
    segments = []
    for rows in range(3):
        psql(docker_client, server, f"INSERT INTO t SELECT generate_series(1, {1000 + rows})")
        segments.append(switch(server, repo))
    assert verify(repo)["ok"]
    gone = segments[1]
    (repo / "wal" / gone).unlink()
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(1, 10)")
    after = backup(server, repo, "incremental")["backup"]  # after the gap, on top of the full
    switch(server, repo)

    result = verify(repo)
    assert result.failed and f"{full['id']}: wal/{gone}: WAL gap: {gone} missing" in result["msg"], result
    problems = result["verified"][full["id"]]["problems"]
    assert [p["file"] for p in problems] == [f"wal/{gone}"] and "a replay from this backup stops" in problems[0]["problem"]
    assert result["verified"][after["id"]]["ok"], result["verified"][after["id"]]
    assert {b["id"]: bool(b["verified"]) for b in catalogue(repo)} == {full["id"]: True, after["id"]: False}

    # the incremental's parent pruned by hand: its chain is broken
    (repo / "full" / full["id"] / "label.json").unlink()
    broken = verify(repo)
    assert broken.failed and f"{after['id']}: incremental/{after['id']}/label.json: incremental on {full['id']}" in broken["msg"]
    assert broken["incomplete"] == [f"full/{full['id']}"]

"""Integration tests of pgdock.postgres.restore: every restore is proven on a real server."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from ansible_runner import run_module
from test_backup import backup, psql

MAJORS = [15, 17, 18]


def restore(server: dict, repo, unique, cleanup, **extra):
    """Physical restore of `server`'s repository into a new container on its network."""
    name = unique("rst") + f"-{len(cleanup['containers'])}"
    cleanup["containers"].append(name)
    cleanup["volumes"].append(f"{name}-data")
    args = dict(repository=str(repo), name=name, networks=[{"name": server["network"]}],
                superuser_password=server["password"], secrets_dir=str(repo.parent / f"{name}-secrets"))
    args.update(extra)
    return name, run_module("restore", args)


def count(docker_client, server: dict, table: str = "t", db: str = "postgres") -> int:
    return int(psql(docker_client, server, f"SELECT count(*) FROM {table}", db))


@pytest.mark.parametrize("major", MAJORS)
def test_full_backup_restores_into_a_new_container(pg_server, docker_client, tmp_path, unique, cleanup, major):
    server = pg_server(major)
    repo = tmp_path / "repo"
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 500) AS i")
    assert backup(server, repo, "full").changed
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(501, 600)")

    name, result = restore(server, repo, unique, cleanup)
    assert result.changed and not result.failed, result
    restored = dict(server, name=name)
    assert count(docker_client, restored) == 500
    assert result["restored"]["databases"] == ["postgres"]
    assert docker_client.containers.get(name).labels["org.pgdock.restored-from"] == result["backup"]["id"]

    again = run_module("restore", dict(repository=str(repo), name=name + "-x", data_volume=f"{name}-data",
                                       networks=[{"name": server["network"]}]))
    assert again.failed and "running" in again["msg"], again


def test_corrupt_backup_is_refused_naming_the_file(pg_server, tmp_path, unique, cleanup, docker_client):
    server = pg_server(17)
    repo = tmp_path / "repo"
    label = backup(server, repo, "full")["backup"]
    target = repo / "full" / label["id"] / "base.tar.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    name, result = restore(server, repo, unique, cleanup)
    assert result.failed and str(target) in result["msg"] and "sha256" in result["msg"], result
    assert not docker_client.containers.list(all=True, filters={"name": name})
    assert not docker_client.volumes.list(filters={"name": f"{name}-data"})


def test_existing_volume_needs_force(pg_server, tmp_path, unique, cleanup, docker_client):
    server = pg_server(15)
    repo = tmp_path / "repo"
    assert backup(server, repo, "full").changed
    volume = unique("vol")
    cleanup["volumes"].append(volume)
    docker_client.volumes.create(volume)
    name, refused = restore(server, repo, unique, cleanup, data_volume=volume)
    assert refused.failed and "force" in refused["msg"], refused
    name, forced = restore(server, repo, unique, cleanup, data_volume=volume, force=True)
    assert forced.changed and not forced.failed, forced


@pytest.mark.parametrize("major", MAJORS)
def test_point_in_time_gives_exactly_the_rows_committed_by_then(
        pg_server, docker_client, tmp_path, unique, cleanup, major):
    settings = {"summarize_wal": "on", "archive_mode": "on"} if major >= 17 else {"archive_mode": "on"}
    repo = tmp_path / "repo"
    server = pg_server(major, settings=settings, wal_archive_dir=str(repo / "wal"))
    psql(docker_client, server, "CREATE TABLE t (i int, at timestamptz DEFAULT clock_timestamp())")
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(1, 100)")
    archiving = run_module("backup", dict(container=server["name"], repository=str(repo), archive=True))
    assert archiving.changed and not archiving.failed and archiving["archive"]["method"] == "command", archiving
    full = backup(server, repo, "full")
    assert full.changed and not full.failed, full
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(101, 200)")
    if major >= 17:
        inc = backup(server, repo, "incremental")
        assert inc.changed and not inc.failed, inc
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(201, 300)")
    time.sleep(1.5)
    moment = datetime.now(timezone.utc).isoformat()
    time.sleep(1.5)
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(301, 400)")
    checked = run_module("backup", dict(container=server["name"], repository=str(repo), archive=True))
    assert not checked.changed and checked["archive"]["checked_segment"], checked

    name, result = restore(server, repo, unique, cleanup, target_time=moment)
    assert result.changed and not result.failed, result
    assert result["chain"][0] == full["backup"]["id"] and len(result["chain"]) == (2 if major >= 17 else 1)
    restored = dict(server, name=name)
    assert count(docker_client, restored) == 300
    assert psql(docker_client, restored, "SELECT pg_is_in_recovery()") == "f"
    assert psql(docker_client, restored, "SELECT max(i) FROM t") == "300"
    # a copy without the WAL archive mount does not archive as the backed-up server
    assert psql(docker_client, restored, "SHOW archive_mode") == "off"


@pytest.mark.parametrize("major", MAJORS)
def test_wal_position_gives_exactly_the_rows_committed_before_it(
        pg_server, docker_client, tmp_path, unique, cleanup, major):
    settings = {"summarize_wal": "on"} if major >= 17 else {}
    server = pg_server(major, settings=settings)
    cleanup["containers"].append(server["name"] + "-wal-archiver")
    repo = tmp_path / "repo"
    psql(docker_client, server, "CREATE TABLE t (i int)")
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(1, 100)")
    archiving = run_module("backup", dict(container=server["name"], repository=str(repo), archive=True,
                                          archive_method="stream"))
    assert archiving.changed and not archiving.failed, archiving
    full = backup(server, repo, "full")
    assert full.changed and not full.failed, full
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(101, 200)")
    if major >= 17:
        inc = backup(server, repo, "incremental")
        assert inc.changed and not inc.failed, inc
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(201, 300)")
    # read after the commit returned: every record of the batch (and its commit) is before it
    lsn = psql(docker_client, server, "SELECT pg_current_wal_lsn()")
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(301, 400)")
    later = backup(server, repo, "full")  # ends after the target: the restore must not pick it
    assert later.changed and not later.failed, later
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(401, 500)")
    checked = run_module("backup", dict(container=server["name"], repository=str(repo), archive=True,
                                        archive_method="stream"))
    assert not checked.failed and checked["archive"]["checked_segment"], checked

    name, result = restore(server, repo, unique, cleanup, target_lsn=lsn.lower())
    assert result.changed and not result.failed, result
    assert result["chain"][0] == full["backup"]["id"] and len(result["chain"]) == (2 if major >= 17 else 1)
    assert result["restored"]["recovery_target"] == {"recovery_target_lsn": lsn}, result["restored"]
    restored = dict(server, name=name)
    assert psql(docker_client, restored, "SELECT pg_is_in_recovery()") == "f"
    assert psql(docker_client, restored, "SELECT count(*), min(i), max(i), count(DISTINCT i) FROM t") == "300|1|300|300"

    # a backup that ends after the position cannot be recovered to it; nothing is created
    refused, failed = restore(server, repo, unique, cleanup, target_lsn=lsn, backup=later["backup"]["id"])
    assert failed.failed and "before the end of backup" in failed["msg"] and lsn in failed["msg"], failed
    past, failed = restore(server, repo, unique, cleanup, target_lsn="FF/0")
    assert failed.failed and "past the end of the archived WAL" in failed["msg"], failed
    for never in (refused, past):
        assert not docker_client.containers.list(all=True, filters={"name": never})
        assert not docker_client.volumes.list(filters={"name": f"{never}-data"})


@pytest.mark.parametrize("bad", ["12345", "0/", "0/XYZ", "1/2/3", "123456789/0", "0x16/B374D848", " "])
def test_malformed_wal_position_is_refused_before_anything_is_done(tmp_path, bad):
    result = run_module("restore", dict(repository=str(tmp_path / "repo"), name="pgdt-never", target_lsn=bad))
    assert result.failed, result
    assert result["msg"].startswith("target_lsn: ") and "is not a WAL position" in result["msg"], result
    assert "e.g. 0/3000148" in result["msg"] and not (tmp_path / "repo").exists()


@pytest.mark.parametrize("major", MAJORS)
def test_logical_restore_of_one_database_leaves_the_others(pg_server, docker_client, tmp_path, major):
    server = pg_server(major)
    repo = tmp_path / "repo"
    for db in ("app1", "app2", "app3"):
        psql(docker_client, server, f"CREATE DATABASE {db}")
        psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 10) AS i", db)
    taken = backup(server, repo, "logical", databases=["app1", "app2", "app3"])
    assert taken.changed and not taken.failed, taken
    listed = run_module("restore", dict(repository=str(repo), kind="logical", list_databases=True))
    assert listed["databases"] == ["app1", "app2", "app3"], listed

    psql(docker_client, server, "INSERT INTO t VALUES (99)", "app1")
    psql(docker_client, server, "DROP DATABASE app2")
    args = dict(repository=str(repo), kind="logical", container=server["name"], databases=["app2"])
    result = run_module("restore", args)
    assert result.changed and not result.failed, result
    assert count(docker_client, server, db="app2") == 10
    assert count(docker_client, server, db="app1") == 11 and count(docker_client, server, db="app3") == 10

    again = run_module("restore", args)
    assert again.failed and "already exist" in again["msg"], again
    renamed = run_module("restore", dict(args, into_database="app2_copy"))
    assert renamed.changed and not renamed.failed, renamed
    assert count(docker_client, server, db="app2_copy") == 10


def test_a_named_backup_without_target_is_restored_as_it_was(
        pg_server, docker_client, pg_image, free_port, tmp_path, unique, cleanup):
    """`backup: <id>` and no target: that backup, not the archived writes after it (restore module and
    the container module's restore_from alike); target latest still replays them."""
    repo = tmp_path / "repo"
    server = pg_server(18, settings={"archive_mode": "on"}, wal_archive_dir=str(repo / "wal"))
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 100) AS i")
    named = backup(server, repo, "full")["backup"]["id"]
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(101, 300)")
    checked = run_module("backup", dict(container=server["name"], repository=str(repo), archive=True))
    assert not checked.failed and checked["archive"]["checked_segment"], checked  # the rows are archived

    name, result = restore(server, repo, unique, cleanup, backup=named)
    assert result.changed and not result.failed, result
    assert count(docker_client, dict(server, name=name)) == 100
    assert any(a.startswith(f"stop at the end of backup {named}, as it was") for a in result["actions"]), result
    assert not any(a.startswith("replay archived WAL") for a in result["actions"])

    auto = unique("auto")
    cleanup["containers"].append(auto)
    cleanup["volumes"].append(f"{auto}-data")
    filled = run_module("container", dict(
        name=auto, image=pg_image(18), pull="never", superuser_password=server["password"],
        networks=[{"name": server["network"]}], secrets_dir=str(tmp_path / f"{auto}-secrets"),
        published_port=free_port, wait_timeout=120, restore_from={"repository": str(repo), "backup": named}))
    assert filled.changed and not filled.failed, filled
    assert count(docker_client, dict(server, name=auto)) == 100

    latest_name, latest = restore(server, repo, unique, cleanup, backup=named, target="latest")
    assert latest.changed and not latest.failed, latest
    assert count(docker_client, dict(server, name=latest_name)) == 300

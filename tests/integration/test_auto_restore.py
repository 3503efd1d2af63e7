"""Integration tests of the container module's restore_from: a new container whose volume holds no
cluster is filled from the newest backup of its repository before its first start."""

from __future__ import annotations

import time

import psycopg2
import pytest
from ansible_runner import run_module
from test_backup import backup, psql


def new_container(server: dict, repo, unique, cleanup, pg_image, free_port, tmp_path, major: int, **extra) -> dict:
    """The container module's args for a new server on `server`'s network, filled from `repo`."""
    name = unique("auto") + f"-{len(cleanup['containers'])}"
    cleanup["containers"].append(name)
    cleanup["volumes"].append(f"{name}-data")
    args = dict(name=name, image=pg_image(major), pull="never", superuser_password=server["password"],
                networks=[{"name": server["network"]}], secrets_dir=str(tmp_path / f"{name}-secrets"),
                published_port=free_port, stop_timeout=30, wait_timeout=120,
                restore_from={"repository": str(repo)})
    args.update(extra)
    return args


def rows(port: int, password: str) -> int:
    with psycopg2.connect(host="127.0.0.1", port=port, user="postgres", password=password, dbname="postgres",
                          connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM t")
        return cur.fetchone()[0]


@pytest.mark.parametrize("major", [15, 18])
def test_new_container_starts_from_the_newest_backup_once(
        pg_server, docker_client, pg_image, free_port, tmp_path, unique, cleanup, major):
    settings = {"summarize_wal": "on"} if major >= 17 else {}
    server = pg_server(major, settings=settings)
    repo = tmp_path / "repo"
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 500) AS i")
    taken = backup(server, repo, "full")
    assert taken.changed and not taken.failed, taken
    expected, newest = 500, taken["backup"]["id"]
    if major >= 17:
        psql(docker_client, server, "INSERT INTO t SELECT generate_series(501, 600)")
        inc = backup(server, repo, "incremental")
        assert inc.changed and not inc.failed, inc
        expected, newest = 600, inc["backup"]["id"]
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(1001, 1100)")  # after the backups
    args = new_container(server, repo, unique, cleanup, pg_image, free_port, tmp_path, major)

    planned = run_module("container", args, check=True)
    assert planned.changed and not planned.failed, planned
    assert planned["restored_from"] == newest and "restored" not in planned
    actions = planned["actions"]
    assert [a for a in actions if a.startswith(f"restore backup {taken['backup']['id']}")], actions
    assert actions.index(f"create container {args['name']}") > 1, actions
    assert not docker_client.containers.list(all=True, filters={"name": args["name"]})
    assert not docker_client.volumes.list(filters={"name": f"{args['name']}-data"})

    first = run_module("container", args)
    assert first.changed and not first.failed, first
    assert first["restored_from"] == newest
    assert first["restored"]["chain"][-1] == newest and first["restored"]["databases"] == ["postgres"]
    assert len(first["restored"]["chain"]) == (2 if major >= 17 else 1)
    assert not first.get("warnings"), first
    # the password file opens the restored cluster through the published port
    assert rows(args["published_port"], server["password"]) == expected
    assert psql(docker_client, dict(server, name=args["name"]), "SELECT pg_is_in_recovery()") == "f"

    again = run_module("container", args)
    assert not again.changed and again["actions"] == [] and "restored_from" not in again, again

    # removed and made again on the kept volume: the cluster there is kept, nothing restored over it
    psql(docker_client, dict(server, name=args["name"]), "INSERT INTO t VALUES (-1)")
    gone = run_module("container", dict(args, state="absent"))
    assert gone.changed and not gone.failed, gone
    back = run_module("container", args)
    assert back.changed and not back.failed and "restored_from" not in back, back
    assert not [a for a in back["actions"] if "restore" in a], back
    assert rows(args["published_port"], server["password"]) == expected + 1


def test_empty_repository_gives_an_empty_cluster_and_says_so(
        pg_server, docker_client, pg_image, free_port, tmp_path, unique, cleanup):
    server = pg_server(17)
    repo = tmp_path / "empty-repo"
    repo.mkdir()
    args = new_container(server, repo, unique, cleanup, pg_image, free_port, tmp_path, 17)
    result = run_module("container", args)
    assert result.changed and not result.failed and "restored_from" not in result, result
    assert result["actions"][0].startswith(f"initialise an empty cluster (nothing to restore: repository {repo} "
                                           "holds no physical backup of PostgreSQL 17)"), result
    assert any("an empty cluster is initialised" in w for w in result.get("warnings", [])), result
    assert psql(docker_client, dict(server, name=args["name"]),
                "SELECT count(*) FROM pg_tables WHERE tablename = 't'") == "0"
    again = run_module("container", args)
    assert not again.changed and again["actions"] == [] and not again.get("warnings"), again


def test_backup_of_another_password_or_a_corrupt_file(
        pg_server, docker_client, pg_image, free_port, tmp_path, unique, cleanup):
    server = pg_server(15)
    repo = tmp_path / "repo"
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 10) AS i")
    label = backup(server, repo, "full")["backup"]

    # another password than the backed-up server's: restored and ready, with a warning
    wrong = new_container(server, repo, unique, cleanup, pg_image, free_port, tmp_path, 15,
                          superuser_password="not-the-backed-up-one")
    result = run_module("container", wrong)
    assert result.changed and not result.failed and result["restored_from"] == label["id"], result
    assert any("does not open the restored cluster" in w for w in result.get("warnings", [])), result
    assert rows(wrong["published_port"], server["password"]) == 10

    # a corrupt file is refused before anything is created, naming the file
    target = repo / "full" / label["id"] / "base.tar.gz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    corrupt = new_container(server, repo, unique, cleanup, pg_image, free_port, tmp_path, 15,
                            published_port=None)
    refused = run_module("container", corrupt)
    assert refused.failed and str(target) in refused["msg"] and "sha256" in refused["msg"], refused
    assert not docker_client.containers.list(all=True, filters={"name": corrupt["name"]})
    assert not docker_client.volumes.list(filters={"name": f"{corrupt['name']}-data"})


def test_archived_wal_is_replayed_after_the_backup(pg_server, docker_client, pg_image, free_port, tmp_path, unique,
                                                   cleanup):
    repo = tmp_path / "repo"
    server = pg_server(17, wal_archive_dir=str(repo / "wal"))
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 100) AS i")
    archiving = run_module("backup", dict(container=server["name"], repository=str(repo), archive=True,
                                          allow_restart=True))
    assert archiving.changed and not archiving.failed, archiving
    assert backup(server, repo, "full").changed
    psql(docker_client, server, "INSERT INTO t SELECT generate_series(101, 300)")
    checked = run_module("backup", dict(container=server["name"], repository=str(repo), archive=True))
    assert not checked.failed and checked["archive"]["checked_segment"], checked

    server_container = docker_client.containers.get(server["name"])
    server_container.stop()  # the new server takes its place, archiving into the same wal/
    args = new_container(server, repo, unique, cleanup, pg_image, free_port, tmp_path, 17,
                         wal_archive_dir=str(repo / "wal"))
    result = run_module("container", args)
    assert result.changed and not result.failed, result
    assert [a for a in result["actions"] if a.startswith("replay archived WAL")], result["actions"]
    assert result["restored"]["timeline"] == 2 and result["restored"]["recovery_target"] == {}
    restored = dict(server, name=args["name"])
    assert rows(args["published_port"], server["password"]) == 300
    for _attempt in range(50):  # the reload after ALTER SYSTEM RESET is asynchronous
        if psql(docker_client, restored, "SELECT current_setting('restore_command')") == "":
            break
        time.sleep(0.1)
    assert psql(docker_client, restored, "SELECT current_setting('restore_command')") == ""
    assert "restore_command" not in psql(docker_client, restored, "SELECT string_agg(name, ',') FROM pg_file_settings")
    # it archives as the backed-up server did (archive_mode from its postgresql.auto.conf), on its
    # new timeline: the history file of timeline 2 is in the repository
    assert psql(docker_client, restored, "SHOW archive_mode") == "on"
    for _attempt in range(100):
        if (repo / "wal" / "00000002.history").is_file():
            break
        time.sleep(0.2)
    assert (repo / "wal" / "00000002.history").is_file(), sorted(p.name for p in (repo / "wal").iterdir())
    assert run_module("container", args)["actions"] == []

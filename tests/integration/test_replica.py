"""Integration tests of pgdock.postgres.replica (and info) on real PostgreSQL 15 and 18 containers."""

from __future__ import annotations

import re
import time

import docker
import psycopg2
import pytest

from ansible_runner import run_module
from pgclient import sql, unused_port


@pytest.fixture
def replica_args(cleanup, free_port, tmp_path_factory):
    """replica_args(primary, name) -> module args for a replica publishing a port, cleaned up after."""
    def _args(primary: dict, name: str, **over) -> dict:
        cleanup["containers"].append(name)
        cleanup["volumes"].append(f"{name}-data")
        args = dict(name=name, primary=primary["name"], published_port=unused_port(),
                    secrets_dir=str(tmp_path_factory.mktemp(name) / "secrets"), stop_timeout=30,
                    wait_timeout=180, max_lag_bytes=0)
        args.update(over)
        return args
    return _args


@pytest.mark.parametrize("major", [15, 18])
def test_primary_and_two_replicas_stream(pg_server, replica_args, major):
    primary = pg_server(major)
    pw = primary["password"]
    first = run_module("replica", replica_args(primary, primary["name"] + "-r1"))
    assert first.changed and not first.failed, first
    assert first["replica"]["state"] == "streaming" and first["replica"]["slot"]
    assert any("pg_basebackup" in a for a in first["actions"])
    r2_args = replica_args(primary, primary["name"] + "-r2", synchronous=True)
    second = run_module("replica", r2_args)
    assert second.changed and second["replica"]["state"] == "streaming", second
    sql(primary["port"], pw, "create table t(i int); insert into t select generate_series(1, 10000)")
    lsn = sql(primary["port"], pw, "select pg_current_wal_lsn()::text")[0][0]
    assert {first["replica"]["upstream"], second["replica"]["upstream"]} == {primary["name"]}
    for port in (published_port(first), published_port(second)):
        wait_replayed(port, pw, lsn)
        assert sql(port, pw, "select count(*) from t") == [(10000,)]
        with pytest.raises(psycopg2.Error, match="read-only transaction"):
            sql(port, pw, "insert into t values (1)")
    info = run_module("info", {"container": primary["name"], "gather": ["server", "replication"]})
    assert info["info"]["server"]["role"] == "primary"
    standbys = {s["application_name"]: s for s in info["info"]["replication"]["standbys"]}
    assert set(standbys) == {primary["name"] + "-r1", primary["name"] + "-r2"}
    assert all(s["state"] == "streaming" and s["replay_lag_bytes"] is not None for s in standbys.values())
    assert standbys[primary["name"] + "-r2"]["sync_state"] in ("quorum", "sync")
    assert info["info"]["replication"]["synchronous_standby_names"] == f'ANY 1 ("{primary["name"]}-r2")'
    again = run_module("replica", r2_args)
    assert not again.changed, again
    standby_info = run_module("info", {"container": primary["name"] + "-r1", "gather": ["server"]})
    assert standby_info["info"]["server"]["role"] == "standby"


def test_a_base_backup_reports_its_phases_and_progress(pg_server, replica_args, tmp_path):
    primary = pg_server(18)
    sql(primary["port"], primary["password"],
        "create table big as select i, repeat(md5(i::text), 16) as pad from generate_series(1, 250000) i")
    progress = tmp_path / "progress.log"
    built = run_module("replica", replica_args(primary, primary["name"] + "-p1", progress_file=str(progress)))
    assert built.changed and not built.failed, built
    phases = {p["phase"]: p for p in built["phases"]}
    assert list(phases) == ["base backup", "container", "catch-up"] and built["progress_file"] == str(progress)
    assert phases["base backup"]["bytes"] > 100 * 1024 * 1024 and all(p["seconds"] > 0 for p in phases.values())
    lines = progress.read_text().splitlines()
    name = primary["name"] + "-p1"
    assert lines[0].endswith(f"replica {name}: base backup started"), lines
    steps = [line for line in lines if re.search(r"base backup \d+% \(\S+ [kMG]B of \S+ [kMG]B\)$", line)]
    assert steps and steps[-1].split(": base backup ")[1].startswith("100%"), lines
    assert any(f"replica {name}: catch-up done in" in line for line in lines)
    again = run_module("replica", replica_args(primary, name, progress_file=str(progress)))
    assert not again.changed and "phases" not in again or all(p["phase"] != "base backup" for p in again["phases"])


def published_port(result) -> int:
    """The published port of a replica, from the container the module made."""
    container = docker.from_env().containers.get(result["replica"]["name"])
    return int(container.attrs["HostConfig"]["PortBindings"]["5432/tcp"][0]["HostPort"])


def wait_replayed(port: int, password: str, lsn: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while sql(port, password, "select pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s) >= 0", (lsn,))[0][0] is not True:
        assert time.monotonic() < deadline, f"replica on {port} did not replay {lsn}"
        time.sleep(0.2)


def test_killed_replica_comes_back_without_rebuild(pg_server, replica_args, docker_client):
    primary = pg_server(18)
    args = replica_args(primary, primary["name"] + "-r1")
    assert run_module("replica", args).changed
    docker_client.containers.get(args["name"]).kill()
    back = run_module("replica", args)
    assert back.changed and not back.failed, back
    assert back["replica"]["state"] == "streaming"
    assert not any("pg_basebackup" in a for a in back["actions"]), back["actions"]


def test_rejoin_former_primary_with_pg_rewind(pg_server, replica_args, docker_client):
    # pg_rewind reads the old primary's WAL back to the last checkpoint before the divergence
    old = pg_server(18, settings={"wal_keep_size": "256MB"})
    pw = old["password"]
    args = replica_args(old, old["name"] + "-r1")
    assert run_module("replica", args).changed
    new_port = args["published_port"]
    sql(old["port"], pw, "create table t(i int, side text); insert into t values (1, 'both')")
    lsn = sql(old["port"], pw, "select pg_current_wal_lsn()::text")[0][0]
    wait_replayed(new_port, pw, lsn)
    # promote the replica by hand, then write on both sides: the timelines diverge
    assert sql(new_port, pw, "select pg_promote(true)") == [(True,)]
    sql(old["port"], pw, "insert into t select generate_series(2, 500), 'old-only'")
    sql(new_port, pw, "insert into t values (1000, 'new')")
    rejoin = run_module("replica", {"name": old["name"], "primary": args["name"], "state": "rejoined",
                                    "stop_timeout": 30, "wait_timeout": 180, "max_lag_bytes": 0})
    assert rejoin.changed and not rejoin.failed, rejoin
    assert any("pg_rewind" in a for a in rejoin["actions"])
    assert rejoin["replica"]["state"] == "streaming" and rejoin["replica"]["upstream"] == args["name"]
    sql(new_port, pw, "insert into t values (2000, 'after rejoin')")
    lsn = sql(new_port, pw, "select pg_current_wal_lsn()::text")[0][0]
    wait_replayed(old["port"], pw, lsn)
    rows = sql(old["port"], pw, "select side, count(*) from t group by side order by side")
    assert rows == [("after rejoin", 1), ("both", 1), ("new", 1)]
    assert not run_module("replica", {"name": old["name"], "primary": args["name"], "state": "rejoined"}).changed


def test_other_major_and_taken_names_are_refused(pg_server, replica_args, pg_image, docker_client):
    primary = pg_server(18)
    res = run_module("replica", replica_args(primary, primary["name"] + "-r15", image=pg_image(15)))
    assert res.failed and "is PostgreSQL 15 but primary" in res["msg"], res
    assert not docker_client.volumes.list(filters={"name": primary["name"] + "-r15-data"})
    other = pg_server(18, network=primary["network"])
    res = run_module("replica", replica_args(primary, other["name"]))
    assert res.failed and "non-replica container" in res["msg"], res
    assert sql(other["port"], other["password"], "select pg_is_in_recovery()") == [(False,)]
    res = run_module("replica", replica_args(primary, primary["name"] + "-bad", slot_name="Bad-Slot"))
    assert res.failed and "not a valid slot name" in res["msg"], res


def test_a_hostile_replication_user_streams(pg_server, replica_args):
    """The replication user's name reaches the helper's shell as an argument, primary_conninfo
    through libpq quoting and pg_hba.conf as a quoted name: the standby streams as that role."""
    primary = pg_server(18)
    user = "rep 'q' $(id) `id` ${HOME} x"
    args = replica_args(primary, primary["name"] + "-odd", replication_user=user)
    res = run_module("replica", args)
    assert res.changed and not res.failed, res
    assert res["replica"]["state"] == "streaming", res
    assert sql(primary["port"], primary["password"],
               "select usename from pg_stat_replication where application_name = %s", (args["name"],)) == [(user,)]
    assert not run_module("replica", args).changed


def test_base_backup_timeout_stops_the_copy_and_leaves_no_volume(pg_server, replica_args, docker_client):
    primary = pg_server(18)
    # some 850 MB of logged data: more than a helper copies and syncs within a second
    sql(primary["port"], primary["password"],
        "create table filler as select g, repeat(md5(g::text), 12) as pad from generate_series(1, 2000000) g")
    args = replica_args(primary, primary["name"] + "-slow", base_backup_timeout=1)
    res = run_module("replica", args)
    assert res.failed and "did not finish within base_backup_timeout (1 s)" in res["msg"], res
    assert "incomplete volume" in res["msg"], res
    assert not docker_client.volumes.list(filters={"name": args["name"] + "-data"})
    assert not docker_client.containers.list(all=True, filters={"name": args["name"]})
    res = run_module("replica", dict(args, base_backup_timeout=0))
    assert res.failed and "base_backup_timeout: 0 is not a number of seconds" in res["msg"], res


def test_cascade_from_a_standby_and_absent(pg_server, replica_args, docker_client):
    primary = pg_server(18)
    pw = primary["password"]
    first = replica_args(primary, primary["name"] + "-r1")
    assert run_module("replica", first).changed
    cascaded = replica_args(primary, primary["name"] + "-c1", cascade_from=first["name"])
    res = run_module("replica", cascaded)
    assert res.changed and not res.failed, res
    assert res["replica"]["upstream"] == first["name"] and res["replica"]["state"] == "streaming"
    # the cascaded standby streams from the first standby, not from the primary
    upstream_view = run_module("info", {"container": first["name"], "gather": ["replication"]})
    assert [s["application_name"] for s in upstream_view["info"]["replication"]["standbys"]] == [cascaded["name"]]
    sql(primary["port"], pw, "create table c(i int); insert into c values (1), (2)")
    lsn = sql(primary["port"], pw, "select pg_current_wal_lsn()::text")[0][0]
    wait_replayed(cascaded["published_port"], pw, lsn)
    assert sql(cascaded["published_port"], pw, "select count(*) from c") == [(2,)]
    # absent: container gone, slot dropped on its upstream, volume kept unless asked
    gone = run_module("replica", dict(cascaded, state="absent"))
    assert gone.changed and not gone.failed, gone
    assert not docker_client.containers.list(all=True, filters={"name": cascaded["name"]})
    assert docker_client.volumes.get(cascaded["name"] + "-data")
    assert not run_module("replica", dict(cascaded, state="absent")).changed

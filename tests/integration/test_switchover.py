"""Integration tests of pgdock.postgres.switchover: primary + standby + PgBouncer on real containers,
switchovers under a writer load (0 failed, 0 lost), refusals that change nothing, and the rollback
when the target dies before its promotion."""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from pathlib import Path

import psycopg2
import pytest

import client_tls
from ansible_runner import run_module
from conftest import PGBOUNCER_IMAGE
from pgclient import sql, unused_port, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from write_load import TABLE, WriterLoad  # noqa: E402

APP_PASSWORD = "App-switch-pw-1"


@pytest.fixture
def cluster(request, pg_server, cleanup, free_port, tmp_path_factory, unique):
    """A primary, a streaming standby and a pooler in front of the primary; a dict of their facts.
    Parametrized indirectly with True, the pooler asks its clients for TLS with client certificates
    (client_tls_sslmode verify-full, the module's admin connection included); `tls` is what clients pass."""
    primary = pg_server(18)
    standby = primary["name"] + "-s1"
    cleanup["containers"].append(standby)
    cleanup["volumes"].append(f"{standby}-data")
    standby_port = unused_port()
    standby_args = dict(name=standby, primary=primary["name"], published_port=standby_port,
                        secrets_dir=str(tmp_path_factory.mktemp(standby) / "secrets"), stop_timeout=30,
                        wait_timeout=180)
    res = run_module("replica", standby_args)
    assert not res.failed, res
    assert not run_module("role", dict(container=primary["name"], name="app", password=APP_PASSWORD,
                                       login=True)).failed
    sql(primary["port"], primary["password"], "create database app owner app")
    pooler = unique("pgb")
    cleanup["containers"].append(pooler)
    pooler_args, tls = dict(name=pooler, primary=primary["name"], image=PGBOUNCER_IMAGE, pull="never",
                            published_port=free_port, users=["app"], databases=[{"name": "app"}],
                            query_wait_timeout=60, secrets_dir=str(tmp_path_factory.mktemp(pooler) / "pooler")), {}
    if getattr(request, "param", False):
        root = tmp_path_factory.mktemp(pooler + "-tls")
        client_tls.issue(pooler, root)
        pooler_args.update(client_tls.pooler_options(root, "verify-full"))
        tls = client_tls.client_params(root, "verify-full")
    res = run_module("pooler", pooler_args)
    assert not res.failed, res
    lock_dir = str(tmp_path_factory.mktemp("locks"))
    return dict(primary=primary["name"], primary_port=primary["port"], primary_args=primary["module_args"],
                standby=standby, standby_port=standby_port, standby_args=standby_args,
                pooler=pooler, pooler_port=free_port, password=primary["password"], lock_dir=lock_dir,
                ports={primary["name"]: primary["port"], standby: standby_port}, tls=tls)


def load_through(cluster: dict, clients: int = 4) -> WriterLoad:
    load = WriterLoad(endpoint=lambda: ("127.0.0.1", cluster["pooler_port"]), user="app", tls=cluster["tls"],
                      password=APP_PASSWORD, dbname="app", clients=clients, max_seconds=600)
    load.create_table()
    return load


def stored_ids(cluster: dict, server: str) -> list[int]:
    return [r[0] for r in sql(cluster["ports"][server], cluster["password"], f"select id from {TABLE}", dbname="app")]


def switchover(cluster: dict, target: str, **over):
    return run_module("switchover", dict(pooler=cluster["pooler"], target=target, lock_dir=cluster["lock_dir"],
                                         **over))


def is_primary(cluster: dict, server: str) -> bool:
    return sql(cluster["ports"][server], cluster["password"], "select not pg_is_in_recovery()")[0][0]


@pytest.mark.parametrize("cluster", [False, True], ids=["plaintext", "client-tls"], indirect=True)
def test_switchover_and_back_three_times_under_load(cluster):
    load = load_through(cluster)
    load.start()
    try:
        load.wait_for_acks(200)
        order = [cluster["standby"], cluster["primary"], cluster["standby"]]
        previous = cluster["primary"]
        for target in order:
            before = len(load.acks)
            res = switchover(cluster, target)
            assert res.changed and not res.failed, res
            assert res["primary"] == target and res["former_primary"] == previous
            assert res["replica"]["state"] == "streaming" and res["replica"]["name"] == previous
            assert res["timings"]["pause_total"] < 10, res["timings"]
            assert is_primary(cluster, target) and not is_primary(cluster, previous)
            load.wait_for_acks(before + 200)  # writes flow again, through the same pooler
            info = run_module("info", {"container": target, "gather": ["replication"]})
            standbys = {s["application_name"]: s for s in info["info"]["replication"]["standbys"]}
            assert standbys[previous]["state"] == "streaming", info["info"]["replication"]
            if target == cluster["primary"]:
                # switched over and back: the modules that made both servers find nothing to change
                # (a switchover must not leave the inventory's deployment to be recreated)
                assert not run_module("container", cluster["primary_args"]).changed
                assert not run_module("replica", cluster["standby_args"]).changed
            previous = target
        again = switchover(cluster, cluster["standby"])
        assert not again.changed and again["primary"] == cluster["standby"], again
    finally:
        load.stop()
    report = load.report()
    assert report["failed"] == 0, report
    assert load.missing(stored_ids(cluster, cluster["standby"])) == []
    # the rejoined standby has every row too, and the stale slots are gone
    final_lsn = sql(cluster["standby_port"], cluster["password"], "select pg_current_wal_lsn()::text")[0][0]
    wait_until(lambda: sql(cluster["primary_port"], cluster["password"],
                           "select pg_last_wal_replay_lsn() >= %s::pg_lsn", (final_lsn,))[0][0],
               what="the rejoined standby replaying the last write")
    assert load.missing(stored_ids(cluster, cluster["primary"])) == []
    slots = sql(cluster["primary_port"], cluster["password"], "select slot_name from pg_replication_slots")
    assert slots == [], slots


def test_refused_when_the_target_is_stopped_or_lags(cluster, docker_client):
    check = run_module("switchover", dict(pooler=cluster["pooler"], target=cluster["standby"],
                                          lock_dir=cluster["lock_dir"]), check=True)
    assert check.changed and not check.failed and any("promote" in a for a in check["actions"]), check
    assert is_primary(cluster, cluster["primary"]) and not is_primary(cluster, cluster["standby"])
    # lagging: replay paused on the standby while the primary writes
    sql(cluster["standby_port"], cluster["password"], "select pg_wal_replay_pause()")
    sql(cluster["primary_port"], cluster["password"], "create table filler as select generate_series(1, 50000) i")
    lagging = switchover(cluster, cluster["standby"], max_lag_bytes=1024)
    assert lagging.failed and "lags" in lagging["msg"] and "nothing was changed" in lagging["msg"], lagging
    sql(cluster["standby_port"], cluster["password"], "select pg_wal_replay_resume()")
    # stopped
    docker_client.containers.get(cluster["standby"]).stop(timeout=30)
    stopped = switchover(cluster, cluster["standby"])
    assert stopped.failed and "is not running" in stopped["msg"], stopped
    # nothing changed: the old primary takes writes through the pooler
    assert is_primary(cluster, cluster["primary"])
    assert sql(cluster["pooler_port"], APP_PASSWORD, "select 1", user="app", dbname="app") == [(1,)]


def test_refused_while_another_switchover_holds_the_lock(cluster):
    sysid = sql(cluster["primary_port"], cluster["password"], "select system_identifier from pg_control_system()")[0][0]
    with open(os.path.join(cluster["lock_dir"], f"switchover-{sysid}.lock"), "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        res = switchover(cluster, cluster["standby"])
    assert res.failed and "another switchover" in res["msg"], res
    assert is_primary(cluster, cluster["primary"])


@pytest.mark.parametrize("cluster", [False, True], ids=["plaintext", "client-tls"], indirect=True)
def test_target_killed_before_promotion_rolls_back(cluster, docker_client):
    load = load_through(cluster, clients=3)
    load.start()
    try:
        load.wait_for_acks(100)
        # the standby stops replaying, so the switchover waits in its catch-up step; the standby is
        # killed as soon as the old primary has stopped
        sql(cluster["standby_port"], cluster["password"], "select pg_wal_replay_pause()")
        old = docker_client.containers.get(cluster["primary"])

        def kill_target_when_primary_stops():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                old.reload()
                if old.status == "exited":
                    docker_client.containers.get(cluster["standby"]).kill()
                    return
                time.sleep(0.05)
        killer = threading.Thread(target=kill_target_when_primary_stops)
        killer.start()
        res = switchover(cluster, cluster["standby"], catchup_timeout=60)
        killer.join()
        assert res.failed and "Rolled back" in res["msg"], res
        assert any("stopped" in a for a in res["actions"]), res
        assert is_primary(cluster, cluster["primary"])
        before = len(load.acks)
        load.wait_for_acks(before + 100)  # writes continue on the old primary
    finally:
        load.stop()
    assert load.report()["failed"] == 0, load.report()
    assert load.missing(stored_ids(cluster, cluster["primary"])) == []


def test_a_transaction_longer_than_pause_timeout_aborts_and_resumes(cluster):
    """PAUSE waits for running transactions; one that outlives pause_timeout aborts the switchover,
    the pooler resumes on the old primary and nothing changes."""
    held = psycopg2.connect(host="127.0.0.1", port=cluster["pooler_port"], user="app", password=APP_PASSWORD,
                            dbname="app")
    try:
        with held.cursor() as cur:
            cur.execute("select txid_current()")  # a transaction stays open on a server connection
        res = switchover(cluster, cluster["standby"], pause_timeout=2)
        assert res.failed and "PAUSE did not complete within 2 s" in res["msg"], res
        # clients were resumed: a new client gets through, the held transaction can still commit
        assert sql(cluster["pooler_port"], APP_PASSWORD, "select 1", user="app", dbname="app") == [(1,)]
        held.commit()
    finally:
        held.close()
    assert is_primary(cluster, cluster["primary"]) and not is_primary(cluster, cluster["standby"])

"""The migrate module's physical method on real containers: a plain PostgreSQL source (not made by
this collection) becomes a pgdock container of the same major version by streaming replication,
and the cutover under a write load through the application's PgBouncer loses nothing."""

from __future__ import annotations

import secrets
import threading
import time

import psycopg2
import pytest

from ansible_runner import run_module
from migrate_sources import BASE_HBA, start_plain_source, start_pooler
from pgclient import sql, unused_port
from writer_threads import WriterThreads

REPLICATION_HBA = BASE_HBA + "host    replication  all        0.0.0.0/0     scram-sha-256\n"
APP_PASSWORD = "App pw: ' \\ " + secrets.token_hex(4)
HELPER_LABEL = "org.pgdock.helper"


@pytest.fixture
def unique():
    """Names with this suite's prefix (the Docker engine is shared)."""
    token = secrets.token_hex(3)
    return lambda prefix: f"pgdock-mp-{prefix}-{token}"


@pytest.fixture
def physical(docker_client, cleanup, unique, pg_image, tmp_path):
    """physical(major, **source_options) -> a filled plain source and the module arguments of a
    physical migration into a new target of the same major."""
    def _make(major: int, hba: str = REPLICATION_HBA, **source_kw) -> dict:
        source = start_plain_source(docker_client, cleanup, unique, pg_image(major), tmp_path, hba=hba, **source_kw)
        source.sql("create role app login password %s", (APP_PASSWORD,))
        source.sql("create database app owner app")
        conn = source.connect("app")
        with conn.cursor() as cur:
            cur.execute("create table public.writes (id bigserial primary key, writer int, n int, "
                        "unique (writer, n))")
            cur.execute("create table public.events (id bigint generated always as identity primary key, note text)")
            cur.execute("insert into public.events (note) select 'e' || g from generate_series(1, 100) g")
            cur.execute("alter table public.writes owner to app")
            cur.execute("alter table public.events owner to app")
        conn.close()
        name = unique(f"mtgt{major}") + "-" + secrets.token_hex(2)
        cleanup["containers"].append(name)
        cleanup["volumes"].append(f"{name}-data")
        args = dict(name=name, method="physical", source=source.options(),
                    target=dict(image=pg_image(major), pull="never", networks=[{"name": source.network}],
                                published_port=unused_port(), secrets_dir=str(tmp_path / f"{name}-secrets"),
                                stop_timeout=20),
                    progress_file=str(tmp_path / f"{name}-progress.log"), wait_timeout=120)
        return dict(source=source, args=args, name=name, tmp=tmp_path)
    return _make


def target_sql(m, query, dbname="postgres", params=None, user="postgres", password=None):
    return sql(m["args"]["target"]["published_port"], password or m["source"].password, query, params,
               user=user, dbname=dbname)


def source_leftovers(source) -> dict:
    """What a migration may leave on the source: its slots, its role, a fence."""
    return {"slots": source.sql("select slot_name from pg_replication_slots"),
            "roles": source.sql("select rolname from pg_roles where rolname = 'pgdock_migrate'"),
            "read_only": source.sql("select current_setting('default_transaction_read_only')")[0][0]}


class Writers(WriterThreads):
    """`count` threads inserting through a port as app, each acknowledged commit recorded with
    its time; failures counted. Bounded by `seconds_max`. Writers are numbered from `first`."""

    def __init__(self, port: int, count: int = 4, seconds_max: float = 90, first: int = 0):
        super().__init__(count)
        self.port, self.deadline, self.first = port, time.monotonic() + seconds_max, first
        self.failures: list[str] = []

    def _write(self, writer: int) -> None:
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="app", password=APP_PASSWORD, dbname="app",
                                connect_timeout=10)
        conn.autocommit = True
        n = 0
        with conn.cursor() as cur:
            while not self.stop.is_set() and time.monotonic() < self.deadline:
                n += 1
                try:
                    cur.execute("insert into public.writes (writer, n) values (%s, %s)", (self.first + writer, n))
                except psycopg2.Error as exc:
                    with self.lock:
                        self.failures.append(f"writer {writer} #{n}: {exc}".strip())
                    return
                with self.lock:
                    self.acked.append((self.first + writer, n, time.monotonic()))
        conn.close()

    def longest_gap(self) -> float:
        times = sorted(t for _w, _n, t in self.acked)
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)


def cutover_under_pooler_load(m, pooler: str, pooler_port: int, on_target_sql):
    """The cutover with writers through the pooler 2 s before it and 1.5 s after; the module's result,
    the load and the acknowledged (writer, n), once the cutover succeeded, no transaction failed,
    every acknowledged write is on the target (read with `on_target_sql(m, query, dbname=)`) and
    writes went on there."""
    with Writers(pooler_port) as load:
        time.sleep(2)
        cut = run_module("migrate", dict(m["args"], state="cutover", pooler=pooler))
        time.sleep(1.5)
    assert cut.changed and not cut.failed, cut
    assert load.failures == [], load.failures[:5]
    acked = {(w, n) for w, n, _t in load.acked}
    on_target = set(on_target_sql(m, "select writer, n from public.writes", dbname="app"))
    assert len(acked) > 100 and acked <= on_target, (len(acked), len(acked - on_target))
    assert max(t for _w, _n, t in load.acked) > time.monotonic() - 30  # writes went on, on the target
    return cut, load, acked


@pytest.mark.parametrize("major", [15, 17])
def test_synced_then_cutover_behind_the_pooler_loses_nothing(major, physical, cleanup, unique, docker_client):
    m = physical(major)
    source = m["source"]
    first = run_module("migrate", m["args"])
    assert first.changed and not first.failed, first
    info = first["migration"]
    assert info["state"] == "synced" and info["streaming"] and info["lag_bytes"] <= 16 * 1024 * 1024, info
    assert "base backup" in [p["phase"] for p in first["phases"]]
    assert source.sql("select slot_name, active from pg_replication_slots") == [(m["name"].replace("-", "_"), True)]
    assert target_sql(m, "select pg_is_in_recovery()") == [(True,)]
    again = run_module("migrate", m["args"])
    assert not again.changed and not again.failed, again
    assert again["migration"]["state"] == "synced" and again["migration"]["lag_bytes"] is not None

    # the application's pooler in front of the source, which is no pgdock container
    pooler, pooler_port, pooler_args, made = start_pooler(source, cleanup, unique, m["tmp"] / "pooler", ["app"])
    assert made.changed and not made.failed, made
    assert made["pooler"]["server"] == f"{source.name}:5432" and made["pooler"]["primary"] is None
    assert not run_module("pooler", pooler_args).changed

    cut, load, acked = cutover_under_pooler_load(m, pooler, pooler_port, target_sql)
    info = cut["migration"]
    assert info["state"] == "cut_over" and info["verification"]["differences"] == [], info
    gap = load.longest_gap()
    print(f"PG{major}: {len(acked)} acknowledged writes, longest gap between commits {gap:.3f} s, "
          f"write downtime {info['write_downtime_seconds']} s, timings {info['timings']}")
    assert gap < 10, gap
    # the writes after the cutover went to the target, a primary now; the source is fenced
    assert target_sql(m, "select pg_is_in_recovery()") == [(False,)]
    with pytest.raises(psycopg2.Error, match="read-only"):
        source.sql("insert into public.events (note) values ('late')", dbname="app")
    # sequences: the next insert into serial and identity tables succeeds with no duplicate
    assert target_sql(m, "insert into public.events (note) values ('next') returning id > 100", dbname="app") == [(True,)]
    target_sql(m, "insert into public.writes (writer, n) values (-1, -1)", dbname="app")
    # the source keeps no slot for a standby that is gone; the target forgot its upstream
    assert source.sql("select slot_name from pg_replication_slots") == []
    assert target_sql(m, "show primary_conninfo") == [("",)]
    again = run_module("migrate", dict(m["args"], state="cutover", pooler=pooler))
    assert not again.changed and not again.failed, again
    refused = run_module("migrate", dict(m["args"], state="aborted"))
    assert refused.failed and "cut over already" in refused["msg"]
    progress = open(m["args"]["progress_file"], encoding="utf-8").read()
    assert source.password not in progress and source.password not in cut.stdout + first.stdout


def test_cutover_without_pooler_reports_downtime_and_connection(physical):
    m = physical(17)
    cut = run_module("migrate", dict(m["args"], state="cutover"))
    assert cut.changed and not cut.failed, cut
    info = cut["migration"]
    assert 0 < info["write_downtime_seconds"] < 30, info
    assert info["connection"] == {"container": m["name"], "host": "127.0.0.1",
                                  "port": m["args"]["target"]["published_port"]}
    assert target_sql(m, "insert into public.events (note) values ('x') returning id > 100", dbname="app") == [(True,)]
    assert target_sql(m, "select count(*) from public.events", dbname="app") == [(101,)]


def test_aborted_leaves_nothing_on_the_source(physical, docker_client):
    m = physical(17)
    before = source_leftovers(m["source"])
    assert not run_module("migrate", m["args"]).failed
    assert source_leftovers(m["source"]) != before
    gone = run_module("migrate", dict(m["args"], state="aborted"))
    assert gone.changed and not gone.failed, gone
    assert source_leftovers(m["source"]) == before
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert not docker_client.volumes.list(filters={"name": f"{m['name']}-data"})
    again = run_module("migrate", dict(m["args"], state="aborted"))
    assert not again.changed and not again.failed, again


@pytest.mark.parametrize("case", ["wal_level_minimal", "no_replication_rule", "wrong_password", "unreachable",
                                  "other_major"])
def test_bad_source_is_refused_with_its_fix_and_nothing_changes(case, physical, docker_client, pg_image):
    expected = {"wal_level_minimal": "set wal_level = replica", "no_replication_rule": "host    replication",
                "wrong_password": "password authentication failed", "unreachable": "source:",
                "other_major": "must run the source's major version"}[case]
    if case == "wal_level_minimal":
        m = physical(17, wal_level="minimal", extra_conf="max_wal_senders = 0\n")
    elif case == "no_replication_rule":
        m = physical(17, hba=BASE_HBA)
    else:
        m = physical(17)
    args = dict(m["args"])
    if case == "wrong_password":
        args["source"] = dict(args["source"], login_password="wrong")
    elif case == "unreachable":
        args["source"] = dict(args["source"], login_port=unused_port())
    elif case == "other_major":
        args["target"] = dict(args["target"], image=pg_image(15))
    before = source_leftovers(m["source"])
    result = run_module("migrate", args)
    assert result.failed, result
    assert expected in result["msg"], result["msg"]
    assert "nothing was changed" in result["msg"] or case in ("wrong_password", "unreachable"), result["msg"]
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert not docker_client.volumes.list(filters={"name": f"{m['name']}-data"})
    assert source_leftovers(m["source"]) == before


def test_copy_killed_midway_leaves_the_source_as_it_was_and_a_rerun_completes(physical, docker_client):
    m = physical(17)
    m["source"].sql("create table public.big as select g, repeat(md5(g::text), 12) as pad "
                    "from generate_series(1, 800000) g", dbname="app")
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(r=run_module("migrate", m["args"])), daemon=True)
    thread.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        for helper in docker_client.containers.list(filters={"label": HELPER_LABEL}):
            if helper.labels[HELPER_LABEL].startswith("pg_basebackup from the source into") \
                    and any(mount.get("Name") == f"{m['name']}-data" for mount in helper.attrs["Mounts"]):
                helper.kill()
                killed = helper.name
                break
        time.sleep(0.05)
    thread.join(300)
    assert killed, "no pg_basebackup helper was seen"
    failed = outcome["r"]
    assert failed.failed and "pg_basebackup" in failed["msg"] and "incomplete volume was removed" in failed["msg"], failed
    assert not docker_client.volumes.list(filters={"name": f"{m['name']}-data"})
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    # the source: no walsender, no write fence; only the role and the slot a rerun reuses
    # (the module ends the killed copy's walsender: one blocked sending to the vanished helper would
    # otherwise wait minutes for TCP to give up)
    deadline = time.monotonic() + 15
    while m["source"].sql("select count(*) from pg_stat_replication") != [(0,)]:
        assert time.monotonic() < deadline, m["source"].sql("select * from pg_stat_replication")
        time.sleep(0.5)
    left = source_leftovers(m["source"])
    assert left["read_only"] == "off" and left["roles"] == [("pgdock_migrate",)], left
    rerun = run_module("migrate", m["args"])
    assert rerun.changed and not rerun.failed, rerun
    assert rerun["migration"]["streaming"]
    assert target_sql(m, "select count(*) from public.big", dbname="app") == [(800000,)]


def test_host_process_source_through_its_socket(docker_client, cleanup, unique, pg_image, tmp_path):
    from host_sources import start_host_source
    source = start_host_source()
    try:
        source.sql("create table public.kept (id serial primary key, v text)")
        source.sql("insert into public.kept (v) select 'v' || g from generate_series(1, 1000) g")
        name = unique("mhost") + "-" + secrets.token_hex(2)
        network = name + "-net"
        docker_client.networks.create(network)
        cleanup["networks"].append(network)
        cleanup["containers"].append(name)
        cleanup["volumes"].append(f"{name}-data")
        args = dict(name=name, method="physical", source=source.options(),
                    target=dict(image=pg_image(15), pull="never", networks=[{"name": network}],
                                published_port=unused_port(), secrets_dir=str(tmp_path / "secrets"), stop_timeout=20))
        synced = run_module("migrate", args)
        assert synced.changed and not synced.failed, synced
        assert synced["migration"]["streaming"]
        assert not run_module("migrate", args).changed
        cut = run_module("migrate", dict(args, state="cutover"))
        assert cut.changed and not cut.failed, cut
        port = args["target"]["published_port"]
        assert sql(port, source.password, "insert into public.kept (v) values ('new') returning id > 1000") == [(True,)]
        assert sql(port, source.password, "select count(*) from public.kept") == [(1001,)]
        assert source.sql("select count(*) from pg_replication_slots") == [(0,)]
    finally:
        source.stop()

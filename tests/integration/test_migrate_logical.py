"""The migrate module's logical method on real containers: plain PostgreSQL 15 and 17 sources (not
made by this collection) replicated into PostgreSQL 18 with a publication and a subscription per
database, cut over under a write load."""

from __future__ import annotations

import secrets
import threading
import time

import psycopg2
import pytest
from psycopg2 import errorcodes
from psycopg2 import sql as pgsql

from ansible_runner import run_module
from migrate_sources import start_plain_source, start_pooler
from pgclient import sql, unused_port
from test_migrate_dump import HOSTILE_DB, HOSTILE_ROLE, HOSTILE_SCHEMA, HOSTILE_TABLE, fill
from test_migrate_physical import cutover_under_pooler_load
from test_migrate_physical import physical  # noqa: F401  # pylint: disable=unused-import  # a fixture
from writer_threads import WriterThreads

PREFIX = "pgdock-ml"
OUR_NAMES = "pgdock_mig_%"
WRITERS = 2
LOAD_MAX_SECONDS = 90


@pytest.fixture
def unique():
    """Names of this file's Docker objects start with its own prefix."""
    token = secrets.token_hex(3)
    return lambda prefix: f"{PREFIX}-{prefix}-{token}"


def make_migration(docker_client, cleanup, unique, pg_image, tmp_path, major: int = 17, wal_level: str = "logical",
                   **source_options):
    source = start_plain_source(docker_client, cleanup, unique, pg_image(major), tmp_path, wal_level=wal_level,
                                **source_options)
    name = unique("mtgt") + "-" + secrets.token_hex(2)
    cleanup["containers"].append(name)
    cleanup["volumes"].append(f"{name}-data")
    args = dict(name=name, method="logical", source=source.options(),
                superuser_password="Tgt-pw-" + secrets.token_hex(6),
                target=dict(image=pg_image(18), pull="never", networks=[{"name": source.network}],
                            published_port=unused_port(), secrets_dir=str(tmp_path / "target-secrets"),
                            stop_timeout=20),
                progress_file=str(tmp_path / "progress.log"), wait_timeout=120)
    return dict(source=source, args=args, name=name, tmp=tmp_path)


@pytest.fixture
def migration_factory(docker_client, cleanup, unique, pg_image, tmp_path):
    return lambda **kw: make_migration(docker_client, cleanup, unique, pg_image, tmp_path, **kw)


def target_sql(m, query, dbname="postgres", params=None):
    return sql(m["args"]["target"]["published_port"], m["args"]["superuser_password"], query, params, dbname=dbname)


def source_leftovers(source) -> dict:
    """What of a migration is on the source: slots, publications (in every database), our role."""
    found = {"slots": [r[0] for r in source.sql("select slot_name from pg_replication_slots")],
             "publications": [], "role": source.sql("select count(*) from pg_roles where rolname = 'pgdock_migrate'")[0][0]}
    for (database,) in source.sql("select datname from pg_database where datallowconn"):
        found["publications"] += [r[0] for r in source.sql("select pubname from pg_publication where pubname like %s",
                                                           [OUR_NAMES], dbname=database)]
    return found


def assert_source_clean(source) -> None:
    assert source_leftovers(source) == {"slots": [], "publications": [], "role": 0}


class Writers(WriterThreads):
    """Writer threads inserting (writer, n) rows into `load` of a database: on the source until it
    refuses (read-only, or the session ended), then against the target, retrying the same row; each
    acknowledged commit is recorded as (time, writer, n). Bounded in rows and time."""

    join_seconds = LOAD_MAX_SECONDS + 10

    def __init__(self, m, dbname: str, max_rows: int = 30000):
        super().__init__(WRITERS)
        self.m, self.dbname, self.max_rows = m, dbname, max_rows
        self.errors: list[str] = []

    def _connect(self, on_target: bool):
        m = self.m
        if on_target:
            conn = psycopg2.connect(host="127.0.0.1", port=m["args"]["target"]["published_port"], user="postgres",
                                    password=m["args"]["superuser_password"], dbname=self.dbname, connect_timeout=3)
        else:
            conn = m["source"].connect(self.dbname)
        conn.autocommit = True
        return conn

    def _write(self, writer: int) -> None:
        on_target, conn, n = False, None, 0
        began = time.monotonic()
        while not self.stop.is_set() and n < self.max_rows and time.monotonic() - began < LOAD_MAX_SECONDS:
            try:
                conn = conn or self._connect(on_target)
                with conn.cursor() as cur:
                    cur.execute("insert into load (writer, n) values (%s, %s)", [writer, n])
                with self.lock:
                    self.acked.append((time.monotonic(), writer, n))
                n += 1
                time.sleep(0.002)
            except psycopg2.IntegrityError as exc:
                if exc.pgcode != errorcodes.UNIQUE_VIOLATION:
                    raise
                n += 1  # committed on the source, its acknowledgement lost with the session: replicated
            except psycopg2.Error as exc:
                self.errors.append(str(exc).splitlines()[0])
                if conn is not None:
                    conn.close()
                conn, on_target = None, True
                time.sleep(0.01)
        if conn is not None:
            conn.close()

    def longest_gap(self) -> float:
        times = sorted(t for t, _w, _n in self.acked)
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)


@pytest.mark.parametrize("major", [15, 17])
def test_synced_rerun_and_cutover_under_write_load(major, migration_factory, docker_client):
    m = migration_factory(major=major)
    source = m["source"]
    role_password = "R0le pw:" + secrets.token_hex(4) + "'\\"
    fill(source, role_password)
    source.sql("create table public.load (writer int, n int, primary key (writer, n))", dbname=HOSTILE_DB)
    source.sql("create materialized view public.plain_total as select count(*) as n from public.plain")
    source.sql("create materialized view public.aa_plain_total_x2 as select n * 2 as n2 from public.plain_total")

    first = run_module("migrate", m["args"])
    assert first.changed and not first.failed, first
    info = first["migration"]
    assert info["state"] == "synced" and info["tables"] >= 4, info
    assert any("create subscription" in a for a in first["actions"]), first["actions"]
    # the subscriptions log in with a passfile of the target's secrets mount: no password in the catalog
    conninfos = [r[0] for r in target_sql(m, "select subconninfo from pg_subscription")]
    assert len(conninfos) == 2 and all("passfile=" in c and "password" not in c for c in conninfos), conninfos
    progress = (m["tmp"] / "progress.log").read_text()
    assert "tables copied" in progress and source.password not in progress, progress
    # streaming: a change on the source arrives
    source.sql("insert into public.plain values (100)")
    deadline = time.monotonic() + 30
    while target_sql(m, "select count(*) from public.plain where id = 100")[0][0] == 0:
        assert time.monotonic() < deadline, "the change did not arrive"
        time.sleep(0.2)
    # in sync: a second run changes nothing and reports the lag
    again = run_module("migrate", m["args"])
    assert not again.changed and not again.failed, again
    assert again["migration"]["state"] == "synced" and again["migration"]["lag_bytes"] is not None
    # the target refuses client writes before the cutover
    with pytest.raises(psycopg2.Error, match="read-only"):
        target_sql(m, "insert into public.plain values (101)")

    with Writers(m, HOSTILE_DB) as load:
        time.sleep(2)
        cut = run_module("migrate", dict(m["args"], state="cutover"))
        time.sleep(2)
    assert cut.changed and not cut.failed, cut
    info = cut["migration"]
    assert info["state"] == "cut_over" and 0 < info["write_downtime_seconds"] < 5, info
    assert info["verification"]["differences"] == []
    assert info["sequences_set"] >= 2 and info["materialized_views_refreshed"] == 2
    assert target_sql(m, "select n2 from public.aa_plain_total_x2")[0][0] == 22  # 10 rows, and id 100
    # no acknowledged write lost: every one is on the target
    acked = {(w, n) for _t, w, n in load.acked}
    on_target = set(target_sql(m, "select writer, n from load", dbname=HOSTILE_DB))
    assert acked and acked <= on_target, sorted(acked - on_target)[:10]
    assert any(n > 0 for _t, _w, n in load.acked)
    gap = load.longest_gap()
    print(f"PostgreSQL {major} -> 18: write downtime {info['write_downtime_seconds']} s (module), "
          f"longest gap between acknowledged commits {gap:.3f} s, {len(acked)} commits, timings {info['timings']}")
    # sequences: serial and identity inserts succeed without collision; the role's password works
    conn = psycopg2.connect(host="127.0.0.1", port=m["args"]["target"]["published_port"], user=HOSTILE_ROLE,
                            password=role_password, dbname=HOSTILE_DB)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(pgsql.SQL("insert into {} (label) values ('next') returning id").format(
            pgsql.Identifier(HOSTILE_SCHEMA, HOSTILE_TABLE)))
        assert cur.fetchone()[0] == 501
        cur.execute("insert into public.events default values returning id")
        assert cur.fetchone()[0] == 3
    conn.close()
    # nothing of the migration is left on either side; the source takes no writes
    assert_source_clean(source)
    assert target_sql(m, "select count(*) from pg_subscription")[0][0] == 0
    with pytest.raises(psycopg2.Error, match="read-only"):
        source.sql("insert into public.plain values (102)")
    again = run_module("migrate", dict(m["args"], state="cutover"))
    assert not again.changed and not again.failed, again


def test_cutover_behind_the_pooler_fails_no_transaction(physical, pg_image, cleanup, unique):  # noqa: F811
    m = physical(17, wal_level="logical")
    m["args"].update(method="logical", superuser_password="Tgt-pw-" + secrets.token_hex(6),
                     target=dict(m["args"]["target"], image=pg_image(18)))
    synced = run_module("migrate", m["args"])
    assert synced.changed and not synced.failed, synced
    pooler, pooler_port, _args, made = start_pooler(m["source"], cleanup, unique, m["tmp"] / "pooler", ["app"])
    assert made.changed and not made.failed, made
    cut, load, acked = cutover_under_pooler_load(m, pooler, pooler_port, target_sql)
    info = cut["migration"]
    print(f"behind the pooler: {len(acked)} acknowledged writes, 0 failed, longest gap {load.longest_gap():.3f} s, "
          f"write downtime {info['write_downtime_seconds']} s, timings {info['timings']}")
    # the serial column's sequence went on from the source's value: no duplicate key under load
    assert target_sql(m, "select count(*) = count(distinct id) from public.writes", dbname="app") == [(True,)]
    assert_source_clean(m["source"])


def test_blocking_tables_are_refused_then_accepted_and_aborted(migration_factory, docker_client):
    m = migration_factory()
    source = m["source"]
    source.sql('create table public."no key ""x""" (a int, b text)')
    source.sql("insert into public.\"no key \"\"x\"\"\" values (1, 'one'), (2, 'two')")
    source.sql("create unlogged table public.scratch (id int primary key)")
    source.sql("insert into public.scratch values (1), (2), (3)")
    source.sql("create table public.keyed (id int primary key)")
    lo = source.sql("select lo_from_bytea(0, 'blob')")[0][0]
    refused = run_module("migrate", m["args"])
    assert refused.failed, refused
    msg = refused["msg"]
    assert 'public."no key ""x"""' in msg and "replica_identity_full" in msg, msg
    assert "public.scratch" in msg and "unlogged" in msg, msg
    assert "1 large objects" in msg and "method dump" in msg, msg
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert_source_clean(source)

    source.sql("select lo_unlink(%s)", [lo])
    args = dict(m["args"], replica_identity_full=True, skip_tables=["public.scratch"])
    planned = run_module("migrate", dict(args, state="cutover"), check=True)
    assert planned.changed and not planned.failed, planned
    assert planned["migration"]["state"] == "planned"
    plan = " | ".join(planned["actions"])
    assert "REPLICA IDENTITY FULL" in plan and "create publication" in plan and "set every sequence" in plan, plan
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert_source_clean(source)
    synced = run_module("migrate", args)
    assert synced.changed and not synced.failed, synced
    # the table without a key replicates its updates and deletes (REPLICA IDENTITY FULL on the source)
    assert source.sql("select relreplident from pg_class where relname = 'no key \"x\"'")[0][0] == "f"
    source.sql("update public.\"no key \"\"x\"\"\" set b = 'uno' where a = 1")
    source.sql("delete from public.\"no key \"\"x\"\"\" where a = 2")
    deadline = time.monotonic() + 30
    while target_sql(m, 'select array_agg(b order by a) from public."no key ""x"""')[0][0] != ["uno"]:
        assert time.monotonic() < deadline, target_sql(m, 'select * from public."no key ""x"""')
        time.sleep(0.2)
    assert target_sql(m, "select count(*) from public.scratch")[0][0] == 0  # copied at cutover only
    assert source.sql("select count(*) from pg_publication_tables where pubname like %s", [OUR_NAMES])[0][0] == 2

    aborted = run_module("migrate", dict(args, state="aborted"))
    assert aborted.changed and not aborted.failed, aborted
    assert_source_clean(source)
    assert source.sql("select relreplident from pg_class where relname = 'no key \"x\"'")[0][0] == "d"
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    again = run_module("migrate", dict(args, state="aborted"))
    assert not again.changed and not again.failed, again


def test_wal_level_replica_is_refused_with_the_fix(migration_factory, docker_client):
    m = migration_factory(wal_level="replica")
    result = run_module("migrate", m["args"])
    assert result.failed, result
    assert "wal_level = logical" in result["msg"] and "restart" in result["msg"], result["msg"]
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert_source_clean(m["source"])


def test_no_rule_for_the_replication_role_is_refused_with_the_line_to_add(migration_factory, docker_client):
    m = migration_factory(hba="local all all trust\nhost all postgres 0.0.0.0/0 scram-sha-256\n")
    result = run_module("migrate", m["args"])
    assert result.failed, result
    msg = result["msg"]
    assert "does not let 'pgdock_migrate' connect (postgres)" in msg, msg
    subnet = docker_client.networks.get(m["source"].network).attrs["IPAM"]["Config"][0]["Subnet"]
    assert f"host    postgres   pgdock_migrate   {subnet}   scram-sha-256" in msg and "pg_reload_conf" in msg, msg
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert_source_clean(m["source"])


def test_target_killed_during_the_copy_then_rerun_completes(migration_factory, docker_client):
    m = migration_factory()
    source = m["source"]
    source.sql("create table public.big (id bigint primary key, pad text)")
    source.sql("insert into public.big select g, repeat('x', 200) from generate_series(1, 1500000) g")
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(result=run_module("migrate", m["args"])), daemon=True)
    runner.start()
    deadline = time.monotonic() + 180
    while True:  # the initial copy of public.big is under way
        assert time.monotonic() < deadline and runner.is_alive(), outcome
        try:
            if target_sql(m, "select count(*) from pg_subscription_rel where srsubstate = 'd'")[0][0]:
                break
        except psycopg2.Error:
            pass
        time.sleep(0.2)
    docker_client.containers.get(m["name"]).kill()
    runner.join(200)
    assert outcome["result"].failed, outcome["result"]
    # the source is untouched: it takes writes, its data is whole
    source.sql("insert into public.big values (0, 'after')")
    assert source.sql("select count(*) from public.big")[0][0] == 1500001
    assert source.sql("select current_setting('default_transaction_read_only')")[0][0] == "off"

    rerun = run_module("migrate", dict(m["args"], wait_timeout=240), timeout=600)
    assert rerun.changed and not rerun.failed, rerun
    assert target_sql(m, "select count(*) from public.big")[0][0] == 1500001
    aborted = run_module("migrate", dict(m["args"], state="aborted"))
    assert not aborted.failed, aborted
    assert_source_clean(source)

"""The migrate module's logical method with reverse_replication on real containers: a PostgreSQL 15
(and 17) source made by the container module, migrated into PostgreSQL 18; after the cutover the
source subscribes to the target, `state: reverted` switches the clients back behind the pooler
without losing a write, `state: finalized` ends the reverse replication instead."""

from __future__ import annotations

import os
import secrets
import time

import psycopg2
import pytest

from ansible_runner import run_module
from migrate_sources import PlainSource, start_pooler
from pgclient import unused_port
from test_migrate_logical import target_sql
from test_migrate_physical import APP_PASSWORD, Writers, cutover_under_pooler_load

PREFIX = "pgrv"
REVERSE_PGPASS = "pgdock-migrate-reverse.pgpass"


@pytest.fixture
def unique():
    """Names of this file's Docker objects start with its own prefix (pg_server uses it too)."""
    token = secrets.token_hex(3)
    return lambda prefix: f"{PREFIX}-{prefix}-{token}"


class PgdockSource(PlainSource):
    """A source made by the container module, driven like the plain sources of the other tests."""

    def __init__(self, docker_client, server: dict):  # pylint: disable=super-init-not-called
        self.client, self.name, self.network, self.image = docker_client, server["name"], server["network"], None
        self.conf_dir, self.password, self.port = None, server["password"], server["port"]
        self.secrets_dir = server["secrets_dir"]

    def options(self, **extra) -> dict:
        return super().options(container=self.name, **extra)


@pytest.fixture
def reverse_migration(docker_client, cleanup, unique, pg_image, pg_server, tmp_path):
    """reverse_migration(major) -> a pgdock source of `major` with an app database, and the module
    arguments of a logical migration with reverse_replication into a new PostgreSQL 18 target."""
    def _make(major: int) -> dict:
        server = pg_server(major, settings={"wal_level": "logical"})
        source = PgdockSource(docker_client, server)
        source.sql("create role app login password %s", (APP_PASSWORD,))
        source.sql("create database app owner app")
        conn = source.connect("app")
        with conn.cursor() as cur:
            cur.execute("create table public.writes (id bigserial primary key, writer int, n int, unique (writer, n))")
            cur.execute("create table public.events (id bigint generated always as identity primary key, note text)")
            cur.execute("insert into public.events (note) select 'e' || g from generate_series(1, 100) g")
            cur.execute("alter table public.writes owner to app")
            cur.execute("alter table public.events owner to app")
        conn.close()
        name = unique("mtgt") + "-" + secrets.token_hex(2)
        cleanup["containers"].append(name)
        cleanup["volumes"].append(f"{name}-data")
        args = dict(name=name, method="logical", source=source.options(), reverse_replication=True,
                    superuser_password="Tgt-pw-" + secrets.token_hex(6),
                    target=dict(image=pg_image(18), pull="never", networks=[{"name": source.network}],
                                published_port=unused_port(), secrets_dir=str(tmp_path / f"{name}-secrets"),
                                stop_timeout=20),
                    progress_file=str(tmp_path / f"{name}-progress.log"), wait_timeout=120)
        return dict(source=source, args=args, name=name, tmp=tmp_path)
    return _make


def reverse_objects(m) -> dict:
    """The reverse replication's objects: subscriptions on the source, slots and publications on the
    target, the passfile in the source's secrets directory."""
    source = m["source"]
    found = {"subscriptions": source.sql("select count(*) from pg_subscription")[0][0],
             "slots": [r[0] for r in target_sql(m, "select slot_name from pg_replication_slots")], "publications": 0,
             "passfile": os.path.exists(os.path.join(source.secrets_dir, REVERSE_PGPASS))}
    for database in ("postgres", "app"):
        found["publications"] += target_sql(m, "select count(*) from pg_publication", dbname=database)[0][0]
    return found


def wait_on_source(source, rows: set, what: str, seconds: float = 30) -> None:
    """Wait until every (writer, n) of `rows` is in the source's public.writes."""
    deadline = time.monotonic() + seconds
    while True:
        missing = rows - set(source.sql("select writer, n from public.writes", dbname="app"))
        if not missing:
            return
        assert time.monotonic() < deadline, f"{len(missing)} {what} not on the source: {sorted(missing)[:5]}"
        time.sleep(0.3)


def test_cutover_with_reverse_replication_then_revert_behind_the_pooler(reverse_migration, cleanup, unique,
                                                                        docker_client):
    m = reverse_migration(15)
    source, args = m["source"], m["args"]
    synced = run_module("migrate", args)
    assert synced.changed and not synced.failed, synced
    assert target_sql(m, "show wal_level") == [("logical",)]   # the target can publish back
    pooler, pooler_port, _pooler_args, made = start_pooler(source, cleanup, unique, m["tmp"] / "pooler", ["app"])
    assert made.changed and not made.failed, made

    # the cutover under load through the pooler: nothing fails, every acknowledged write on the target
    cut, _load, acked = cutover_under_pooler_load(m, pooler, pooler_port, target_sql)
    info = cut["migration"]
    reverse = info["reverse_replication"]
    assert reverse["subscribed"] and sorted(reverse["slots"]) == ["app", "postgres"], reverse
    objects = reverse_objects(m)
    assert objects == {"subscriptions": 2, "slots": sorted(reverse["slots"].values()), "publications": 2,
                       "passfile": True}, objects
    # every write the target took (and those before) arrive on the source, which clients still cannot write
    wait_on_source(source, acked, "acknowledged writes")
    with pytest.raises(psycopg2.Error, match="read-only"):
        source.sql("insert into public.writes (writer, n) values (-1, -1)", dbname="app")
    print(f"cutover: write downtime {info['write_downtime_seconds']} s, timings {info['timings']}")
    again = run_module("migrate", dict(args, state="cutover", pooler=pooler))
    assert not again.changed and not again.failed, again
    # an abort after the cutover is refused and points to the way back
    refused = run_module("migrate", dict(args, state="aborted"))
    assert refused.failed and "state reverted" in refused["msg"], refused
    assert docker_client.containers.get(m["name"]).status == "running"

    planned = run_module("migrate", dict(args, state="reverted", pooler=pooler), check=True)
    assert planned.changed and not planned.failed, planned
    assert planned["migration"]["state"] == "planned"
    assert any("repoint pooler" in a for a in planned["actions"]), planned["actions"]
    assert reverse_objects(m) == objects
    with pytest.raises(psycopg2.Error, match="read-only"):
        source.sql("insert into public.writes (writer, n) values (-1, -1)", dbname="app")

    # the way back under load through the pooler
    with Writers(pooler_port, first=10) as load:
        time.sleep(2)
        reverted = run_module("migrate", dict(args, state="reverted", pooler=pooler))
        done = time.monotonic()
        time.sleep(1.5)
    assert reverted.changed and not reverted.failed, reverted
    assert load.failures == [], load.failures[:5]
    back = {(w, n) for w, n, _t in load.acked}
    assert len(back) > 100 and max(t for _w, _n, t in load.acked) > done   # writes went on after the revert
    on_source = set(source.sql("select writer, n from public.writes", dbname="app"))
    assert acked | back <= on_source, len((acked | back) - on_source)
    info = reverted["migration"]
    assert info["state"] == "reverted" and 0 < info["write_downtime_seconds"] < 5, info
    print(f"revert: {len(back)} acknowledged writes, 0 failed, longest gap {load.longest_gap():.3f} s, write "
          f"downtime {info['write_downtime_seconds']} s, timings {info['timings']}")
    # the writes after the revert went to the source only: the target is read-only and subscribes to nothing
    after = {(w, n) for w, n, t in load.acked if t > done}
    on_target = set(target_sql(m, "select writer, n from public.writes", dbname="app"))
    assert after and not after & on_target
    with pytest.raises(psycopg2.Error, match="read-only"):
        target_sql(m, "insert into public.writes (writer, n) values (-2, -2)", dbname="app")
    # the source's sequences went on from the target's: the next inserts succeed
    top = source.sql("select max(id) from public.writes", dbname="app")[0][0]
    conn = psycopg2.connect(host="127.0.0.1", port=source.port, user="app", password=APP_PASSWORD, dbname="app")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("insert into public.writes (writer, n) values (-3, -3) returning id")
        assert cur.fetchone()[0] > top
        cur.execute("insert into public.events (note) values ('after') returning id")
        assert cur.fetchone()[0] == 101
    conn.close()
    assert reverse_objects(m) == {"subscriptions": 0, "slots": [], "publications": 0, "passfile": False}
    assert target_sql(m, "select count(*) from pg_roles where rolname = 'pgdock_migrate'") == [(0,)]
    again = run_module("migrate", dict(args, state="reverted", pooler=pooler))
    assert not again.changed and not again.failed, again
    assert again["migration"]["state"] == "reverted"
    # after the revert, aborted removes the target; nothing of the migration stays on the source
    aborted = run_module("migrate", dict(args, state="aborted"))
    assert aborted.changed and not aborted.failed, aborted
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert source.sql("select count(*) from pg_replication_slots") == [(0,)]
    assert source.sql("select count(*) from pg_roles where rolname = 'pgdock_migrate'") == [(0,)]


def test_refused_without_a_source_container_and_finalized_drops_the_reverse(reverse_migration, docker_client):
    m = reverse_migration(17)
    source, args = m["source"], m["args"]
    options = dict(args["source"])
    options.pop("container")
    refused = run_module("migrate", dict(args, source=options, state="cutover"))
    assert refused.failed, refused
    assert "reverse_replication" in refused["msg"] and "source.container" in refused["msg"], refused["msg"]
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert source.sql("select count(*) from pg_replication_slots") == [(0,)]
    assert source.sql("select count(*) from pg_roles where rolname = 'pgdock_migrate'") == [(0,)]
    wrong = run_module("migrate", dict(args, source=dict(options, container="pgrv-no-such-container"),
                                       state="cutover"))
    assert wrong.failed and "source.container" in wrong["msg"], wrong
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})

    cut = run_module("migrate", dict(args, state="cutover"))
    assert cut.changed and not cut.failed, cut
    assert cut["migration"]["reverse_replication"]["subscribed"]
    # PostgreSQL 16 and later: the reverse subscriptions take only the target's own changes
    assert source.sql("select subname, suborigin from pg_subscription")[0][1] == "none"
    target_sql(m, "insert into public.writes (writer, n) values (1, 1)", dbname="app")
    wait_on_source(source, {(1, 1)}, "the write on the target")

    planned = run_module("migrate", dict(args, state="finalized"), check=True)
    assert planned.changed and not planned.failed and planned["migration"]["state"] == "planned", planned
    assert reverse_objects(m)["subscriptions"] == 2
    final = run_module("migrate", dict(args, state="finalized"))
    assert final.changed and not final.failed, final
    assert final["migration"]["state"] == "finalized"
    assert reverse_objects(m) == {"subscriptions": 0, "slots": [], "publications": 0, "passfile": False}
    assert target_sql(m, "select count(*) from pg_roles where rolname = 'pgdock_migrate'") == [(0,)]
    # the target goes on taking writes, the source stays read-only and receives no more
    target_sql(m, "insert into public.writes (writer, n) values (1, 2)", dbname="app")
    with pytest.raises(psycopg2.Error, match="read-only"):
        source.sql("insert into public.writes (writer, n) values (-1, -1)", dbname="app")
    again = run_module("migrate", dict(args, state="finalized"))
    assert not again.changed and not again.failed, again
    back = run_module("migrate", dict(args, state="reverted"))
    assert back.failed and "finalized" in back["msg"], back
    assert target_sql(m, "select count(*) from public.writes where n = 2", dbname="app") == [(1,)]
    assert source.sql("select count(*) from public.writes where n = 2", dbname="app") == [(0,)]

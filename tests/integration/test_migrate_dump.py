"""The migrate module's dump method on real containers: a plain PostgreSQL 17 source (not made by
this collection) copied into a PostgreSQL 18 target with pg_dumpall globals and pg_dump/pg_restore."""

from __future__ import annotations

import secrets
import threading
import time

import psycopg2
import pytest
from psycopg2 import sql as pgsql

from ansible_runner import run_module
from migrate_sources import start_plain_source
from pgclient import sql, unused_port

HOSTILE_DB = 'shop "eu"; select 1 -- ünï'
HOSTILE_SCHEMA = "sales $(id) `x`"
HOSTILE_TABLE = "order's items"
HOSTILE_ROLE = "app user \"ro\" ü"


def fill(source, role_password: str) -> None:
    """Roles, a database, schema and tables with hostile names, serial and identity columns, a view."""
    source.sql(pgsql.SQL("create role {} login password {}").format(
        pgsql.Identifier(HOSTILE_ROLE), pgsql.Literal(role_password)))
    source.sql(pgsql.SQL("create database {} owner {}").format(
        pgsql.Identifier(HOSTILE_DB), pgsql.Identifier(HOSTILE_ROLE)))
    conn = source.connect(HOSTILE_DB)
    with conn.cursor() as cur:
        cur.execute(pgsql.SQL("create schema {} authorization {}").format(
            pgsql.Identifier(HOSTILE_SCHEMA), pgsql.Identifier(HOSTILE_ROLE)))
        table = pgsql.Identifier(HOSTILE_SCHEMA, HOSTILE_TABLE)
        cur.execute(pgsql.SQL("create table {} (id serial primary key, label text)").format(table))
        cur.execute(pgsql.SQL("insert into {} (label) select 'item ' || g from generate_series(1, 500) g").format(table))
        cur.execute(pgsql.SQL("alter table {} owner to {}").format(table, pgsql.Identifier(HOSTILE_ROLE)))
        cur.execute("create table public.events (id bigint generated always as identity primary key, at timestamptz default now())")
        cur.execute("insert into public.events default values")
        cur.execute("insert into public.events default values")
        cur.execute(pgsql.SQL("alter table public.events owner to {}").format(pgsql.Identifier(HOSTILE_ROLE)))
    conn.close()
    source.sql("create table public.plain (id int primary key)")
    source.sql("insert into public.plain select generate_series(1, 10)")


@pytest.fixture
def migration(docker_client, cleanup, unique, pg_image, tmp_path):
    """A filled source and the module arguments of a dump migration into a new 18 target."""
    source = start_plain_source(docker_client, cleanup, unique, pg_image(17), tmp_path)
    role_password = "R0le pw:" + secrets.token_hex(4) + "'\\"
    fill(source, role_password)
    name = unique("mtgt") + "-" + secrets.token_hex(2)
    cleanup["containers"].append(name)
    cleanup["volumes"] += [f"{name}-data", f"{name}-migrate-dump"]
    secrets_dir = tmp_path / "target-secrets"
    args = dict(name=name, method="dump", source=source.options(),
                superuser_password="Tgt-pw-" + secrets.token_hex(6),
                target=dict(image=pg_image(18), pull="never", networks=[{"name": source.network}],
                            published_port=unused_port(), secrets_dir=str(secrets_dir), stop_timeout=20),
                progress_file=str(tmp_path / "progress.log"))
    return dict(source=source, args=args, name=name, role_password=role_password, tmp=tmp_path)


def pgsql_quote(name: str) -> str:
    """A name as quote_ident writes it."""
    return '"' + name.replace('"', '""') + '"'


def target_sql(m, query, dbname="postgres", params=None, user="postgres", password=None):
    return sql(m["args"]["target"]["published_port"], password or m["args"]["superuser_password"], query,
               params, user=user, dbname=dbname)


def test_check_mode_plans_and_changes_nothing(migration, docker_client):
    result = run_module("migrate", dict(migration["args"], state="cutover"), check=True)
    assert not result.failed, result
    assert result.changed
    assert result["migration"]["state"] == "planned"
    assert any("pg_dump -Fd -j 2" in a for a in result["actions"]), result["actions"]
    assert any("read-only" in a for a in result["actions"])
    assert not docker_client.containers.list(all=True, filters={"name": migration["name"]})
    assert migration["source"].sql("select current_setting('default_transaction_read_only')")[0][0] == "off"


def test_synced_then_cutover_copies_everything_and_stops_writes(migration):
    m, source = migration, migration["source"]
    first = run_module("migrate", m["args"])
    assert first.changed and not first.failed, first
    assert first["migration"]["state"] == "synced"
    phases = [p["phase"] for p in first["phases"]]
    assert "globals" in phases and f"dump {HOSTILE_DB}" in phases and f"restore {HOSTILE_DB}" in phases, phases
    again = run_module("migrate", m["args"])
    assert not again.changed and not again.failed, again
    assert again["migration"]["state"] == "synced"

    source.sql("insert into public.plain values (11)")  # after the rehearsal: the cutover copies it
    cut = run_module("migrate", dict(m["args"], state="cutover"))
    assert cut.changed and not cut.failed, cut
    info = cut["migration"]
    assert info["state"] == "cut_over" and info["write_downtime_seconds"] > 0
    assert info["verification"]["differences"] == [] and info["verification"]["tables"] >= 3
    assert info["connection"]["port"] == m["args"]["target"]["published_port"]
    # the source takes no more writes
    with pytest.raises(psycopg2.Error, match="read-only"):
        source.sql("insert into public.plain values (12)")
    # everything arrived, with hostile names, owners and the role's password
    assert target_sql(m, "select count(*) from public.plain")[0][0] == 11
    table = pgsql.Identifier(HOSTILE_SCHEMA, HOSTILE_TABLE)
    conn = psycopg2.connect(host="127.0.0.1", port=m["args"]["target"]["published_port"], user=HOSTILE_ROLE,
                            password=m["role_password"], dbname=HOSTILE_DB)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(pgsql.SQL("select count(*) from {}").format(table))
        assert cur.fetchone()[0] == 500
        # sequences: the next insert into serial and identity tables succeeds
        cur.execute(pgsql.SQL("insert into {} (label) values ('next') returning id").format(table))
        assert cur.fetchone()[0] == 501
        cur.execute("insert into public.events default values returning id")
        assert cur.fetchone()[0] == 3
    conn.close()
    # the target superuser kept its own password (the source's globals carried another)
    assert target_sql(m, "select 1")[0][0] == 1
    progress = (m["tmp"] / "progress.log").read_text()
    assert f"dump {HOSTILE_DB} 100%" in progress, progress
    assert m["args"]["source"]["login_password"] not in progress
    assert m["args"]["source"]["login_password"] not in cut.stdout
    again = run_module("migrate", dict(m["args"], state="cutover"))
    assert not again.changed and not again.failed, again
    assert again["migration"]["state"] == "cut_over"
    refused = run_module("migrate", dict(m["args"], state="aborted"))
    assert refused.failed and "cut over already" in refused["msg"]


def test_aborted_removes_the_target_and_lets_the_source_write(migration, docker_client):
    m = migration
    assert not run_module("migrate", m["args"]).failed
    aborted = run_module("migrate", dict(m["args"], state="aborted"))
    assert aborted.changed and not aborted.failed, aborted
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert not docker_client.volumes.list(filters={"name": f"{m['name']}-data"})
    m["source"].sql("insert into public.plain values (99)")
    again = run_module("migrate", dict(m["args"], state="aborted"))
    assert not again.changed and not again.failed, again


@pytest.mark.parametrize("case", ["older_target", "wrong_password", "unreachable", "volume_exists", "bad_target_option",
                                  "fence_override"])
def test_bad_input_is_refused_and_changes_nothing(case, migration, docker_client, pg_image, cleanup):
    m = migration
    args = dict(m["args"])
    expected = {"older_target": "older than the source", "wrong_password": "password authentication failed",
                "unreachable": "source:", "volume_exists": "exists already",
                "bad_target_option": "unknown options",
                "fence_override": f"default_transaction_read_only is set for role {pgsql_quote(HOSTILE_ROLE)}"}[case]
    if case == "older_target":
        args["target"] = dict(args["target"], image=pg_image(15))
    elif case == "wrong_password":
        args["source"] = dict(args["source"], login_password="wrong")
    elif case == "unreachable":
        args["source"] = dict(args["source"], login_port=unused_port())
    elif case == "volume_exists":
        docker_client.volumes.create(f"{m['name']}-data")
    elif case == "fence_override":
        m["source"].sql(pgsql.SQL("alter role {} set default_transaction_read_only = off").format(
            pgsql.Identifier(HOSTILE_ROLE)))
        m["source"].sql("create role reporter login")  # a read-only role does not undo the fence: fine
        m["source"].sql("alter role reporter set default_transaction_read_only = on")
    else:
        args["target"] = dict(args["target"], nonsense=True)
    result = run_module("migrate", args)
    assert result.failed, result
    assert expected in result["msg"], result["msg"]
    assert not docker_client.containers.list(all=True, filters={"name": m["name"]})
    assert m["source"].sql("select count(*) from pg_roles where rolname = 'pgdock_migrate'")[0][0] == 0
    assert m["source"].sql("select current_setting('default_transaction_read_only')")[0][0] == "off"


def test_playbook_migrates_with_the_server_roles_variables(migration):
    from ansible_runner import REPO, run_playbook, task_results
    m = migration
    target = m["args"]["target"]
    extra = dict(pgdock_hosts="localhost", pgdock_migrate_method="dump", pgdock_migrate_step="cutover",
                 pgdock_migrate_source=m["args"]["source"], pgdock_server_name=m["name"],
                 pgdock_server_image=target["image"], pgdock_server_pull="never",
                 pgdock_server_networks=target["networks"], pgdock_server_published_port=target["published_port"],
                 pgdock_server_secrets_dir=target["secrets_dir"],
                 pgdock_server_superuser_password=m["args"]["superuser_password"])
    proc = run_playbook(REPO / "playbooks" / "migrate.yml", extra)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = [t for t in task_results(proc) if t["_task"] == "Summary"][0]["msg"]
    assert f"into {m['name']}: cut_over" in summary and "writes stopped for" in summary, summary
    assert "verified" in summary and "dump shop" in summary, summary
    assert m["args"]["source"]["login_password"] not in proc.stdout
    assert target_sql(m, "select count(*) from public.plain")[0][0] == 10


def test_target_killed_during_the_copy_rolls_the_cutover_back(migration, docker_client):
    """The target dies while pg_restore writes into it: the cutover fails, the source takes writes
    again and holds what it held; a rerun copies everything into a fresh target."""
    m, source = migration, migration["source"]
    source.sql("create table public.bulk as select g as id, repeat('x', 200) as pad from generate_series(1, 400000) g")
    progress = m["tmp"] / "progress.log"
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(result=run_module("migrate", dict(m["args"], state="cutover"))))
    runner.start()
    deadline = time.monotonic() + 240
    while "restore postgres" not in (progress.read_text() if progress.exists() else ""):
        assert time.monotonic() < deadline and runner.is_alive(), progress.read_text() if progress.exists() else "no progress"
        time.sleep(0.1)
    docker_client.containers.get(m["name"]).kill()
    runner.join(timeout=300)
    failed = outcome["result"]
    assert failed.failed and "Rolled back: the source takes writes again" in failed["msg"], failed
    source.sql("insert into public.plain values (77)")  # writable again
    assert source.sql("select count(*) from public.bulk")[0][0] == 400000
    assert source.sql("select count(*) from pg_roles where rolname = 'pgdock_migrate'")[0][0] == 0
    rerun = run_module("migrate", dict(m["args"], state="cutover"))
    assert rerun.changed and not rerun.failed, rerun
    assert target_sql(m, "select count(*) from public.bulk")[0][0] == 400000
    assert target_sql(m, "select count(*) from public.plain")[0][0] == 11

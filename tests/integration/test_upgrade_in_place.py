"""Integration tests of pgdock.postgres.upgrade (method pg_upgrade): real 15 and 17 servers upgraded
in their own volumes to 18 with the test bed's helper image (testbed/images/upgrade)."""

from __future__ import annotations

import concurrent.futures
import io
import re
import secrets
import shutil
import time
from pathlib import Path

import docker
import psycopg2
import pytest

from ansible_runner import REPO, run_module, run_playbook
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import HELPER_LABEL
from conftest import PGBOUNCER_IMAGE
from pgclient import sql, unused_port, wait_until
from test_server_role import recap_changed
from test_server_role_ca import deploy

HELPER_IMAGE = "pgdock-test/postgres-upgrade:latest"
# the data the tests compare before and after: every table's row count and an md5 of its rows
FINGERPRINT = ("SELECT c.relname, (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', c.relname), "
               "false, true, '')))[1]::text, (xpath('/row/h/text()', query_to_xml(format("
               "'SELECT md5(string_agg(t::text, chr(10) ORDER BY t::text)) AS h FROM %I t', c.relname), false, true, "
               "'')))[1]::text FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace "
               "ORDER BY 1")
SEED = """
CREATE TABLE orders (id bigserial PRIMARY KEY, placed timestamptz NOT NULL DEFAULT now(), note text,
                     amount numeric(12, 2), tags text[], doc jsonb);
INSERT INTO orders (note, amount, tags, doc)
  SELECT 'order ' || i, i * 1.25, ARRAY['a', 'b' || i], jsonb_build_object('i', i) FROM generate_series(1, 5000) i;
CREATE INDEX ON orders (note);
CREATE TABLE "Mixed Case" (k int PRIMARY KEY, v bytea);
INSERT INTO "Mixed Case" SELECT i, digest(i::text, 'sha256') FROM generate_series(1, 300) i;
CREATE MATERIALIZED VIEW order_totals AS SELECT count(*) AS n, sum(amount) AS total FROM orders;
"""


@pytest.fixture(scope="session")
def helper_image(docker_client):
    try:
        docker_client.images.get(HELPER_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{HELPER_IMAGE} is missing: run `make testbed` (testbed/build-images.sh builds it)")
    return HELPER_IMAGE


def upgrade_args(server: dict, image: str, helper: str, **over) -> dict:
    """The upgrade module's arguments for a server of the pg_server fixture."""
    container = {k: v for k, v in server["module_args"].items() if k not in ("name", "image")}
    args = dict(name=server["name"], image=image, helper_image=helper, server=container)
    args.update(over)
    return args


def seed(server: dict) -> tuple:
    """Data, a login role, an extension and settings on the old server; its fingerprint."""
    port, pw = server["port"], server["password"]
    sql(port, pw, "CREATE EXTENSION pgcrypto")
    sql(port, pw, SEED)
    app_pw = "App-pw-" + secrets.token_hex(6)
    sql(port, pw, "CREATE ROLE app LOGIN PASSWORD %s", (app_pw,))
    sql(port, pw, "GRANT ALL ON ALL TABLES IN SCHEMA public TO app; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app")
    sql(port, pw, "ALTER SYSTEM SET work_mem = '6MB'")
    return app_pw, sql(port, pw, FINGERPRINT)


@pytest.mark.parametrize("old", [15, 17])
def test_pg_upgrade_link_keeps_every_row_and_login(pg_server, pg_image, helper_image, old):
    server = pg_server(old)
    port, pw = server["port"], server["password"]
    app_pw, before = seed(server)
    if old == 15:  # a setting 18 no longer has, set with ALTER SYSTEM: left out and named
        sql(port, pw, "ALTER SYSTEM SET vacuum_defer_cleanup_age = 0")
    args = upgrade_args(server, pg_image(18), helper_image)
    if old == 17:
        # the test bed's Debian 17 build stamps every column with a pg_attver option that 18 refuses (the
        # official postgres:17 image does not): the check names it, and the test clears it as asked
        blocked = run_module("upgrade", dict(args, state="checked"))
        assert blocked.failed and "pg_attver" in blocked["msg"] and "orders" in blocked["msg"], blocked
        sql(port, pw, "UPDATE pg_attribute SET attoptions = NULL WHERE attrelid >= 16384 AND attoptions IS NOT NULL")

    checked = run_module("upgrade", dict(args, state="checked"))
    assert not checked.failed and not checked.changed, checked
    assert checked["upgrade"]["from_major"] == old and checked["upgrade"]["to_major"] == 18
    assert any("pg_upgrade" in step for step in checked["plan"]), checked

    result = run_module("upgrade", args)
    assert result.changed and not result.failed, result
    upgrade = result["upgrade"]
    assert (upgrade["from_major"], upgrade["to_major"], upgrade["state"]) == (old, 18, "upgraded")
    assert 0 < upgrade["downtime_seconds"] < 120, upgrade
    assert {p["phase"] for p in result["phases"]} >= {"initdb", "stop", "pg_upgrade", "start", "analyze"}
    pg_upgrade_phase = next(p for p in result["phases"] if p["phase"] == "pg_upgrade")
    assert pg_upgrade_phase["check"] > 0 and pg_upgrade_phase["transfer"] > 0, pg_upgrade_phase
    if old == 15:
        assert upgrade["dropped_settings"] == ["vacuum_defer_cleanup_age"], upgrade
    # the test bed's 15 image is bookworm (glibc 2.36), its 18 image forky: the sort order's version moved
    actual = sql(port, pw, "SELECT datname FROM pg_database WHERE datallowconn AND datcollversion IS DISTINCT FROM "
                           "pg_database_collation_actual_version(oid) ORDER BY 1")
    assert [c["database"] for c in upgrade["collation_changed"]] == [name for (name,) in actual], upgrade
    assert actual, "the test bed's images were meant to differ in their C library"

    assert sql(port, pw, "SELECT current_setting('server_version_num')::int / 10000") == [(18,)]
    assert sql(port, pw, FINGERPRINT) == before
    assert sql(port, pw, "SHOW work_mem") == [("6MB",)]
    assert sql(port, pw, "SELECT count(*) FROM pg_extension WHERE extname = 'pgcrypto'") == [(1,)]
    assert sql(port, pw, "SELECT n FROM order_totals") == [(5000,)]
    # the role's SCRAM verifier came along; the sequence goes on after the last id
    assert sql(port, app_pw, "INSERT INTO orders (note) VALUES ('after') RETURNING id", user="app") == [(5001,)]
    assert sql(port, pw, "SELECT data_checksums FROM (SELECT current_setting('data_checksums') AS data_checksums) s") \
        == [("on",)]
    # planner statistics are there (carried over by 18's pg_upgrade, or made by vacuumdb)
    assert sql(port, pw, "SELECT count(*) > 0 FROM pg_stats WHERE tablename = 'orders'") == [(True,)]

    again = run_module("upgrade", args)
    assert not again.failed and not again.changed, again
    assert again["upgrade"]["state"] == "upgraded"

    # the old major's image on the upgraded volume: refused, and why
    old_again = run_module("container", server["module_args"])
    assert old_again.failed and "pg_upgrade --link" in old_again["msg"], old_again
    assert sql(port, pw, "SELECT 1") == [(1,)]


@pytest.fixture
def image_with_extension(docker_client, pg_image, unique):
    """A 15 image with an extension (SQL only) that the 18 image does not have; removed afterwards."""
    tag = unique("ext15") + ":latest"
    share = "/usr/share/postgresql/15/extension"
    dockerfile = (f"FROM {pg_image(15)}\n"
                  f"RUN printf \"comment = 'test'\\ndefault_version = '1.0'\\nrelocatable = true\\n\" > {share}/pgdt_probe.control"
                  f" && printf 'CREATE FUNCTION pgdt_probe() RETURNS int LANGUAGE sql AS \\047SELECT 1\\047;\\n'"
                  f" > {share}/pgdt_probe--1.0.sql\n")
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def volume_listing(docker_client, server: dict, helper_image: str) -> list[str]:
    """The names at the root of the server's data volume."""
    out = docker_client.containers.run(helper_image, ["ls", "/v"], remove=True, user="0",
                                       volumes={f"{server['name']}-data": {"bind": "/v", "mode": "ro"}})
    return out.decode().split()


def test_blockers_are_named_and_nothing_changes(pg_server, pg_image, helper_image, docker_client, image_with_extension):
    server = pg_server(15, image=image_with_extension)
    port, pw = server["port"], server["password"]
    sql(port, pw, "CREATE EXTENSION pgdt_probe; CREATE TABLE t (i int); INSERT INTO t VALUES (1)")
    args = upgrade_args(server, pg_image(18), helper_image)
    args["server"] = dict(args["server"], settings={"vacuum_defer_cleanup_age": "0"})
    for state in ("checked", "upgraded"):
        result = run_module("upgrade", dict(args, state=state))
        assert result.failed and "nothing was changed" in result["msg"], result
        assert "extension 'pgdt_probe' (1.0)" in result["msg"] and "vacuum_defer_cleanup_age" in result["msg"], result
        assert len(result["blockers"]) == 2, result
    container = docker_client.containers.get(server["name"])
    assert container.status == "running" and container.attrs["Config"]["Image"] == image_with_extension
    assert sql(port, pw, "SELECT current_setting('server_version_num')::int / 10000") == [(15,)]
    assert "18" not in volume_listing(docker_client, server, helper_image)


def test_failed_pg_upgrade_check_starts_the_old_server_again(pg_server, pg_image, helper_image, docker_client):
    server = pg_server(15)
    port, pw = server["port"], server["password"]
    # pg_upgrade refuses user tables with reg* columns other than regclass, regrole and regtype
    sql(port, pw, "CREATE TABLE uses_regproc (f regproc); INSERT INTO uses_regproc VALUES ('now')")
    sql(port, pw, "CREATE TABLE kept (i int); INSERT INTO kept SELECT generate_series(1, 100)")
    result = run_module("upgrade", upgrade_args(server, pg_image(18), helper_image))
    assert result.failed, result
    assert "pg_upgrade --check failed" in result["msg"] and "runs again, unchanged" in result["msg"], result
    assert "uses_regproc" in "\n".join(result.get("logs") or []), result
    container = docker_client.containers.get(server["name"])
    assert container.status == "running" and container.attrs["Config"]["Image"] == pg_image(15)
    assert sql(port, pw, "SELECT count(*) FROM kept") == [(100,)]
    assert "18" not in volume_listing(docker_client, server, helper_image)


@pytest.fixture
def stack_15(unique, cleanup, pg_image, tmp_path):
    """The deploy playbook's variables for a 15 primary with a replica and the pooler (TLS on)."""
    name, replica, pooler = unique("upg"), unique("upg-r1"), unique("upg-pgb")
    cleanup["containers"] += [pooler, replica, name]
    cleanup["volumes"] += [f"{name}-data", f"{replica}-data"]
    cleanup["networks"].append(name + "-net")
    app_pw = "App-pw-" + secrets.token_hex(6)
    yield dict(pgdock_hosts="localhost", pgdock_networks=[{"name": name + "-net"}], pgdock_server_name=name,
               pgdock_server_image=pg_image(15), pgdock_server_pull="never",
               pgdock_server_superuser_password="Upg-pw-" + secrets.token_hex(8),
               pgdock_server_networks=[{"name": name + "-net", "aliases": ["primary"]}],
               pgdock_server_published_port=unused_port(), pgdock_server_secrets_dir=str(tmp_path / "secrets"),
               pgdock_server_settings={"max_connections": 120},
               pgdock_roles=[{"name": "app", "password": app_pw, "login": True}],
               pgdock_databases=[{"name": "app", "owner": "app"}],
               pgdock_replicas=[{"name": replica, "published_port": unused_port()}],
               pgdock_pooler=True, pgdock_pooler_name=pooler, pgdock_pooler_image=PGBOUNCER_IMAGE,
               pgdock_pooler_pull="never", pgdock_pooler_published_port=unused_port(),
               pgdock_pooler_secrets_dir=str(tmp_path / "pooler"), pgdock_pooler_tls_dir=str(tmp_path / "pooler-tls"),
               pgdock_pooler_databases=[{"name": "app"}], app_pw=app_pw)
    shutil.rmtree(Path("/var/lib/pgdock") / name, ignore_errors=True)  # the stack's CA


def changed_tasks(stdout: str) -> list[str]:
    """The TASK headers of an ansible-playbook output that a `changed:` line follows."""
    found, task = [], None
    for line in stdout.splitlines():
        if line.startswith("TASK ["):
            task = line
        elif line.startswith("changed:") and task:
            found.append(task)
    return found


def through_pooler(stack: dict, query: str):
    conn = psycopg2.connect(host="127.0.0.1", port=stack["pgdock_pooler_published_port"], user="app",
                            password=stack["app_pw"], dbname="app", connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def test_upgrade_playbook_upgrades_the_primary_and_rebuilds_its_replica(stack_15, pg_image, helper_image, docker_client):
    stack = stack_15
    assert deploy(stack, REPO / "playbooks" / "deploy.yml") > 0
    through_pooler(stack, "CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t (v) SELECT 'x' || i "
                          "FROM generate_series(1, 2000) i")
    upgraded = dict(stack, pgdock_server_image=pg_image(18), pgdock_upgrade_helper_image=helper_image)
    blocked = run_playbook(REPO / "playbooks" / "upgrade.yml", extra_vars=dict(
        upgraded, pgdock_server_settings={"max_connections": 120, "vacuum_defer_cleanup_age": 0},
        pgdock_upgrade_step="check"), json_output=False)
    assert blocked.returncode != 0 and "vacuum_defer_cleanup_age" in blocked.stdout, blocked.stdout[-3000:]

    first = run_playbook(REPO / "playbooks" / "upgrade.yml", extra_vars=upgraded, json_output=False)
    assert first.returncode == 0 and recap_changed(first.stdout) > 0, first.stdout[-3000:]
    assert re.search(r"PostgreSQL 15 to 18: upgraded, server down for [\d.]+ s; checks [\d.]+ s; initdb", first.stdout), \
        first.stdout[first.stdout.find("TASK [pgdock.postgres.server : Upgrade of"):][:1500]
    name, replica = stack["pgdock_server_name"], stack["pgdock_replicas"][0]["name"]
    port, pw = stack["pgdock_server_published_port"], stack["pgdock_server_superuser_password"]
    assert sql(port, pw, "SELECT current_setting('server_version_num')::int / 10000, current_setting('ssl'), "
                         "current_setting('max_connections')") == [(18, "on", "120")]
    assert docker_client.containers.get(replica).attrs["Config"]["Image"] == pg_image(18)
    assert through_pooler(stack, "INSERT INTO t (v) VALUES ('after') RETURNING id") == [(2001,)]
    lsn = sql(port, pw, "SELECT pg_current_wal_lsn()::text")[0][0]
    replica_port = stack["pgdock_replicas"][0]["published_port"]
    wait_until(lambda: sql(replica_port, pw, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))[0][0],
               60, "the rebuilt replica replays the upgraded primary")
    assert sql(replica_port, pw, "SELECT count(*) FROM t", dbname="app") == [(2001,)]
    # everything converged: a second run changes nothing
    second = run_playbook(REPO / "playbooks" / "upgrade.yml", extra_vars=upgraded, json_output=False)
    assert second.returncode == 0 and recap_changed(second.stdout) == 0, changed_tasks(second.stdout)


def kill_helper_at(docker_client, server: str, marker: str, timeout: float = 120) -> bool:
    """Kill the pg_upgrade helper of `server` once its output shows `marker`; whether it was killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for helper in docker_client.containers.list(filters={"label": f"{HELPER_LABEL}=pg_upgrade of {server}"}):
            if marker in helper.logs().decode():
                helper.kill()
                return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("phase", ["check", "transfer"])
def test_helper_killed_during_pg_upgrade_gives_the_old_server_back(pg_server, pg_image, helper_image,
                                                                   docker_client, phase):
    server = pg_server(15)
    port, pw = server["port"], server["password"]
    _app_pw, before = seed(server)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(run_module, "upgrade", upgrade_args(server, pg_image(18), helper_image))
        assert kill_helper_at(docker_client, server["name"], f"pgdock-phase {phase}"), "no pg_upgrade helper seen"
        result = running.result(timeout=600)
    assert result.failed and "runs again, unchanged" in result["msg"], result
    container = docker_client.containers.get(server["name"])
    assert container.status == "running" and container.attrs["Config"]["Image"] == pg_image(15)
    assert sql(port, pw, FINGERPRINT) == before
    assert "18" not in volume_listing(docker_client, server, helper_image)
    # and the upgrade goes through when run again
    again = run_module("upgrade", upgrade_args(server, pg_image(18), helper_image))
    assert again.changed and not again.failed, again
    assert sql(port, pw, FINGERPRINT) == before

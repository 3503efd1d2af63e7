"""Integration tests of pgdock.postgres.upgrade (method pg_upgrade): real 15 and 17 servers upgraded
in their own volumes to 18 with the test bed's helper image (testbed/images/upgrade)."""

from __future__ import annotations

import io
import secrets

import docker
import pytest

from ansible_runner import run_module
from pgclient import sql

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

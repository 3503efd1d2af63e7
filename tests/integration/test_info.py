"""Integration tests of pgdock.postgres.info's day-one sections on real PostgreSQL 15 and 18
containers: slots and the WAL they retain, wraparound, roles, extensions, tablespaces,
publications and subscriptions, the container, and the gather filter."""

from __future__ import annotations

import json
import secrets

import pytest

from ansible_runner import run_module
from pgclient import sql, unused_port, wait_until

MAJORS = [15, 18]
HARD_LIMIT = 2 ** 31 - 3_000_000


@pytest.fixture
def unique():
    """Names of every Docker object these tests create start with pgdock-i- (overrides conftest)."""
    token = secrets.token_hex(3)
    return lambda prefix: f"pgdock-i-{prefix}-{token}"


def info(srv: dict, gather, check: bool = False, **args):
    result = run_module("info", dict(container=srv["name"], gather=gather, **args), check=check)
    assert not result.failed and not result.changed, result
    return result


def q(srv: dict, query: str, dbname: str = "postgres"):
    return sql(srv["port"], srv["password"], query, dbname=dbname)


def generate_wal(srv: dict) -> None:
    """More than a WAL segment: rows, a switch, rows, a switch (a whole segment between them)."""
    q(srv, "create table if not exists pgdock_i_wal (i int, t text)")
    for rows in (20000, 100):
        q(srv, f"insert into pgdock_i_wal select g, repeat('x', 200) from generate_series(1, {rows}) g")
        q(srv, "select pg_switch_wal()")
    q(srv, "insert into pgdock_i_wal values (0, 'after')")


@pytest.mark.parametrize("major", MAJORS)
def test_inactive_slots_retain_more_wal_and_warn(pg_server, major):
    srv = pg_server(major, settings={"wal_level": "logical"})
    q(srv, "select pg_create_physical_replication_slot('pgdock_i_phys', true)")
    q(srv, "select pg_create_logical_replication_slot('pgdock_i_logical', 'test_decoding')")
    before = {s["slot_name"]: s for s in info(srv, ["slots"])["info"]["slots"]["slots"]}
    generate_wal(srv)
    result = info(srv, ["slots"], check=True)
    slots = result["info"]["slots"]
    after = {s["slot_name"]: s for s in slots["slots"]}
    assert set(after) == {"pgdock_i_phys", "pgdock_i_logical"}
    phys, logical = after["pgdock_i_phys"], after["pgdock_i_logical"]
    assert phys["slot_type"] == "physical" and phys["plugin"] is None and phys["database"] is None
    assert logical["slot_type"] == "logical" and logical["plugin"] == "test_decoding" and logical["database"] == "postgres"
    assert logical["confirmed_flush_lsn"] and phys["confirmed_flush_lsn"] is None
    for name in after:
        assert after[name]["active"] is False and after[name]["active_pid"] is None
        assert after[name]["wal_status"] == "reserved" and after[name]["two_phase"] is False
        assert after[name]["retained_bytes"] > before[name]["retained_bytes"] + 16 * 1024 * 1024, (before, after)
    # the retained WAL, measured by the server itself right after
    current = dict(q(srv, "select slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
                          "from pg_replication_slots"))
    assert all(0 <= current[n] - after[n]["retained_bytes"] < 1024 * 1024 for n in after)
    if major >= 17:
        assert phys["inactive_since"] and phys["inactive_since"].endswith("+00:00")
        assert phys["conflicting"] is None and logical["conflicting"] is False
        assert "invalidation_reason" in phys and "synced" in phys
    else:
        assert "inactive_since" not in phys and "conflicting" not in phys and "synced" not in phys
    assert slots["inactive"] == ["pgdock_i_logical", "pgdock_i_phys"]
    assert slots["inactive_retained_bytes"] == phys["retained_bytes"] + logical["retained_bytes"]
    assert len(slots["warnings"]) == 2 and all("is inactive and retains" in w for w in slots["warnings"])
    assert "'pgdock_i_phys' (physical)" in slots["warnings"][1]
    # also the task's own warnings
    assert "'pgdock_i_phys' (physical) is inactive" in json.dumps(result.get("warnings")) + result.stderr, \
        (result.get("warnings"), result.stderr)
    # replication is about standbys now
    replication = info(srv, ["replication"])["info"]["replication"]
    assert set(replication) == {"standbys", "synchronous_standby_names"} and replication["standbys"] == []


@pytest.mark.parametrize("major", MAJORS)
def test_wraparound_roles_extensions_tablespaces(pg_server, docker_client, major):
    srv = pg_server(major)
    q(srv, "create database pgdock_i_app")
    q(srv, "create extension pgcrypto", dbname="pgdock_i_app")
    q(srv, "create extension hstore version '1.4'", dbname="pgdock_i_app")
    q(srv, "create extension pg_stat_statements")
    scram_pw, md5_pw = "Scram-" + secrets.token_hex(8), "Md5-" + secrets.token_hex(8)
    q(srv, "create role pgdock_i_group nologin")
    q(srv, f"create role pgdock_i_scram login password '{scram_pw}' connection limit 7 valid until '2031-01-02 03:04:05+00'")
    q(srv, f"set password_encryption = 'md5'; create role pgdock_i_md5 login password '{md5_pw}' createdb")
    q(srv, "create role pgdock_i_nopw login replication bypassrls")
    q(srv, "grant pgdock_i_group to pgdock_i_scram")
    container = docker_client.containers.get(srv["name"])
    location = "/var/lib/postgresql/pgdock_i_ts"
    assert container.exec_run(["sh", "-c", f"mkdir -p {location} && chown postgres:postgres {location}"]).exit_code == 0
    q(srv, f"create tablespace pgdock_i_ts owner pgdock_i_md5 location '{location}'")
    q(srv, "create table pgdock_i_t tablespace pgdock_i_ts as select generate_series(1, 1000) i")

    result = info(srv, ["wraparound", "roles", "extensions", "tablespaces"])
    found = result["info"]
    out = json.dumps(result)
    assert scram_pw not in out and md5_pw not in out and "SCRAM-SHA-256$" not in out
    verifiers = [r[0] for r in q(srv, "select rolpassword from pg_authid where rolpassword is not null")]
    assert verifiers and not any(v in out for v in verifiers)

    wrap = found["wraparound"]
    assert wrap["hard_limit"] == HARD_LIMIT and wrap["autovacuum_freeze_max_age"] == 200_000_000
    assert {"postgres", "template0", "template1", "pgdock_i_app"} <= set(wrap["databases"])
    ages = dict(q(srv, "select datname, age(datfrozenxid) from pg_database"))
    for name, facts in wrap["databases"].items():
        assert facts["xid_age"] > 0 and facts["mxid_age"] >= 0
        assert abs(ages[name] - facts["xid_age"]) < 1000
        assert facts["xid_percent_of_hard_limit"] == round(100 * facts["xid_age"] / HARD_LIMIT, 2)
        assert facts["xid_percent_of_freeze_max_age"] == round(100 * facts["xid_age"] / 200_000_000, 2)
    closest = wrap["closest"]
    assert closest["percent_of_hard_limit"] == max(max(f["xid_percent_of_hard_limit"], f["mxid_percent_of_hard_limit"])
                                                   for f in wrap["databases"].values())
    assert wrap["databases"][closest["database"]]["xid_age"] == closest["xid_age"] and wrap["warnings"] == []

    roles = found["roles"]
    assert roles["password_kind_readable"] is True
    assert not any(name.startswith("pg_") for name in roles["roles"])
    scram, md5, nopw = (roles["roles"][n] for n in ("pgdock_i_scram", "pgdock_i_md5", "pgdock_i_nopw"))
    assert scram["password_kind"] == "scram-sha-256" and md5["password_kind"] == "md5" and nopw["password_kind"] == "none"
    assert scram["connection_limit"] == 7 and scram["valid_until"] == "2031-01-02T03:04:05Z"
    assert scram["member_of"] == ["pgdock_i_group"] and md5["member_of"] == [] and md5["valid_until"] is None
    assert md5["createdb"] and not md5["superuser"] and nopw["replication"] and nopw["bypassrls"] and nopw["login"]
    assert roles["roles"]["postgres"]["superuser"] and not roles["roles"]["pgdock_i_group"]["login"]

    ext = found["extensions"]
    assert ext["errors"] == {} and {"postgres", "template1", "pgdock_i_app"} <= set(ext["databases"])
    app = ext["databases"]["pgdock_i_app"]
    assert set(app) == {"plpgsql", "pgcrypto", "hstore"} and app["pgcrypto"]["schema"] == "public"
    assert app["pgcrypto"]["version"] == q(srv, "select extversion from pg_extension where extname = 'pgcrypto'",
                                           dbname="pgdock_i_app")[0][0]
    assert not app["pgcrypto"]["update_available"] and app["hstore"]["update_available"]
    hstore_default = q(srv, "select default_version from pg_available_extensions where name = 'hstore'")[0][0]
    assert ext["updates_available"] == [dict(database="pgdock_i_app", name="hstore", version="1.4",
                                             default_version=hstore_default)]
    assert "pg_stat_statements" in ext["databases"]["postgres"] and "pg_stat_statements" not in app

    spaces = found["tablespaces"]["tablespaces"]
    assert set(spaces) == {"pg_default", "pg_global", "pgdock_i_ts"}
    assert spaces["pgdock_i_ts"]["owner"] == "pgdock_i_md5" and spaces["pgdock_i_ts"]["location"] == location
    assert spaces["pgdock_i_ts"]["size_bytes"] >= 8192 and spaces["pg_default"]["location"] is None
    assert spaces["pg_default"]["size_bytes"] > spaces["pgdock_i_ts"]["size_bytes"]


@pytest.mark.parametrize("major", MAJORS)
def test_publications_and_a_subscription_without_its_password(pg_server, major):
    srv = pg_server(major)
    q(srv, "create database pgdock_i_pub")
    q(srv, "create table t (id int primary key, v text); create table u (id int primary key)", dbname="pgdock_i_pub")
    q(srv, "create publication p_some for table t, u with (publish = 'insert, update')", dbname="pgdock_i_pub")
    q(srv, "create publication p_all for all tables", dbname="pgdock_i_pub")
    secret = "Sub-" + secrets.token_hex(8)
    q(srv, f"create subscription s_off connection 'host=pgdock-i-elsewhere port=5432 dbname=pgdock_i_pub "
           f"user=rep password={secret}' publication p_some, p_all with (connect = false)")

    result = info(srv, ["publications", "subscriptions"])
    assert secret not in json.dumps(result)
    pubs = result["info"]["publications"]
    assert pubs["errors"] == {} and pubs["databases"]["postgres"] == {}
    some, every = pubs["databases"]["pgdock_i_pub"]["p_some"], pubs["databases"]["pgdock_i_pub"]["p_all"]
    assert some["tables"] == ["public.t", "public.u"] and some["table_count"] == 2 and not some["all_tables"]
    assert some["operations"] == ["insert", "update"] and some["owner"] == "postgres" and some["schemas"] == []
    assert every["all_tables"] and every["tables"] is None and every["table_count"] == 2
    assert every["operations"] == ["insert", "update", "delete", "truncate"]
    subs = result["info"]["subscriptions"]
    assert subs["errors"] == {} and list(subs["databases"]) == ["postgres"]
    off = subs["databases"]["postgres"]["s_off"]
    assert off["enabled"] is False and off["publications"] == ["p_some", "p_all"] and off["slot_name"] == "s_off"
    assert off["relations"] == {} and off["worker_pid"] is None and off["owner"] == "postgres"
    assert "password=********" in off["conninfo"] and "host=pgdock-i-elsewhere" in off["conninfo"]


def test_live_subscription_counts_its_relations_by_state(pg_server):
    srv = pg_server(18, settings={"wal_level": "logical"})
    q(srv, "create database pgdock_i_src")
    q(srv, "create database pgdock_i_dst")
    for db in ("pgdock_i_src", "pgdock_i_dst"):
        q(srv, "create table t (id int primary key); create table u (id int primary key)", dbname=db)
    q(srv, "insert into t select generate_series(1, 100)", dbname="pgdock_i_src")
    q(srv, "create publication p for table t, u", dbname="pgdock_i_src")
    # a subscription to its own server needs the slot made beforehand
    q(srv, "select pg_create_logical_replication_slot('s_live', 'pgoutput')", dbname="pgdock_i_src")
    q(srv, f"create subscription s_live connection 'host=127.0.0.1 port=5432 dbname=pgdock_i_src user=postgres "
           f"password={srv['password']}' publication p with (create_slot = false, slot_name = 's_live')",
      dbname="pgdock_i_dst")
    wait_until(lambda: q(srv, "select count(*) from t", dbname="pgdock_i_dst") == [(100,)], 60, "initial copy")

    def all_ready():
        found = info(srv, ["subscriptions", "slots"])["info"]
        return found if found["subscriptions"]["databases"]["pgdock_i_dst"]["s_live"]["relations"] == {"ready": 2} else None
    ready = wait_until(all_ready, 60, "both relations ready")
    live = ready["subscriptions"]["databases"]["pgdock_i_dst"]["s_live"]
    assert live["enabled"] and live["worker_pid"] and srv["password"] not in json.dumps(ready)
    slot = next(s for s in ready["slots"]["slots"] if s["slot_name"] == "s_live")
    assert slot["active"] and slot["active_pid"] and slot["plugin"] == "pgoutput" and slot["database"] == "pgdock_i_src"
    assert "s_live" not in ready["slots"]["inactive"]


@pytest.mark.parametrize("major", MAJORS)
def test_container_section_against_docker_inspect(pg_server, docker_client, major):
    srv = pg_server(major)
    found = info(srv, ["container"])
    assert found["notes"] == []
    facts = found["info"]["container"]
    attrs = docker_client.containers.get(srv["name"]).attrs
    image = docker_client.images.get(attrs["Image"])
    assert facts["name"] == srv["name"] and facts["id"] == attrs["Id"]
    assert facts["image"] == attrs["Config"]["Image"] == f"pgdock-test/postgres:{major}"
    assert facts["image_id"] == attrs["Image"] == image.id and facts["repo_digests"] == image.attrs.get("RepoDigests", [])
    assert facts["created"] == attrs["Created"] and facts["started_at"] == attrs["State"]["StartedAt"]
    assert facts["restart_count"] == attrs["RestartCount"] and facts["status"] == "running"
    assert facts["data_volume"] == f"{srv['name']}-data"
    env = dict(e.split("=", 1) for e in attrs["Config"]["Env"])
    assert facts["pgdata"] == env["PGDATA"] == facts["layout"]["pgdata"] and facts["layout"]["major"] == major
    volume_mount = next(m for m in attrs["Mounts"] if m.get("Name") == facts["data_volume"])
    assert facts["layout"]["volume_path"] == volume_mount["Destination"]
    assert facts["layout"]["style"] == ("18+" if major >= 18 else "pre-18")
    assert {"type": "bind", "source": srv["secrets_dir"], "destination": "/run/secrets/pgdock",
            "read_only": True} in facts["mounts"]
    network = attrs["NetworkSettings"]["Networks"][srv["network"]]
    assert facts["networks"][srv["network"]]["ip_address"] == network["IPAddress"]
    assert facts["networks"][srv["network"]]["aliases"] == ["primary"]
    assert facts["published_ports"] == {"5432/tcp": [f"127.0.0.1:{srv['port']}"]}
    assert facts["labels"]["org.pgdock.managed-by"] == "pgdock.postgres"
    assert all(k.startswith("org.pgdock.") for k in facts["labels"])
    assert facts["topology"] == {"role": None, "upstream": None, "synchronous": False}


def test_gather_filters_bad_names_and_no_container(pg_server):
    srv = pg_server(18)
    every = info(srv, ["all", "!statements"])["info"]
    assert "statements" not in every and {"server", "slots", "wraparound", "roles", "container"} <= set(every)
    # (Ansible's JSON sorts the keys)
    assert set(info(srv, ["!container", "!statements", "!roles"])["info"]) == {
        "server", "replication", "slots", "connections", "databases", "wraparound", "extensions", "tablespaces",
        "publications", "subscriptions", "tls", "settings"}
    assert set(info(srv, ["roles", "slots"])["info"]) == {"slots", "roles"}
    bad = run_module("info", dict(container=srv["name"], gather=["slots", "!slot", "wraparund"]))
    assert bad.failed, bad
    assert "gather: '!slot', 'wraparund' are not sections; valid: all, server, replication, slots" in bad["msg"]
    assert "container (each may be prefixed with '!' to leave it out)" in bad["msg"]
    direct = run_module("info", dict(login_host="127.0.0.1", login_port=srv["port"], login_user="postgres",
                                     login_password=srv["password"], gather=["container", "server"]))
    assert not direct.failed, direct
    assert direct["info"]["container"] == {} and direct["info"]["server"]["role"] == "primary"
    assert len(direct["notes"]) == 1 and "no container was given" in direct["notes"][0]


def test_a_standby_measures_its_slots_against_what_it_received(pg_server, cleanup, tmp_path_factory):
    primary = pg_server(18)
    name = primary["name"] + "-r1"
    cleanup["containers"].append(name)
    cleanup["volumes"].append(f"{name}-data")
    port = unused_port()
    replica = run_module("replica", dict(name=name, primary=primary["name"], published_port=port,
                                         secrets_dir=str(tmp_path_factory.mktemp(name) / "secrets"),
                                         stop_timeout=30, wait_timeout=180))
    assert replica.changed and not replica.failed, replica
    standby = dict(primary, name=name, port=port)
    q(standby, "select pg_create_physical_replication_slot('pgdock_i_cascade', true)")
    generate_wal(primary)
    lsn = q(primary, "select pg_current_wal_lsn()::text")[0][0]
    wait_until(lambda: q(standby, f"select pg_last_wal_replay_lsn() >= '{lsn}'")[0][0], 60, "replay")
    seen = info(standby, ["server", "slots", "replication", "container"])["info"]
    assert seen["server"]["role"] == "standby"
    slot = next(s for s in seen["slots"]["slots"] if s["slot_name"] == "pgdock_i_cascade")
    assert slot["retained_bytes"] > 16 * 1024 * 1024 and not slot["active"]
    assert seen["slots"]["inactive"] == ["pgdock_i_cascade"] and len(seen["slots"]["warnings"]) == 1
    assert seen["container"]["topology"] == {"role": "replica", "upstream": primary["name"], "synchronous": False}
    # on the primary the standby's slot is active and listed under slots, the standby under replication
    upstream = info(primary, ["slots", "replication"])["info"]
    assert [s["application_name"] for s in upstream["replication"]["standbys"]] == [name]
    assert [s["active"] for s in upstream["slots"]["slots"]] == [True] and upstream["slots"]["warnings"] == []


def test_a_monitoring_login_reads_what_it_may(pg_server):
    srv = pg_server(18)
    monitor_pw = "Mon-" + secrets.token_hex(8)
    q(srv, f"create role pgdock_i_monitor login password '{monitor_pw}' in role pg_monitor")
    q(srv, "create database pgdock_i_locked")
    q(srv, "revoke connect on database pgdock_i_locked from public")
    q(srv, "create subscription s_off connection 'host=x dbname=y password=hidden-pw' publication p with (connect = false)")
    result = run_module("info", dict(login_host="127.0.0.1", login_port=srv["port"], login_user="pgdock_i_monitor",
                                     login_password=monitor_pw, gather=["all", "!statements"]))
    assert not result.failed, result
    found = result["info"]
    assert found["roles"]["password_kind_readable"] is False
    assert all(r["password_kind"] is None for r in found["roles"]["roles"].values())
    assert "pgdock_i_locked" in found["extensions"]["errors"] and "pgdock_i_locked" not in found["extensions"]["databases"]
    assert "postgres" in found["extensions"]["databases"]
    off = found["subscriptions"]["databases"]["postgres"]["s_off"]
    assert off["conninfo"] is None and "hidden-pw" not in json.dumps(result)
    assert all("size_bytes" in t for t in found["tablespaces"]["tablespaces"].values())
    assert found["wraparound"]["databases"]["pgdock_i_locked"]["xid_age"] > 0

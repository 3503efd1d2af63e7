"""Integration tests of pgdock.postgres.config on real PostgreSQL 15 and 18 containers."""

from __future__ import annotations

import psycopg2
import pytest

from ansible_runner import run_module

MAJORS = [15, 18]


def show(srv: dict, *names: str) -> list:
    """Current values, from a new connection (so a reload is seen)."""
    with psycopg2.connect(host="127.0.0.1", port=srv["port"], user=srv["superuser"], password=srv["password"],
                          dbname="postgres", connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT " + ", ".join("current_setting(%s)" for _n in names), names)
        return list(cur.fetchone())


def auto_conf(docker_client, srv: dict) -> str:
    container = docker_client.containers.get(srv["name"])
    return container.exec_run(["sh", "-c", 'cat "$PGDATA/postgresql.auto.conf"']).output.decode()


def config(srv: dict, check: bool = False, **args):
    return run_module("config", dict(container=srv["name"], **args), check=check, diff=True)


@pytest.mark.parametrize("major", MAJORS)
def test_reload_parameters_set_then_unchanged_then_reset(pg_server, docker_client, major):
    srv = pg_server(major)
    settings = {"work_mem": "64MB", "log_min_duration_statement": "500ms", "log_checkpoints": False,
                "checkpoint_completion_target": 0.8}
    before = auto_conf(docker_client, srv)

    planned = config(srv, check=True, settings=settings)
    assert planned.changed and not planned.failed, planned
    assert planned["changes"]["work_mem"] == {"before": "4MB", "after": "64MB"}
    assert auto_conf(docker_client, srv) == before

    applied = config(srv, settings=settings)
    assert applied.changed and not applied.failed, applied
    assert applied["pending_restart"] == [] and not applied["restarted"]
    assert applied["diff"]["after"] == {"work_mem": "64MB", "log_min_duration_statement": "500ms",
                                        "log_checkpoints": "off", "checkpoint_completion_target": "0.8"}
    assert "ALTER SYSTEM SET \"work_mem\" = '64MB'" in applied["queries"]
    assert show(srv, "work_mem", "log_min_duration_statement", "log_checkpoints",
                "checkpoint_completion_target") == ["64MB", "500ms", "off", "0.8"]

    # the same values in other words are no change
    same = config(srv, settings={"work_mem": "65536kB", "log_min_duration_statement": 500,
                                 "log_checkpoints": "no", "checkpoint_completion_target": "0.80"})
    assert not same.changed and same["queries"] == [], same

    reset = config(srv, reset=["work_mem", "log_checkpoints"])
    assert reset.changed and reset["reset"] == ["log_checkpoints", "work_mem"], reset
    assert show(srv, "work_mem") == ["4MB"]
    assert not config(srv, reset=["work_mem"]).changed


@pytest.mark.parametrize("major", MAJORS)
def test_restart_parameter_pending_then_restarted(pg_server, docker_client, major):
    srv = pg_server(major)
    pending = config(srv, settings={"shared_buffers": "192MB"})
    assert pending.changed and not pending.failed, pending
    assert pending["pending_restart"] == ["shared_buffers"] and not pending["restarted"]
    assert show(srv, "shared_buffers") == ["128MB"]

    still = config(srv, settings={"shared_buffers": "192MB"})
    assert not still.changed and still["pending_restart"] == ["shared_buffers"], still

    started = docker_client.containers.get(srv["name"]).attrs["State"]["StartedAt"]
    restarted = config(srv, settings={"shared_buffers": "192MB"}, allow_restart=True)
    assert restarted.changed and restarted["restarted"] and not restarted.failed, restarted
    assert restarted["pending_restart"] == []
    assert docker_client.containers.get(srv["name"]).attrs["State"]["StartedAt"] != started
    assert show(srv, "shared_buffers") == ["192MB"]

    done = config(srv, settings={"shared_buffers": "192MB"}, allow_restart=True)
    assert not done.changed and not done["restarted"], done


def test_a_command_line_setting_is_never_a_pending_restart(pg_server, docker_client):
    # the container's settings are the server's command line: after any reload the server flags
    # max_connections as pending when postgresql.conf says otherwise, yet a restart changes nothing
    srv = pg_server(18, settings={"max_connections": 120})
    container = docker_client.containers.get(srv["name"])
    started = container.attrs["State"]["StartedAt"]
    assert container.exec_run(["psql", "-U", "postgres", "-Atc", "SELECT pg_reload_conf()"], user="postgres").exit_code == 0
    result = config(srv, settings={"work_mem": "8MB"}, allow_restart=True)
    assert result.changed and not result["restarted"] and result["pending_restart"] == [], result
    assert docker_client.containers.get(srv["name"]).attrs["State"]["StartedAt"] == started
    assert show(srv, "max_connections", "work_mem") == ["120", "8MB"]


@pytest.mark.parametrize("major", MAJORS)
def test_bad_input_writes_nothing(pg_server, docker_client, major):
    srv = pg_server(major, settings={"log_lock_waits": "on"})
    assert config(srv, settings={"work_mem": "32MB"}).changed
    before = auto_conf(docker_client, srv)

    unknown = config(srv, settings={"work_mem": "64MB", "shared_bufers": "1GB"})
    assert unknown.failed, unknown
    assert "unknown parameter 'shared_bufers'" in unknown["msg"] and "did you mean shared_buffers" in unknown["msg"]
    assert unknown["msg"].endswith("Nothing was written.")
    assert auto_conf(docker_client, srv) == before

    for settings, message in (
            ({"wal_level": "archive"}, "wal_level: 'archive' is not one of minimal, replica, logical"),
            ({"work_mem": "lots"}, "work_mem: 'lots' is not a number (a size such as 512MB"),
            ({"checkpoint_timeout": "5s"}, "checkpoint_timeout: '5s' is outside the allowed range 30 .. 86400 s"),
            ({"log_checkpoints": "maybe"}, "log_checkpoints: 'maybe' is not a boolean"),
            ({"block_size": 4096}, "block_size is fixed")):
        bad = config(srv, settings=dict({"work_mem": "64MB"}, **settings))
        assert bad.failed and message in bad["msg"], (message, bad)
        assert auto_conf(docker_client, srv) == before

    # set on the container's command line: ALTER SYSTEM could not take effect
    command_line = config(srv, settings={"log_lock_waits": False})
    assert command_line.failed and "log_lock_waits is set on the server's command line" in command_line["msg"]
    assert auto_conf(docker_client, srv) == before
    assert not config(srv, settings={"log_lock_waits": True}).changed


@pytest.mark.parametrize("major", MAJORS)
def test_production_preset_sized_from_the_memory_limit(pg_server, major):
    srv = pg_server(major, memory="1g")
    applied = config(srv, preset="production", settings={"log_min_duration_statement": "2s"}, allow_restart=True)
    assert applied.changed and applied["restarted"] and not applied.failed, applied
    assert applied["preset"]["shared_buffers"] == "256MB"
    assert applied["changes"]["log_min_duration_statement"]["after"] == "2s"
    assert show(srv, "shared_buffers", "effective_cache_size", "work_mem", "password_encryption",
                "log_min_duration_statement", "ssl") == ["256MB", "768MB", "4MB", "scram-sha-256", "2s", "off"]
    again = config(srv, preset="production", settings={"log_min_duration_statement": "2s"}, allow_restart=True)
    assert not again.changed, again

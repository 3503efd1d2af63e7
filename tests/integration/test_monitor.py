"""Integration tests of pgdock.postgres.monitor: Debian's postgres_exporter 0.11.1 beside a real
PostgreSQL container, logging in as a pg_monitor-only role with its password in a file."""

from __future__ import annotations

import json
import os
import secrets
import time
import urllib.error
import urllib.request

import docker
import pytest

from ansible_runner import run_module
from pgclient import sql, unused_port

EXPORTER_IMAGE = "pgdock-test/postgres-exporter:latest"


@pytest.fixture
def unique():
    """Every Docker object of these tests is named pgdock-m-..."""
    token = secrets.token_hex(3)
    return lambda prefix: f"pgdock-m-{prefix}-{token}"


@pytest.fixture
def exporter_image(docker_client):
    try:
        docker_client.images.get(EXPORTER_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"test image {EXPORTER_IMAGE} is missing: run `bash testbed/build-images.sh postgres-exporter`")
    return EXPORTER_IMAGE


@pytest.fixture
def monitor_args(cleanup, exporter_image):
    """monitor_args(server, **over) -> module args for an exporter beside `server`, cleaned up after."""
    def _args(server: dict, **over) -> dict:
        args = dict(server=server["name"], image=exporter_image, pull="never", published_port=unused_port())
        args.update(over)
        cleanup["containers"].append(args.get("name") or f"{server['name']}-exporter")
        return args
    return _args


def test_image_is_debians_exporter_as_nobody(docker_client, exporter_image, cleanup, unique):
    config = docker_client.images.get(exporter_image).attrs["Config"]
    assert (config["Entrypoint"], config["User"]) == (["/usr/bin/prometheus-postgres-exporter"], "65534:65534")
    name = unique("version")
    cleanup["containers"].append(name)
    container = docker_client.containers.run(exporter_image, ["--version"], name=name, detach=True)
    assert container.wait(timeout=60)["StatusCode"] == 0
    assert "postgres_exporter, version 0.11.1" in container.logs().decode()


def metrics(port: int, want: str, timeout: float = 60) -> str:
    """The exporter's /metrics once it holds the line starting with `want`."""
    deadline, text = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                text = response.read().decode()
            if any(line.startswith(want) for line in text.splitlines()):
                return text
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"no {want!r} in the metrics on 127.0.0.1:{port} within {timeout} s:\n{text[-2000:]}")


def role_state(server: dict, role: str = "pgdock_monitor"):
    return sql(server["port"], server["password"], """
        select r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolcanlogin,
               array(select g.rolname::text from pg_auth_members m join pg_roles g on g.oid = m.roleid
                     where m.member = r.oid order by 1),
               (select rolpassword like 'SCRAM-SHA-256$%%' from pg_authid where rolname = r.rolname)
          from pg_roles r where r.rolname = %s""", (role,))


def test_exporter_serves_metrics_as_pg_monitor_only(pg_server, monitor_args, docker_client):
    server = pg_server(18)
    sql(server["port"], server["password"], "create database pgdock_m_app")
    args = monitor_args(server)
    name = f"{server['name']}-exporter"
    directory = os.path.join(os.path.dirname(server["secrets_dir"]), "monitor")

    check = run_module("monitor", args, check=True)
    assert check.changed and not check.failed, check
    assert not docker_client.containers.list(all=True, filters={"name": f"^{name}$"})
    assert role_state(server) == [] and not os.path.exists(directory)

    first = run_module("monitor", args, diff=True)
    assert first.changed and not first.failed, first
    assert first["monitor"]["url"] == f"http://127.0.0.1:{args['published_port']}/metrics"
    text = metrics(args["published_port"], "pg_up 1")
    assert 'datname="pgdock_m_app"' in text and "pg_stat_database_xact_commit" in text
    assert role_state(server) == [(False, False, False, False, False, True, ["pg_monitor"], True)]

    password_file = os.path.join(directory, "password")
    stat = os.stat(password_file)
    assert (oct(stat.st_mode & 0o777), stat.st_uid) == ("0o600", 65534)
    password = open(password_file, encoding="utf-8").read().strip()
    assert len(password) >= 32
    container = docker_client.containers.get(name)
    inspect = json.dumps(container.attrs)
    assert password not in inspect and password not in first.stdout + first.stderr
    assert "DATA_SOURCE_PASS_FILE=/run/secrets/pgdock-monitor/password" in container.attrs["Config"]["Env"]
    assert container.attrs["Config"]["User"] == "65534:65534"
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert container.attrs["HostConfig"]["PortBindings"]["9187/tcp"][0]["HostIp"] == "127.0.0.1"
    assert [m["RW"] for m in container.attrs["Mounts"]] == [False]
    assert container.labels["org.pgdock.exporter-of"] == server["name"]

    again = run_module("monitor", args)
    assert not again.changed and not again.failed, again
    assert docker_client.containers.get(name).id == container.id
    assert not run_module("monitor", args, check=True).changed


def test_changed_option_recreates_and_absent_removes(pg_server, monitor_args, docker_client):
    server = pg_server(18)
    args = monitor_args(server, name=f"{server['name']}-metrics")
    assert not run_module("monitor", args).failed
    old = docker_client.containers.get(args["name"]).id
    moved = dict(args, published_port=unused_port())
    check = run_module("monitor", moved, check=True)
    assert check.changed and docker_client.containers.get(args["name"]).id == old, check
    changed = run_module("monitor", moved)
    assert changed.changed and any(a.startswith("recreate exporter") for a in changed["actions"]), changed
    assert docker_client.containers.get(args["name"]).id != old
    assert "pg_up 1" in metrics(moved["published_port"], "pg_up 1")
    assert not run_module("monitor", moved).changed

    directory = os.path.join(os.path.dirname(server["secrets_dir"]), "monitor")
    absent = dict(moved, state="absent", remove_role=True)
    check = run_module("monitor", absent, check=True)
    assert check.changed and docker_client.containers.get(args["name"]) and role_state(server), check
    gone = run_module("monitor", absent)
    assert gone.changed and not gone.failed, gone
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(args["name"])
    assert role_state(server) == [] and not os.path.exists(directory)
    assert not run_module("monitor", absent).changed


def test_bad_input_fails_clearly_and_changes_nothing(pg_server, monitor_args, docker_client, cleanup, unique, pg_image):
    missing = run_module("monitor", dict(server=unique("none"), image=EXPORTER_IMAGE, pull="never"))
    assert missing.failed and "server: no container named" in missing["msg"], missing

    plain = unique("plain")
    cleanup["containers"].append(plain)
    docker_client.containers.create(pg_image(18), name=plain, command=["true"])
    foreign = run_module("monitor", dict(server=plain, image=EXPORTER_IMAGE, pull="never"))
    assert foreign.failed and "not a PostgreSQL server made by pgdock.postgres.container" in foreign["msg"], foreign
    assert not docker_client.containers.list(all=True, filters={"name": f"^{plain}-exporter$"})

    server = pg_server(18)
    taken = run_module("monitor", monitor_args(server, name=plain))
    assert taken.failed and "is not an exporter made by this module" in taken["msg"], taken
    bad_port = run_module("monitor", monitor_args(server, published_port=70000))
    assert bad_port.failed and bad_port["msg"].startswith("published_port:"), bad_port
    assert role_state(server) == []
    assert not docker_client.containers.list(all=True, filters={"name": f"^{server['name']}-exporter$"})


def test_deploy_with_monitoring_and_pg_stat_statements(server_vars, cleanup, exporter_image):
    """playbooks/deploy.yml with pgdock_monitoring: the server and monitoring roles."""
    from ansible_runner import REPO
    from test_server_role_ca import deploy

    name = server_vars["pgdock_server_name"]
    cleanup["containers"].append(f"{name}-exporter")
    playbook = REPO / "playbooks" / "deploy.yml"
    stack = dict(server_vars, pgdock_hosts="localhost", pgdock_monitoring=True,
                 pgdock_server_pg_stat_statements=True, pgdock_server_config={"track_io_timing": "on"},
                 pgdock_monitoring_image=exporter_image, pgdock_monitoring_pull="never",
                 pgdock_monitoring_published_port=unused_port())
    assert deploy(stack, playbook) > 0
    port, password = stack["pgdock_server_published_port"], stack["pgdock_server_superuser_password"]
    assert sql(port, password, "show shared_preload_libraries") == [("pg_stat_statements",)]
    assert sql(port, password, "select extname from pg_extension where extname = 'pg_stat_statements'")
    text = metrics(stack["pgdock_monitoring_published_port"], "pg_up 1")
    assert 'datname="app"' in text
    # pg_monitor reads every statement's statistics (pg_read_all_stats), as the exporter's role
    monitor_password = open(os.path.join(os.path.dirname(stack["pgdock_server_secrets_dir"]), "monitor", "password"),
                            encoding="utf-8").read().strip()
    assert sql(port, monitor_password, "select count(*) > 0 from pg_stat_statements where query <> '<insufficient privilege>'",
               user="pgdock_monitor")[0] == (True,)
    assert deploy(stack, playbook) == 0

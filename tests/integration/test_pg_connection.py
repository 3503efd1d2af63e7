"""The PostgreSQL connection options as community.postgresql names them (aliases, a unix socket
directory, session_role, connect_params), on a real server: a plain container this collection did
not make, its socket directory bind-mounted on this host, and a pgdock container."""

from __future__ import annotations

import os

import pytest
from psycopg2 import sql as pgsql

from ansible_runner import run_module
from pgclient import sql, unused_port, wait_until

SOCKET_PORT = 5432


@pytest.fixture
def plain_server(docker_client, pg_image, unique, cleanup, tmp_path):
    """A server started by hand (no pgdock labels): its socket directory is a host directory, its
    port published on 127.0.0.1; returns dict(socket_dir, port, password)."""
    name = unique("plainsock")
    socket_dir = tmp_path / "socket"
    socket_dir.mkdir()
    os.chmod(socket_dir, 0o777)
    password_file = tmp_path / "pw"
    password_file.write_text("Plain-pw-1\n")
    os.chmod(password_file, 0o644)
    port = unused_port()
    cleanup["containers"].append(name)
    docker_client.containers.run(
        pg_image(18), name=name, detach=True,
        environment={"POSTGRES_PASSWORD_FILE": "/run/pw"},
        volumes={str(socket_dir): {"bind": "/var/run/postgresql", "mode": "rw"},
                 str(password_file): {"bind": "/run/pw", "mode": "ro"}},
        ports={"5432/tcp": ("127.0.0.1", port)})
    wait_until(lambda: sql(port, "Plain-pw-1", "SELECT 1"), timeout=90, what="the plain server accepting logins")
    return dict(socket_dir=str(socket_dir), port=port, password="Plain-pw-1")


def superuser_rows(server: dict, statement, params=None):
    return sql(SOCKET_PORT, None, statement, params, host=server["socket_dir"])


def owner_of(server: dict, database: str):
    found = superuser_rows(server, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,))
    return found[0][0] if found else None


def test_community_postgresql_aliases_reach_the_server(plain_server):
    args = dict(host="127.0.0.1", port=plain_server["port"], login="postgres",
                login_password=plain_server["password"], db="postgres", name="by aliases")
    created = run_module("database", args)
    assert created.changed and not created.failed, created
    assert owner_of(plain_server, "by aliases") == "postgres"
    assert not run_module("database", args).changed
    assert plain_server["password"] not in str(created)


def test_a_unix_socket_directory_on_this_host(plain_server):
    # local connections of the image are trusted, so no password: the socket itself is the proof
    args = dict(login_unix_socket=plain_server["socket_dir"], login_user="postgres", name="over the socket")
    created = run_module("database", args)
    assert created.changed and not created.failed, created
    assert owner_of(plain_server, "over the socket") == "postgres"
    again = run_module("database", dict(args, login_unix_socket=None, unix_socket=plain_server["socket_dir"]))
    assert not again.changed and not again.failed, again
    missing = run_module("database", dict(args, login_unix_socket=plain_server["socket_dir"] + "-nowhere"))
    assert missing.failed and "cannot connect to PostgreSQL at " + plain_server["socket_dir"] + "-nowhere" in missing["msg"]


def test_session_role_does_the_work_with_that_role_s_privileges(plain_server):
    superuser_rows(plain_server, "CREATE ROLE app_creator NOLOGIN CREATEDB")
    superuser_rows(plain_server, pgsql.SQL("CREATE ROLE app_login LOGIN PASSWORD {} IN ROLE app_creator").format(
        pgsql.Literal("App-login-pw")))
    superuser_rows(plain_server, "CREATE ROLE outsider NOLOGIN")
    args = dict(login_unix_socket=plain_server["socket_dir"], login_user="app_login", name="made by creator")
    refused = run_module("database", args)
    assert refused.failed and "permission denied to create database" in refused["msg"], refused

    created = run_module("database", dict(args, session_role="app_creator"))
    assert created.changed and not created.failed, created
    assert owner_of(plain_server, "made by creator") == "app_creator"

    other = run_module("database", dict(args, name="never made", session_role="outsider"))
    assert other.failed and "session_role: cannot switch to role 'outsider'" in other["msg"], other
    assert "permission denied to set role" in other["msg"]
    assert owner_of(plain_server, "never made") is None


def test_connect_params_reach_libpq_and_a_password_there_is_refused(plain_server):
    args = dict(login_unix_socket=plain_server["socket_dir"], login_user="postgres", name="read only target")
    # a primary is never read-only: libpq itself turns the connection down
    refused = run_module("database", dict(args, connect_params={"target_session_attrs": "read-only"}))
    assert refused.failed and "cannot connect" in refused["msg"] and "read-only" in refused["msg"], refused
    assert owner_of(plain_server, "read only target") is None

    wanted = {"target_session_attrs": "read-write", "keepalives_idle": 30}
    made = run_module("database", dict(args, connect_params=wanted))
    assert made.changed and not made.failed, made

    leaked = run_module("database", dict(args, name="never", connect_params={"password": "x"}))
    assert leaked.failed and "give it as login_password" in leaked["msg"], leaked


def test_a_pgdock_container_with_the_host_and_port_aliases(pg_server):
    # with container, the aliases fill in what login_host and login_port would
    srv = pg_server(18)
    res = run_module("database", dict(container=srv["name"], host="127.0.0.1", port=srv["port"], db="postgres",
                                      name="via container"))
    assert res.changed and not res.failed, res

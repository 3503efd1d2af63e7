"""Integration tests of pgdock.postgres.pooler: the Debian PgBouncer image in front of a real
PostgreSQL container, SCRAM end to end, RELOAD on change, refusals."""

from __future__ import annotations

import os

import docker
import psycopg2
import pytest

from ansible_runner import run_module
from conftest import PGBOUNCER_IMAGE
from pgclient import sql

APP_PASSWORD = "App pw: ' \" \\ é-" + "x" * 8


@pytest.fixture
def pooler_args(cleanup, free_port, tmp_path_factory, unique):
    """pooler_args(primary, **over) -> module args for a pooler in front of `primary`, cleaned up after."""
    def _args(primary: dict, **over) -> dict:
        name = unique("pgb")
        cleanup["containers"].append(name)
        args = dict(name=name, primary=primary["name"], image=PGBOUNCER_IMAGE, pull="never",
                    published_port=free_port, users=["app"],
                    secrets_dir=str(tmp_path_factory.mktemp(name) / "pooler"))
        args.update(over)
        return args
    return _args


def make_app_role(server: dict, password: str = APP_PASSWORD) -> None:
    res = run_module("role", dict(container=server["name"], name="app", password=password, login=True))
    assert not res.failed, res
    sql(server["port"], server["password"], "create database app owner app")


def through_pooler(args: dict, query: str, password: str = APP_PASSWORD, dbname: str = "app"):
    return sql(args["published_port"], password, query, user="app", dbname=dbname)


def test_pooler_serves_scram_clients_and_is_idempotent(pg_server, pooler_args, docker_client):
    server = pg_server(18)
    make_app_role(server)
    args = pooler_args(server)
    first = run_module("pooler", args, diff=True)
    assert first.changed and not first.failed, first
    assert first["pooler"]["primary"] == server["name"] and first["pooler"]["users"] == ["app"]
    assert through_pooler(args, "select current_user, inet_server_port()") == [("app", 5432)]
    through_pooler(args, "create table t(i int)")
    through_pooler(args, "insert into t select generate_series(1, 100)")
    assert sql(server["port"], server["password"], "select count(*) from t", dbname="app") == [(100,)]
    with pytest.raises(psycopg2.OperationalError, match="authentication failed"):
        through_pooler(args, "select 1", password="wrong")
    # no cleartext password anywhere: files hold verifiers, the container's config and logs neither
    etc = os.path.join(args["secrets_dir"], "etc")
    for name in os.listdir(etc):
        text = open(os.path.join(etc, name), encoding="utf-8").read()
        assert APP_PASSWORD not in text
        assert oct(os.stat(os.path.join(etc, name)).st_mode & 0o777) == "0o600"
    assert "SCRAM-SHA-256$" in open(os.path.join(etc, "userlist.txt"), encoding="utf-8").read()
    container = docker_client.containers.get(args["name"])
    assert APP_PASSWORD not in str(container.attrs["Config"]) + container.logs().decode()
    assert container.attrs["Config"]["User"] == "999:999"
    assert container.attrs["HostConfig"]["PortBindings"]["6432/tcp"][0]["HostIp"] == "127.0.0.1"
    again = run_module("pooler", args)
    assert not again.changed, again


def test_pooler_change_is_reloaded_not_restarted(pg_server, pooler_args, docker_client):
    server = pg_server(18)
    make_app_role(server)
    args = pooler_args(server)
    assert not run_module("pooler", args).failed
    started = docker_client.containers.get(args["name"]).attrs["State"]["StartedAt"]
    changed = run_module("pooler", dict(args, query_wait_timeout=33, settings={"server_idle_timeout": 77}), diff=True)
    assert changed.changed and any("RELOAD" in a for a in changed["actions"]), changed
    assert "query_wait_timeout = 33" in changed["diff"]["after"]
    assert docker_client.containers.get(args["name"]).attrs["State"]["StartedAt"] == started
    admin_pw = open(os.path.join(args["secrets_dir"], "admin_password"), encoding="utf-8").read()
    conn = psycopg2.connect(host="127.0.0.1", port=args["published_port"], user="pgdock_admin",
                            password=admin_pw, dbname="pgbouncer")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SHOW CONFIG")
        config = {row[0]: row[1] for row in cur.fetchall()}
    conn.close()
    assert config["query_wait_timeout"] == "33" and config["server_idle_timeout"] == "77"
    # a password change reaches the pooler on the next run
    make_pw = run_module("role", dict(container=server["name"], name="app", password="New-app-pw-1"))
    assert make_pw.changed, make_pw
    assert run_module("pooler", dict(args, query_wait_timeout=33, settings={"server_idle_timeout": 77})).changed
    assert through_pooler(args, "select 1", password="New-app-pw-1") == [(1,)]


def test_pooler_check_mode_and_absent(pg_server, pooler_args, docker_client):
    server = pg_server(18)
    make_app_role(server)
    args = pooler_args(server)
    planned = run_module("pooler", args, check=True)
    assert planned.changed and not planned.failed, planned
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(args["name"])
    assert not os.path.exists(args["secrets_dir"])
    assert run_module("pooler", args).changed
    gone = run_module("pooler", dict(args, state="absent", remove_config=True))
    assert gone.changed, gone
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(args["name"])
    assert not os.path.exists(args["secrets_dir"])
    assert not run_module("pooler", dict(args, state="absent")).changed


@pytest.mark.parametrize("over, message", [
    ({"users": []}, "users: list the roles"),
    ({"users": ["nobody"]}, "no role nobody"),
    ({"users": ["app", "nopw"]}, "nopw cannot log in with a SCRAM"),
    ({"published_port": None}, "published_port is required"),
    ({"settings": {"listen_port": 7000}}, "listen_port are managed by the module"),
    ({"networks": ["bridge"]}, "must share a network"),
    ({"server_tls_sslmode": "verify-full"}, "server_tls_ca_file is required"),
])
def test_pooler_bad_input_is_refused(pg_server, pooler_args, docker_client, over, message):
    server = pg_server(18)
    make_app_role(server)
    sql(server["port"], server["password"], "create role nopw login")
    args = pooler_args(server, **over)
    res = run_module("pooler", args)
    assert res.failed and message in res["msg"], res
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(args["name"])


def test_pooler_refuses_a_foreign_container_name(pg_server, pooler_args):
    server = pg_server(18)
    make_app_role(server)
    res = run_module("pooler", pooler_args(server, name=server["name"]))
    assert res.failed and "not a pooler made by this module" in res["msg"], res


def test_auth_query_looks_verifiers_up_with_a_passwordless_certificate_login(pg_server, pooler_args, tmp_path):
    """auth_query: nothing but the admin verifier is stored; the lookup role logs in with a client
    certificate, may only run the lookup function, and never sees a superuser's verifier."""
    dirs = {name: tmp_path / name for name in ("secrets", "ca", "clients")}
    tls = run_module("tls", dict(dest_dir=str(dirs["secrets"]), ca_dir=str(dirs["ca"]), common_name="srv",
                                 subject_alt_names=["srv"], client_certs=["pgdock_pooler_lookup"],
                                 client_dir=str(dirs["clients"])))
    assert tls.changed and not tls.failed, tls
    server = pg_server(18, secrets_dir=str(dirs["secrets"]), settings=tls["settings"])
    make_app_role(server)
    cert, key = (str(dirs["clients"] / f"pgdock_pooler_lookup.{ext}") for ext in ("crt", "key"))
    args = pooler_args(server, users=[], auth="auth_query", server_tls_sslmode="require",
                       server_tls_cert_file=cert, server_tls_key_file=key)
    first = run_module("pooler", args)
    assert first.changed and not first.failed, first
    assert any("lookup role pgdock_pooler_lookup" in a for a in first["actions"])
    assert any("cert" in a and "pg_hba.conf" in a for a in first["actions"])
    assert through_pooler(args, "select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()") == [("app", True)]
    userlist = open(os.path.join(args["secrets_dir"], "etc", "userlist.txt"), encoding="utf-8").read()
    assert '"app"' not in userlist and '"pgdock_admin"' in userlist
    # a password change applies at once, without running the module again
    assert run_module("role", dict(container=server["name"], name="app", password="Changed-pw-9")).changed
    assert through_pooler(args, "select 1", password="Changed-pw-9") == [(1,)]
    assert not run_module("pooler", args).changed
    # the lookup role: certificate only, nothing but the function, no superuser's verifier
    lookup = psycopg2.connect(host="127.0.0.1", port=server["port"], user="pgdock_pooler_lookup", dbname="postgres",
                              sslmode="require", sslcert=cert, sslkey=key)
    lookup.autocommit = True
    with lookup.cursor() as cur:
        cur.execute("select count(*) from pgdock_pooler.lookup('postgres')")
        assert cur.fetchone() == (0,)
        cur.execute("select usename from pgdock_pooler.lookup('app')")
        assert cur.fetchone() == ("app",)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("select rolpassword from pg_authid")
    lookup.close()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(host="127.0.0.1", port=server["port"], user="pgdock_pooler_lookup", dbname="postgres",
                         sslmode="require", connect_timeout=5)
    with pytest.raises(psycopg2.OperationalError, match="no such user"):
        sql(args["published_port"], server["password"], "select 1")  # superusers do not pass the pooler


def test_auth_query_needs_tls_and_a_certificate(pg_server, pooler_args, tmp_path):
    server = pg_server(18)
    make_app_role(server)
    no_cert = run_module("pooler", pooler_args(server, users=[], auth="auth_query", server_tls_sslmode="require"))
    assert no_cert.failed and "needs server_tls_cert_file" in no_cert["msg"], no_cert
    pem = tmp_path / "x.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n")
    no_tls = run_module("pooler", pooler_args(server, users=[], auth="auth_query", server_tls_sslmode="require",
                                              server_tls_cert_file=str(pem), server_tls_key_file=str(pem)))
    assert no_tls.failed and "has ssl=off" in no_tls["msg"], no_tls


@pytest.mark.parametrize("over, message", [
    ({"networks": None}, "with server_host, give the networks"),
    ({"auth": "auth_query"}, "with server_host use auth: userlist"),
    ({"login_host": None}, "login_host (or login_unix_socket)"),
    ({"server_port": 70000}, "is not a TCP port"),
    ({"primary": "pg-x"}, "mutually exclusive"),
])
def test_an_external_server_needs_networks_a_login_and_userlist(pooler_args, docker_client, over, message):
    args = pooler_args({"name": None}, server_host="db1.example", login_host="127.0.0.1", networks=["bridge"])
    args.pop("primary")
    args.update(over)
    res = run_module("pooler", {k: v for k, v in args.items() if v is not None})
    assert res.failed and message in res["msg"], res
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(args["name"])

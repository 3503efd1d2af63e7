"""Integration tests of the pooler's TLS towards its clients: verify-full through PgBouncer with the
CA, plaintext refused under require, a certificate rotated and served after RELOAD without a
restart, client certificates under verify-full (the module's admin connection included), and the
refusals."""

from __future__ import annotations

import os

import docker
import psycopg2
import pytest

from ansible_runner import run_module
from client_tls import client_params, issue, pooler_options
from ansible_collections.pgdock.postgres.plugins.module_utils.tls.certs import serial_hex
from ansible_collections.pgdock.postgres.plugins.module_utils.tls.engine import served_certificate
from test_pooler import APP_PASSWORD, make_app_role, pooler_args  # noqa: F401  # pylint: disable=unused-import


@pytest.fixture
def tls_pooler(pg_server, pooler_args, tmp_path):  # noqa: F811
    """tls_pooler(**pooler_options) -> (args, root): a server with role app, and the pooler's
    certificates (client_tls.issue) under `root`; the pooler not run yet."""
    server = pg_server(18)
    make_app_role(server)

    def _make(**over):
        args = pooler_args(server, **over)
        issue(args["name"], tmp_path)
        return args, tmp_path
    return _make


def connect(args: dict, host: str = "127.0.0.1", **tls):
    conn = psycopg2.connect(host=host, port=args["published_port"], user="app", password=APP_PASSWORD, dbname="app",
                            connect_timeout=5, **tls)
    conn.autocommit = True
    return conn


def query(args: dict, sql: str = "select 1", **tls):
    conn = connect(args, **tls)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall(), conn.info.ssl_in_use
    finally:
        conn.close()


def started_at(docker_client, args: dict) -> str:
    return docker_client.containers.get(args["name"]).attrs["State"]["StartedAt"]


def served_serial(args: dict) -> str | None:
    cert = served_certificate("127.0.0.1", args["published_port"], 5)
    return serial_hex(cert) if cert is not None else None


def test_verify_full_through_the_pooler_and_plaintext_refused_under_require(tls_pooler, tmp_path_factory):
    args, root = tls_pooler()
    args.update(pooler_options(root, "require"))
    first = run_module("pooler", args, diff=True)
    assert first.changed and not first.failed, first
    assert first["pooler"]["client_tls_sslmode"] == "require"
    assert "client_tls_sslmode = require" in first["diff"]["after"]
    for host in ("127.0.0.1", "localhost"):  # both are SANs of the pooler's certificate
        assert query(args, host=host, **client_params(root)) == ([(1,)], True)
    with pytest.raises(psycopg2.OperationalError, match="SSL required"):
        query(args, sslmode="disable")
    # the certificate of another CA's pooler does not verify
    other = tmp_path_factory.mktemp("other")
    issue(args["name"], other)
    with pytest.raises(psycopg2.OperationalError, match="certificate verify failed"):
        query(args, **client_params(other))
    # the files are copies, 0600 and owned by PgBouncer's uid; nothing changes on a second run
    etc = os.path.join(args["secrets_dir"], "etc")
    for name in ("listen.crt", "listen.key"):
        st = os.stat(os.path.join(etc, name))
        assert (st.st_mode & 0o777, st.st_uid) == (0o600, 999)
    again = run_module("pooler", args)
    assert not again.changed, again


def test_tls_turned_on_and_a_rotated_certificate_are_served_after_reload_without_restart(tls_pooler, docker_client):
    args, root = tls_pooler()
    assert run_module("pooler", args).changed  # plaintext, as before the option existed
    assert query(args, sslmode="disable") == ([(1,)], False)
    assert served_serial(args) is None
    started = started_at(docker_client, args)

    turned_on = run_module("pooler", dict(args, **pooler_options(root)))
    assert turned_on.changed and not turned_on.failed, turned_on
    assert any(a.startswith("RELOAD") for a in turned_on["actions"]), turned_on["actions"]
    first_serial = served_serial(args)
    assert first_serial == issue(args["name"], root)["server"]["serial"]
    open_conn = connect(args, **client_params(root))

    renewed = issue(args["name"], root, force=True)  # a new key and certificate at the same paths
    assert renewed.changed and renewed["server"]["serial"] != first_serial
    rotated = run_module("pooler", dict(args, **pooler_options(root)))
    assert rotated.changed and not rotated.failed, rotated
    assert any("listen.crt" in a for a in rotated["actions"]) and any(a.startswith("RELOAD") for a in rotated["actions"])
    assert served_serial(args) == renewed["server"]["serial"]
    assert query(args, **client_params(root)) == ([(1,)], True)
    assert started_at(docker_client, args) == started  # RELOAD, never a restart
    with open_conn.cursor() as cur:  # a connection opened before keeps working
        cur.execute("select 2")
        assert cur.fetchone() == (2,)
    open_conn.close()
    assert not run_module("pooler", dict(args, **pooler_options(root))).changed


def test_verify_full_asks_every_client_for_a_certificate_the_admin_connection_too(tls_pooler, docker_client):
    args, root = tls_pooler()
    plain = dict(args)
    args.update(pooler_options(root, "verify-full"))
    first = run_module("pooler", args)
    assert first.changed and not first.failed, first
    assert os.stat(os.path.join(args["secrets_dir"], "admin_tls.key")).st_mode & 0o777 == 0o600
    assert query(args, **client_params(root, "verify-full")) == ([(1,)], True)
    with pytest.raises(psycopg2.OperationalError):
        query(args, **client_params(root))  # no client certificate
    # a change is applied through the console, which needs the admin certificate
    started = started_at(docker_client, args)
    changed = run_module("pooler", dict(args, query_wait_timeout=33))
    assert changed.changed and any(a.startswith("RELOAD") for a in changed["actions"]), changed
    # TLS off again: reloaded through the TLS console, the files it no longer needs removed
    off = run_module("pooler", dict(plain, query_wait_timeout=33))
    assert off.changed and not off.failed, off
    assert query(args, sslmode="disable") == ([(1,)], False)
    assert not os.path.exists(os.path.join(args["secrets_dir"], "etc", "listen.key"))
    assert not os.path.exists(os.path.join(args["secrets_dir"], "admin_tls.key"))
    assert started_at(docker_client, args) == started
    assert not run_module("pooler", dict(plain, query_wait_timeout=33)).changed


def test_client_tls_without_its_files_is_refused_before_anything_is_made(tls_pooler, docker_client):
    args, root = tls_pooler()
    full = pooler_options(root, "verify-full")
    cases = [
        (dict(client_tls_sslmode="require"), "needs client_tls_cert_file and client_tls_key_file"),
        ({k: v for k, v in full.items() if k != "client_tls_ca_file"}, "client_tls_ca_file is required"),
        ({k: v for k, v in full.items() if not k.startswith("admin_tls")}, "give admin_tls_cert_file"),
        (dict(full, client_tls_cert_file=str(root / "tls" / "nope.crt")), "does not exist or holds no PEM"),
        (dict(settings={"client_tls_sslmode": "require"}), "client_tls_sslmode are managed by the module"),
    ]
    for over, message in cases:
        res = run_module("pooler", dict(args, **over))
        assert res.failed and message in res["msg"], (over, res)
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(args["name"])

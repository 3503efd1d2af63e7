"""The server and pooler roles together: PgBouncer's certificate for its clients comes from the
stack's CA; require refuses plaintext and verify-full through the pooler works with that CA; under
verify-full the role's admin certificate keeps the module working and a client certificate of the
server role gets through; each deploy converges in one run."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import psycopg2
import pytest

from conftest import PGBOUNCER_IMAGE
from pgclient import unused_port
from test_server_role_ca import deploy

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: pgdock.postgres.server
    - role: pgdock.postgres.pooler
"""
APP_PASSWORD = "Pooler-role-pw-" + secrets.token_hex(4)


@pytest.fixture
def stack_vars(unique, cleanup, pg_image, tmp_path):
    name, pooler = unique("prole"), unique("prole-pgb")
    cleanup["containers"] += [pooler, name]
    cleanup["volumes"].append(f"{name}-data")
    cleanup["networks"].append(name + "-net")
    yield dict(pgdock_networks=[{"name": name + "-net"}], pgdock_server_name=name,
               pgdock_server_image=pg_image(18), pgdock_server_pull="never",
               pgdock_server_superuser_password="Prole-pw-" + secrets.token_hex(8),
               pgdock_server_networks=[{"name": name + "-net"}], pgdock_server_published_port=unused_port(),
               pgdock_server_secrets_dir=str(tmp_path / "secrets"), pgdock_server_tls_client_certs=["app"],
               pgdock_server_tls_client_dir=str(tmp_path / "clients"),
               pgdock_roles=[{"name": "app", "password": APP_PASSWORD, "login": True}],
               pgdock_databases=[{"name": "app", "owner": "app"}],
               pgdock_pooler=True, pgdock_pooler_name=pooler, pgdock_pooler_image=PGBOUNCER_IMAGE,
               pgdock_pooler_pull="never", pgdock_pooler_published_port=unused_port(),
               pgdock_pooler_secrets_dir=str(tmp_path / "pooler"), pgdock_pooler_tls_dir=str(tmp_path / "pooler-tls"),
               pgdock_pooler_databases=[{"name": "app"}])
    shutil.rmtree(Path("/var/lib/pgdock") / name, ignore_errors=True)  # the stack's CA


def through_pooler(stack_vars: dict, **tls):
    conn = psycopg2.connect(host="localhost", port=stack_vars["pgdock_pooler_published_port"], user="app",
                            password=APP_PASSWORD, dbname="app", connect_timeout=5, **tls)
    try:
        with conn.cursor() as cur:
            cur.execute("select current_user")
            return cur.fetchone()[0], conn.info.ssl_in_use
    finally:
        conn.close()


def run_deploy(extra_vars: dict) -> int:
    return deploy(extra_vars, PLAYBOOK)


def test_pooler_role_serves_tls_from_the_stacks_ca(stack_vars):
    ca = str(Path(stack_vars["pgdock_pooler_tls_dir"]) / "ca.crt")
    required = dict(stack_vars, pgdock_pooler_client_tls_sslmode="require")
    assert run_deploy(required) > 0
    stack_ca = Path("/var/lib/pgdock") / stack_vars["pgdock_server_name"] / "ca" / "ca.crt"
    assert Path(ca).read_bytes() == stack_ca.read_bytes()
    assert through_pooler(stack_vars, sslmode="verify-full", sslrootcert=ca) == ("app", True)
    with pytest.raises(psycopg2.OperationalError, match="SSL required"):
        through_pooler(stack_vars, sslmode="disable")
    assert run_deploy(required) == 0

    certified = dict(stack_vars, pgdock_pooler_client_tls_sslmode="verify-full")
    assert run_deploy(certified) > 0
    clients = Path(stack_vars["pgdock_server_tls_client_dir"])
    assert through_pooler(stack_vars, sslmode="verify-full", sslrootcert=ca, sslcert=str(clients / "app.crt"),
                          sslkey=str(clients / "app.key")) == ("app", True)
    with pytest.raises(psycopg2.OperationalError):
        through_pooler(stack_vars, sslmode="verify-full", sslrootcert=ca)
    assert run_deploy(certified) == 0

"""Integration tests of pgdock.postgres.hba on real PostgreSQL 15 and 18 containers: the default
rules refuse plain connections from the network and accept TLS ones, a rule the server rejects
leaves the previous file in force."""

from __future__ import annotations

import datetime
import os

import psycopg2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_runner import run_module

MAJORS = [15, 18]
SECRETS_MOUNT = "/run/secrets/pgdock"
TLS_SETTINGS = {"ssl": "on", "ssl_cert_file": f"{SECRETS_MOUNT}/server.crt",
                "ssl_key_file": f"{SECRETS_MOUNT}/server.key"}


def self_signed_into(directory, uid: int = 999) -> None:
    """A self-signed server certificate and key, as the server reads them (key 0600, owned by postgres)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "primary")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    files = {"server.crt": (cert.public_bytes(serialization.Encoding.PEM), 0o644),
             "server.key": (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()), 0o600)}
    for filename, (data, mode) in files.items():
        path = directory / filename
        path.write_bytes(data)
        os.chown(path, uid, uid)
        os.chmod(path, mode)


@pytest.fixture
def tls_server(pg_server, tmp_path):
    """tls_server(major) -> a pg_server with ssl=on and a self-signed certificate."""
    def _start(major: int) -> dict:
        secrets_dir = tmp_path / "secrets"
        self_signed_into(secrets_dir)
        srv = pg_server(major, secrets_dir=str(secrets_dir), settings=TLS_SETTINGS)
        srv["secrets_dir"] = str(secrets_dir)
        return srv
    return _start


def hba(srv: dict, check: bool = False, **args):
    return run_module("hba", dict(container=srv["name"], **args), check=check, diff=True)


def hba_text(docker_client, srv: dict, path: str) -> str:
    return docker_client.containers.get(srv["name"]).exec_run(["cat", path]).output.decode()


def host_connect(srv: dict, sslmode: str):
    return psycopg2.connect(host="127.0.0.1", port=srv["port"], user=srv["superuser"], password=srv["password"],
                            dbname="postgres", sslmode=sslmode, connect_timeout=5)


def psql_from_network(docker_client, cleanup, srv: dict, sslmode: str) -> tuple[int, str]:
    """Run psql in another container on the server's network, connecting to its alias 'primary'."""
    dsn = f"host=primary port=5432 user={srv['superuser']} dbname=postgres sslmode={sslmode} connect_timeout=5"
    client = docker_client.containers.run(
        srv["module_args"]["image"], ["psql", dsn, "-tAc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
        entrypoint=[], network=srv["network"], environment={"PGPASSWORD": srv["password"]},
        name=srv["name"] + f"-client-{sslmode}", detach=True)
    cleanup["containers"].append(client.name)
    code = client.wait(timeout=60)["StatusCode"]
    return code, client.logs().decode()


@pytest.mark.parametrize("major", MAJORS)
def test_default_rules_accept_tls_and_refuse_plain_connections(tls_server, docker_client, cleanup, major):
    srv = tls_server(major)
    container = docker_client.containers.get(srv["name"])
    subnet = docker_client.networks.get(srv["network"]).attrs["IPAM"]["Config"][0]["Subnet"]

    planned = hba(srv, check=True, default_rules=True, replication_user="replicator")
    assert planned.changed and not planned.failed, planned
    path = planned["hba_file"]
    assert path.startswith("/var/lib/postgresql/")
    original = hba_text(docker_client, srv, path)
    assert "pgdock" not in original

    applied = hba(srv, default_rules=True, replication_user="replicator")
    assert applied.changed and not applied.failed, applied
    after = applied["diff"]["after"]
    assert f"hostssl    all              all              {subnet}" in after
    assert f"hostssl    replication      replicator,postgres {subnet}" in after
    assert after.splitlines()[-2:] == ["hostnossl  all              all              all                      reject",
                                       "host       all              all              all                      reject"]
    assert "scram-sha-256" in applied["diff"]["before"] and applied["diff"]["before"] != after
    written = hba_text(docker_client, srv, path)
    assert written.startswith("# pg_hba.conf written by pgdock.postgres.hba")
    stat = container.exec_run(["stat", "-c", "%u %a", path]).output.decode().split()
    assert stat == ["999", "600"]

    again = hba(srv, default_rules=True, replication_user="replicator")
    assert not again.changed and not again.failed, again

    # the network: plain refused by pg_hba.conf, TLS accepted
    code, out = psql_from_network(docker_client, cleanup, srv, "disable")
    assert code != 0 and "pg_hba.conf rejects connection" in out and "no encryption" in out, out
    code, out = psql_from_network(docker_client, cleanup, srv, "require")
    assert code == 0 and out.strip() == "t", out
    # the Docker host through the published port arrives from the gateway, inside the subnet
    with pytest.raises(psycopg2.OperationalError, match="rejects connection"):
        host_connect(srv, "disable")
    with host_connect(srv, "require") as conn, conn.cursor() as cur:
        cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cur.fetchone() == (True,)
    # the image's OS user still reaches the server on the socket (peer)
    local = container.exec_run(["psql", "-U", "postgres", "-tAc", "SELECT 1"], user="postgres")
    assert local.exit_code == 0 and local.output.decode().strip() == "1", local.output


@pytest.mark.parametrize("major", MAJORS)
def test_rejected_rules_restore_the_previous_file(pg_server, docker_client, major):
    srv = pg_server(major)
    good = [{"type": "local", "method": "peer"},
            {"type": "host", "database": ["all"], "user": ["all"], "address": "all", "method": "scram-sha-256"}]
    first = hba(srv, rules=good)
    assert first.changed and not first.failed, first
    assert not hba(srv, rules=good).changed
    path = first["hba_file"]
    previous = hba_text(docker_client, srv, path)

    bad = good + [{"type": "host", "database": ["app"], "address": "10.0.0.0/8", "method": "scram-sha-257"}]
    refused = hba(srv, rules=bad)
    assert refused.failed, refused
    assert 'invalid authentication method "scram-sha-257"' in refused["msg"], refused["msg"]
    assert "previous file was restored" in refused["msg"] and "line 5 (host" in refused["msg"]
    assert refused["errors"] == ['invalid authentication method "scram-sha-257"']
    assert hba_text(docker_client, srv, path) == previous
    with host_connect(srv, "prefer") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL")
        assert cur.fetchone() == (0,)

    # valid syntax that refuses this module's own connection: put back too
    lockout = hba(srv, rules=[{"type": "local", "method": "peer"}, {"address": "all", "method": "reject"}])
    assert lockout.failed and "refuse this module's own connection" in lockout["msg"], lockout
    assert hba_text(docker_client, srv, path) == previous
    host_connect(srv, "prefer").close()

    # TLS-only defaults on a server without TLS would lock every client out: refused before writing
    no_tls = hba(srv, default_rules=True)
    assert no_tls.failed and "has ssl=off" in no_tls["msg"], no_tls
    assert hba_text(docker_client, srv, path) == previous
    plain = hba(srv, default_rules=True, require_ssl=False, extra_rules=[
        {"type": "host", "database": ["my db"], "address": "all", "method": "reject"}], extra_rules_position="first")
    assert plain.changed and not plain.failed, plain
    assert plain["rules"][0] == {"type": "host", "database": ['"my db"'], "user": ["all"], "address": "all",
                                 "method": "reject", "options": {}}
    host_connect(srv, "disable").close()

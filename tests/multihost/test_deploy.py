"""playbooks/deploy.yml across three Docker hosts of the test bed: the primary on h1 publishes its
port on h1's address, its replica on h2 streams from it over TLS (verify-full with the stack's CA),
PgBouncer on h3 points at it across hosts (verify-full too); pg_hba.conf lets in only the hosts
that need it. Deployed twice: the second run changes nothing."""

from __future__ import annotations

import datetime
import json
import secrets
import time

import psycopg2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import run
from stack import failures, make_stack, stats


@pytest.fixture(scope="module")
def stack(testbed, tmp_path_factory):
    """The stack deployed twice (both runs kept as stack.runs), removed afterwards."""
    deployed = make_stack(testbed, tmp_path_factory.mktemp("stack"))
    try:
        deployed.runs = []
        for _run in range(2):
            proc = deployed.playbook("deploy.yml")
            deployed.runs.append(proc)
            assert proc.returncode == 0, failures(proc) or proc.stdout[-3000:] + proc.stderr[-3000:]
        yield deployed
    finally:
        deployed.remove()


def names(testbed, host: str) -> set[str]:
    return set(testbed.docker(host, "ps", "--format", "{{.Names}}").stdout.split())


def test_deploy_across_three_hosts_twice_the_second_run_changes_nothing(stack, testbed):
    first, second = (stats(run) for run in stack.runs)
    assert all(first[h]["changed"] > 0 for h in ("h1", "h2", "h3")), first
    assert {h: second[h]["changed"] for h in ("h1", "h2", "h3")} == {"h1": 0, "h2": 0, "h3": 0}, second
    # no password, and not the CA's key, in what the runs printed
    for run_ in stack.runs:
        for secret in stack.passwords.values():
            assert secret not in run_.stdout + run_.stderr
        assert "PRIVATE KEY" not in run_.stdout + run_.stderr
    # each part on its own host, and only there
    where = {host: names(testbed, host) for host in testbed.hosts}
    assert stack.primary in where["h1"] and stack.replica in where["h2"] and stack.pooler in where["h3"], where
    assert not (where["h1"] & {stack.replica, stack.pooler}) and not (where["h2"] & {stack.primary, stack.pooler})
    assert not (where["h3"] & {stack.primary, stack.replica})
    # published on each host's test bed address, not on 127.0.0.1
    for host, container in (("h1", stack.primary), ("h2", stack.replica), ("h3", stack.pooler)):
        ports = testbed.docker(host, "port", container).stdout.split()
        assert ports and all(p.startswith(stack.address(host) + ":") for p in ports[2::3]), (host, ports)


def test_check_mode_after_the_deploy_finds_nothing_to_change(stack):
    proc = stack.playbook("deploy.yml", "--check")
    assert proc.returncode == 0, failures(proc)
    assert {h: s["changed"] for h, s in stats(proc).items()} == {"h1": 0, "h2": 0, "h3": 0}


def test_a_host_the_play_lacks_is_refused_before_anything_changes(stack):
    wrong = json.dumps({"pgdock_replicas": [{"name": stack.replica, "host": "h9", "published_port": 5432}]})
    proc = stack.playbook("deploy.yml", "-e", wrong)
    assert proc.returncode != 0
    messages = failures(proc)
    assert len(messages) == 3 and all("name inventory hosts of this play (h1, h2, h3)" in m for m in messages), messages
    assert {h: s["changed"] for h, s in stats(proc).items()} == {"h1": 0, "h2": 0, "h3": 0}


def test_the_replica_on_h2_streams_over_tls_verified_against_the_stacks_ca(stack):
    row = stack.psql("h1", stack.primary, "select r.application_name, r.state, host(r.client_addr), s.ssl, s.version "
                                          "from pg_stat_replication r join pg_stat_ssl s using (pid)")
    name, state, client, ssl, version = row.split("|")
    assert (name, state, client, ssl) == (stack.replica, "streaming", stack.address("h2"), "t"), row
    assert version.startswith("TLSv1."), row
    conninfo = stack.psql("h2", stack.replica, "show primary_conninfo")
    assert f"host={stack.address('h1')}" in conninfo and "port=5432" in conninfo, conninfo
    assert "sslmode=verify-full" in conninfo and "sslrootcert=/run/secrets/pgdock/upstream-ca.crt" in conninfo
    assert "password" not in conninfo.replace("passfile", "")
    # the primary's certificate names the address the replica uses; a client that verifies it
    # with the CA on h2 gets in only under that address
    ca = "/run/secrets/pgdock/upstream-ca.crt"
    verify = stack.testbed.docker(
        "h2", "exec", "-u", "postgres", "-e", f"PGPASSWORD={stack.passwords['superuser']}", stack.replica, "psql",
        f"host={stack.address('h1')} dbname=postgres user=postgres sslmode=verify-full sslrootcert={ca}",
        "-Atc", "select ssl from pg_stat_ssl where pid = pg_backend_pid()")
    assert verify.stdout.strip() == "t"


def replication_probe(stack, host: str):
    """IDENTIFY_SYSTEM on a replication connection to the primary from a container on `host`, with
    the right password."""
    return stack.testbed.docker(
        host, "run", "--rm", "--name", f"pgmh-{stack.token}-probe-{host}", "-e",
        f"PGPASSWORD={stack.passwords['replication']}", "pgdock-test/postgres:18", "psql",
        f"host={stack.address('h1')} user=replicator dbname=replication replication=true sslmode=require",
        "-Atc", "IDENTIFY_SYSTEM", check=False)


def test_a_replication_or_client_connection_from_an_address_the_rules_do_not_name_is_refused(stack):
    # replication from h3: the pooler's host is let in for its clients, not for replication
    refused = replication_probe(stack, "h3")
    assert refused.returncode != 0
    assert f'no pg_hba.conf entry for replication connection from host "{stack.address("h3")}"' in refused.stderr
    # the same from h2 is let in (the rule is about h2's address)
    allowed = replication_probe(stack, "h2")
    assert allowed.returncode == 0, allowed.stderr
    # a client from this machine (the test bed network's gateway), with the right password
    with pytest.raises(psycopg2.OperationalError, match="no pg_hba.conf entry|rejects connection"):
        psycopg2.connect(host=stack.address("h1"), port=5432, user="app", password=stack.passwords["app"],
                         dbname="app", sslmode="require", connect_timeout=5).close()


def test_writes_through_the_pooler_on_h3_reach_the_primary_on_h1_and_appear_on_h2(stack):
    token = secrets.token_hex(4)
    with psycopg2.connect(host=stack.address("h3"), port=6432, user="app", password=stack.passwords["app"],
                          dbname="app", connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute("create table if not exists mh_probe (token text primary key)")
        cur.execute("insert into mh_probe values (%s)", (token,))
        # the server behind the pooler: h1's primary, reached from h3's address over TLS
        cur.execute("select pg_is_in_recovery(), host(inet_client_addr()), ssl from pg_stat_ssl "
                    "where pid = pg_backend_pid()")
        assert cur.fetchone() == (False, stack.address("h3"), True)
    conn.close()
    assert stack.psql("h1", stack.primary, f"select count(*) from mh_probe where token = '{token}'", "app") == "1"
    deadline = time.monotonic() + 30
    while stack.psql("h2", stack.replica, f"select count(*) from mh_probe where token = '{token}'", "app",
                     check=False).stdout.strip() != "1":
        assert time.monotonic() < deadline, "the write did not reach the replica on h2 within 30 s"
        time.sleep(0.5)


def a_foreign_ca_pem() -> str:
    """A CA certificate that did not issue the primary's (self-signed, made here)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the stack's CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_a_replica_whose_ca_did_not_issue_the_primarys_certificate_is_refused_and_nothing_is_made(stack, testbed):
    name, path = f"pgmh-{stack.token}-replica2", f"/var/lib/pgdock/pgmh-{stack.token}-foreign-ca.crt"
    run(["docker", "exec", "-i", testbed.hosts["h2"].container, "sh", "-c", f"cat > {path}"],
        input=a_foreign_ca_pem())
    args = {"name": name, "primary": stack.primary, "image": "pgdock-test/postgres:18",
            "networks": [{"name": stack.network}], "replication_password": stack.passwords["replication"],
            "upstream": {"host": stack.address("h1"), "port": 5432, "ca_file": path,
                         "login_password": stack.passwords["superuser"]}}
    result = testbed.ansible("h2", "pgdock.postgres.replica", json.dumps(args))["h2"]
    assert result.get("failed") and "certificate verify failed" in result["msg"], result
    assert stack.passwords["superuser"] not in json.dumps(result)
    assert name not in testbed.docker("h2", "ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert not testbed.docker("h2", "volume", "ls", "-q", "--filter", f"name={name}").stdout.strip()
    # the primary has no slot for it either
    assert stack.psql("h1", stack.primary, "select count(*) from pg_replication_slots where slot_name = "
                                           f"'{name.replace('-', '_')}'") == "0"

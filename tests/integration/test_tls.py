"""Integration tests of pgdock.postgres.tls: certificates written where the container mounts them, real
PostgreSQL 15 and 18 servers verified with sslmode=verify-full, client-certificate logins, rotation by
reload without restart, reissue decisions and refused input."""

from __future__ import annotations

import datetime
import json
import re
import socket
import ssl
import struct
import time

import psycopg2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_runner import run_module, run_playbook

CERT_ROLE = "certuser"
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def host_dirs(root) -> dict:
    """Host directories: the container's secrets, the CA and the client certificates."""
    return {name: root / name for name in ("secrets", "ca", "clients")}


def args_for(dirs: dict):
    """args(**overrides) -> the tls module's args writing into `dirs` (None drops an option)."""
    def _args(**over):
        args = dict(dest_dir=str(dirs["secrets"]), ca_dir=str(dirs["ca"]), common_name="primary",
                    subject_alt_names=["primary"])
        args.update(over)
        return {key: value for key, value in args.items() if value is not None}
    return _args


@pytest.fixture
def dirs(tmp_path):
    return host_dirs(tmp_path)


@pytest.fixture
def tls_args(dirs):
    return args_for(dirs)


@pytest.fixture(scope="module")
def issued_once(tmp_path_factory):
    """(dirs, args) of certificates issued once, shared by the tests that must change nothing."""
    dirs = host_dirs(tmp_path_factory.mktemp("issued"))
    args = args_for(dirs)
    assert run_module("tls", args(client_certs=["app"], client_dir=str(dirs["clients"]))).changed
    return dirs, args


@pytest.fixture
def tls_server(pg_server, dirs, tls_args):
    """tls_server(major) -> (server, first tls result): certificates first, then the container with TLS on,
    the order of a deployment."""
    def _start(major: int):
        first = run_module("tls", tls_args(client_certs=[CERT_ROLE], client_dir=str(dirs["clients"])))
        assert first.changed and not first.failed, first
        server = pg_server(major, secrets_dir=str(dirs["secrets"]), settings=first["settings"])
        return server, first
    return _start


def served_serial(port: int) -> int:
    """Serial of the certificate the server presents: SSLRequest, 'S', TLS handshake, no verification."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(struct.pack("!ii", 8, 80877103))
        assert sock.recv(1) == b"S", "the server refused TLS"
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(sock) as tls:
            der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


def verified(server: dict, ca_file: str, host: str = "localhost", **extra):
    """A connection with sslmode=verify-full (password login unless `extra` says otherwise)."""
    params = dict(host=host, port=server["port"], user=server["superuser"], password=server["password"],
                  dbname="postgres", sslmode="verify-full", sslrootcert=ca_file, connect_timeout=5)
    params.update(extra)
    return psycopg2.connect(**{k: v for k, v in params.items() if v is not None})


def query(conn, sql: str):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()


def snapshot(*roots) -> dict:
    """Every file under `roots` with its content, mode and owner."""
    found = {}
    for root in roots:
        for path in sorted(root.rglob("*")) if root.exists() else []:
            st = path.stat()
            found[str(path)] = (path.read_bytes() if path.is_file() else None, st.st_mode, st.st_uid)
    return found


def mode_owner(path) -> tuple:
    st = path.stat()
    return st.st_mode & 0o777, st.st_uid


def allow_cert_login(docker_client, server: dict, role: str) -> None:
    """Test setup standing in for the hba module: a `hostssl all <role> all cert` line first in
    pg_hba.conf, the role, and a reload."""
    container = docker_client.containers.get(server["name"])
    code, out = container.exec_run(["sh", "-c", f'sed -i "1i hostssl all {role} all cert" "$PGDATA/pg_hba.conf"'],
                                   user="postgres")
    assert code == 0, out
    conn = psycopg2.connect(host="127.0.0.1", port=server["port"], user=server["superuser"],
                            password=server["password"], dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN")
        cur.execute("SELECT pg_reload_conf()")
    conn.close()


def make_ca(not_before, not_after, ca=True, key=None):
    """(cert PEM, key PEM) of a CA made by hand, for the user-supplied-CA cases."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "User CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_text


# ---------------------------------------------------------------- real servers

@pytest.mark.parametrize("major", [15, 18])
def test_verify_full_and_client_certificate_login(tls_server, docker_client, dirs, tls_args, major):
    server, first = tls_server(major)
    ca_file = first["server"]["ca_file"]
    assert mode_owner(dirs["secrets"] / "server.key") == (0o600, 999)
    assert mode_owner(dirs["secrets"] / "server.crt") == mode_owner(dirs["secrets"] / "ca.crt") == (0o644, 999)
    assert mode_owner(dirs["ca"] / "ca.key") == (0o600, 0)
    assert not (dirs["secrets"] / "ca.key").exists()
    assert served_serial(server["port"]) == int(first["server"]["serial"], 16)

    for host in ("localhost", "127.0.0.1"):
        with verified(server, ca_file, host) as conn:
            assert query(conn, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == (True,)
    with pytest.raises(psycopg2.OperationalError, match="does not match host name"):
        verified(server, ca_file, "elsewhere.example", hostaddr="127.0.0.1")

    allow_cert_login(docker_client, server, CERT_ROLE)
    client = first["clients"][CERT_ROLE]
    assert mode_owner(dirs["clients"] / f"{CERT_ROLE}.key")[0] == 0o600
    deadline = time.monotonic() + 10
    while True:  # the reload that activates the hba line is asynchronous
        try:
            conn = verified(server, client["ca_file"], user=CERT_ROLE, password=None,
                            sslcert=client["cert_file"], sslkey=client["key_file"])
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    with conn:
        assert query(conn, "SELECT current_user, (SELECT client_dn FROM pg_stat_ssl "
                           "WHERE pid = pg_backend_pid())") == (CERT_ROLE, f"/CN={CERT_ROLE}")
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match="certificate"):
        verified(server, ca_file, user=CERT_ROLE, password=None)

    again = run_module("tls", tls_args(client_certs=[CERT_ROLE], client_dir=str(dirs["clients"])))
    assert not again.changed and again["actions"] == [], again


@pytest.mark.parametrize("major", [15, 18])
def test_rotation_reloads_without_restart(tls_server, docker_client, tls_args, major):
    server, first = tls_server(major)
    old_serial = served_serial(server["port"])
    started_at = docker_client.containers.get(server["name"]).attrs["State"]["StartedAt"]
    old_conn = verified(server, first["server"]["ca_file"])
    by_container = tls_args(container=server["name"], dest_dir=None)

    check = run_module("tls", dict(by_container, force=True), check=True, diff=True)
    assert check.changed and check["reloaded"] and check["server"]["serial"] is None, check
    assert check["diff"]["after"]["server"]["serial"] is None
    assert served_serial(server["port"]) == old_serial

    rotated = run_module("tls", dict(by_container, force=True))
    assert rotated.changed and rotated["reloaded"] and not rotated.failed, rotated
    new_serial = int(rotated["server"]["serial"], 16)
    assert new_serial != old_serial and rotated["server"]["reasons"][0] == "force: true"
    assert rotated["dest_dir"] == str(tls_args()["dest_dir"])
    # the container's name joined the SANs (its alias was there already)
    assert server["name"] in rotated["server"]["subject_alt_names"]
    assert f"reload the configuration of container {server['name']} (its files changed)" in rotated["actions"]
    assert served_serial(server["port"]) == new_serial
    assert docker_client.containers.get(server["name"]).attrs["State"]["StartedAt"] == started_at
    with verified(server, rotated["server"]["ca_file"]) as conn:
        assert query(conn, "SELECT 1") == (1,)
    assert query(old_conn, "SELECT 1") == (1,)  # existing sessions survive the reload
    old_conn.close()

    again = run_module("tls", by_container)
    assert not again.changed and not again["reloaded"], again


def test_server_serving_an_older_certificate_is_reloaded(tls_server, docker_client, tls_args):
    server, first = tls_server(18)
    names = ["primary", server["name"]]
    rotated = run_module("tls", tls_args(subject_alt_names=names))  # no container given: files only, no reload
    assert rotated.changed and not rotated["reloaded"]
    assert served_serial(server["port"]) == int(first["server"]["serial"], 16)
    caught_up = run_module("tls", tls_args(container=server["name"], dest_dir=None, subject_alt_names=names))
    assert caught_up.changed and caught_up["reloaded"], caught_up
    assert caught_up["actions"] == [f"reload the configuration of container {server['name']} (it serves "
                                    f"certificate serial {first['server']['serial']}, server.crt holds "
                                    f"{rotated['server']['serial']})"]
    assert served_serial(server["port"]) == int(rotated["server"]["serial"], 16)


# ---------------------------------------------------------------- files only

def test_idempotency_and_each_reason_to_reissue(tls_args, dirs):
    first = run_module("tls", tls_args(client_certs=["app"], client_dir=str(dirs["clients"])))
    assert first.changed and first["ca"]["issued"] and first["server"]["issued"], first
    assert first["clients"]["app"]["subject"] == "CN=app"
    again = run_module("tls", tls_args(client_certs=["app"], client_dir=str(dirs["clients"])), diff=True)
    assert not again.changed and again["actions"] == [], again
    assert again["diff"]["before"] == again["diff"]["after"]
    serial = first["server"]["serial"]

    def reissued(args, reason):
        nonlocal serial
        res = run_module("tls", args)
        assert res.changed and res["server"]["issued"] and res["server"]["serial"] != serial, res
        assert any(reason in r for r in res["server"]["reasons"]), res["server"]["reasons"]
        assert not res["ca"]["issued"] and not run_module("tls", args).changed
        serial = res["server"]["serial"]
        return res

    # renew_before larger than the validity left (397 days) -> reissued for 500 days
    renewed = reissued(tls_args(validity_days=500, renew_before=400), "within renew_before (400 days)")
    assert renewed["server"]["not_after"] > first["server"]["not_after"]
    reissued(tls_args(subject_alt_names=["primary", "db.example.com", "10.9.8.7"]),
             "the subject alternative names differ (add db.example.com, 10.9.8.7)")
    reissued(tls_args(subject_alt_names=["primary"], common_name="pg-main"), "the subject differs")

    key_path = dirs["secrets"] / "server.key"
    key_path.write_text(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode())
    reissued(tls_args(common_name="pg-main"), "the key does not match the certificate")
    reissued(tls_args(common_name="pg-main", key_type="rsa-2048"), "the key is ec-p256, key_type asks for rsa-2048")

    key_path.chmod(0o644)
    fixed = run_module("tls", tls_args(common_name="pg-main", key_type="rsa-2048"))
    assert fixed.changed and not fixed["server"]["issued"] and fixed["server"]["serial"] == serial
    assert fixed["actions"] == [f"set owner and mode of {key_path} to 999:999 0600"]
    assert mode_owner(key_path) == (0o600, 999)


def test_check_mode_writes_nothing_and_diff_says_what_would_be_issued(tls_args, dirs):
    res = run_module("tls", tls_args(), check=True, diff=True)
    assert res.changed and not res.failed, res
    assert not dirs["secrets"].exists() and not dirs["ca"].exists()
    assert res["server"]["reasons"] == ["the certificate file is missing"] and res["server"]["serial"] is None
    assert res["diff"]["before"]["server"] == {} and res["diff"]["after"]["server"]["subject"] == "CN=primary"
    assert res["diff"]["after"]["files"][str(dirs["secrets"] / "server.key")] == "0600 999:999"
    assert any(a.startswith("create CA CN=pgdock.postgres CA") for a in res["actions"])


def test_an_expiring_generated_ca_is_replaced_and_the_server_reissued(tls_args, dirs):
    first = run_module("tls", tls_args())
    cert, key = make_ca(NOW - 100 * DAY, NOW + 5 * DAY)
    (dirs["ca"] / "ca.crt").write_text(cert)
    (dirs["ca"] / "ca.key").write_text(key)
    res = run_module("tls", tls_args())
    assert res.changed and res["ca"]["issued"] and res["server"]["issued"], res
    assert "within renew_before" in res["ca"]["reasons"][0]
    assert res["server"]["reasons"] == ["it was not issued by the current CA"]
    assert res["ca"]["serial"] != first["ca"]["serial"]
    assert (dirs["secrets"] / "ca.crt").read_text() == (dirs["ca"] / "ca.crt").read_text()
    assert any("a new CA replaces" in w for w in res.get("warnings", []))


# ---------------------------------------------------------------- user CA, bad input, secrets

def test_user_ca_key_never_appears_in_output(tls_args, dirs, tmp_path):
    cert, key = make_ca(NOW - DAY, NOW + 900 * DAY)
    (tmp_path / "user-ca.crt").write_text(cert)
    args = tls_args(ca_cert=str(tmp_path / "user-ca.crt"), ca_key=key, client_certs=["app"],
                    client_dir=str(dirs["clients"]))
    proc = run_playbook(f"""
- hosts: localhost
  gather_facts: false
  tasks:
    - pgdock.postgres.tls: {json.dumps(args)}
      register: issued
    - ansible.builtin.debug:
        var: issued
""", verbosity=3, json_output=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    # ca_cert and ca_key are the old names, kept as deprecated aliases
    assert re.search(r"Alias 'ca_cert' is deprecated", proc.stdout + proc.stderr), proc.stderr[-2000:]
    body = key.splitlines()[1]
    for text in (proc.stdout, proc.stderr):
        assert body not in text and "PRIVATE KEY" not in text
    assert not dirs["ca"].exists()
    for path in sorted(dirs["secrets"].iterdir()) + sorted(dirs["clients"].iterdir()):
        assert body not in path.read_text()
    assert (dirs["secrets"] / "ca.crt").read_text() == cert
    server = x509.load_pem_x509_certificate((dirs["secrets"] / "server.crt").read_bytes())
    server.verify_directly_issued_by(x509.load_pem_x509_certificate(cert.encode()))

    renamed = {("own" + key if key in ("ca_cert", "ca_key") else key): value for key, value in args.items()}
    res = run_module("tls", renamed)
    assert not res.changed and res["ca"]["source"] == "provided" and res["ca"]["key_file"] is None, res
    assert "PRIVATE KEY" not in json.dumps(res)


def _expired():
    return make_ca(NOW - 100 * DAY, NOW - DAY)


def _not_yet_valid():
    return make_ca(NOW + DAY, NOW + 100 * DAY)


def _not_a_ca():
    return make_ca(NOW - DAY, NOW + 100 * DAY, ca=False)


def _other_key():
    return make_ca(NOW - DAY, NOW + 100 * DAY)[0], make_ca(NOW - DAY, NOW + 100 * DAY)[1]


@pytest.mark.parametrize("make, message", [
    (_expired, r"ownca_cert: the CA certificate CN=User CA cannot be used: it expired on .*; nothing was changed"),
    (_not_yet_valid, "cannot be used: it is not valid before"),
    (_not_a_ca, r"cannot be used: it is not a CA certificate \(no basicConstraints CA:TRUE\)"),
    (_other_key, "cannot be used: the CA key does not match the CA certificate"),
])
def test_bad_user_ca_is_refused_and_nothing_changes(issued_once, make, message):
    dirs, tls_args = issued_once
    before = snapshot(*dirs.values())
    cert, key = make()
    res = run_module("tls", tls_args(ownca_cert=cert, ownca_key=key, client_certs=["app"], client_dir=str(dirs["clients"])))
    assert res.failed, res
    assert re.search(message, res["msg"]), res["msg"]
    assert "PRIVATE KEY" not in json.dumps(res)
    assert snapshot(*dirs.values()) == before


@pytest.mark.parametrize("over, message", [
    (dict(dest_dir=None, container="pgdt-tls-no-such-container"),
     "no container named 'pgdt-tls-no-such-container' on the Docker host; before it is created, give dest_dir"),
    (dict(ca_dir="{secrets}/ca"), "must be outside dest_dir"),
    (dict(validity_days=10), "validity_days .10. must be larger than renew_before"),
    (dict(client_certs=["app"]), "client_dir is required"),
])
def test_bad_options_are_refused_before_anything_is_written(tls_args, dirs, over, message):
    if "ca_dir" in over:
        over = dict(ca_dir=over["ca_dir"].format(secrets=dirs["secrets"]))
    res = run_module("tls", tls_args(**over))
    assert res.failed and re.search(message, res["msg"]), res
    assert snapshot(*dirs.values()) == {}

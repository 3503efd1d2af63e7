"""A deploy after a change made outside it, through ansible-playbook: a network attached with the
network module is kept, its alias enters the certificate and its subnet pg_hba.conf in one run (the
second run changes nothing, a client on that network logs in with verify-full), or, with
pgdock_server_purge_networks, it is detached and the certificate never flips; a setting on the
command line with pgdock_server_allow_restart false restarts neither the primary nor its replica
(the order of the restarts it allows: test_rolling_restart.py)."""

from __future__ import annotations

import os
import subprocess

from cryptography import x509

from ansible_runner import run_module, run_playbook
from test_server_role import PLAYBOOK, recap_changed

WITH_REPLICA = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: pgdock.postgres.server
    - role: pgdock.postgres.replica
"""


def deploy(playbook: str, extra_vars: dict) -> subprocess.CompletedProcess:
    run = run_playbook(playbook, extra_vars=extra_vars, json_output=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    return run


def server_cert(extra_vars: dict) -> bytes:
    with open(os.path.join(extra_vars["pgdock_server_secrets_dir"], "server.crt"), "rb") as handle:
        return handle.read()


def dns_names(pem: bytes) -> set[str]:
    cert = x509.load_pem_x509_certificate(pem)
    return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName))


def attach_side_network(docker_client, unique, cleanup, container: str) -> str:
    side = unique("side-net")
    res = run_module("network", dict(name=side, connected=[{"container": container, "aliases": ["db-side"]}],
                                     appends=True))
    assert res.changed, res
    cleanup["networks"].insert(0, side)
    return side


def login_from(network: str, image: str, extra_vars: dict, tmp_path) -> subprocess.CompletedProcess:
    """psql from a throw-away container on `network` to host db-side, verify-full with the stack's CA."""
    client = tmp_path / "client"
    client.mkdir()
    (client / "ca.crt").write_bytes((tmp_path / "secrets" / "ca.crt").read_bytes())
    passfile = client / "pgpass"
    passfile.write_text(f"*:*:*:postgres:{extra_vars['pgdock_server_superuser_password']}\n")
    passfile.chmod(0o600)
    return subprocess.run(
        ["docker", "run", "--rm", "--network", network, "-u", "0", "-v", f"{client}:/client:ro",
         "-e", "PGPASSFILE=/client/pgpass", "--entrypoint", "psql", image,
         "host=db-side user=postgres dbname=postgres sslmode=verify-full sslrootcert=/client/ca.crt",
         "-XAtc", "select ssl from pg_stat_ssl where pid = pg_backend_pid()"],
        capture_output=True, text=True, timeout=120, check=False)


def test_a_network_attached_outside_converges_in_one_run(server_vars, docker_client, unique, cleanup, tmp_path):
    deploy(PLAYBOOK, server_vars)
    name = server_vars["pgdock_server_name"]
    side = attach_side_network(docker_client, unique, cleanup, name)

    first = deploy(PLAYBOOK, server_vars)
    assert recap_changed(first.stdout) >= 2, "the certificate (the alias) and pg_hba.conf (the subnet) follow"
    assert "db-side" in dns_names(server_cert(server_vars))
    assert side in docker_client.containers.get(name).attrs["NetworkSettings"]["Networks"]
    second = deploy(PLAYBOOK, server_vars)
    assert recap_changed(second.stdout) == 0, second.stdout[-4000:]

    login = login_from(side, server_vars["pgdock_server_image"], server_vars, tmp_path)
    assert login.returncode == 0 and login.stdout.strip() == "t", login.stderr


def test_purge_networks_detaches_and_the_certificate_never_flips(server_vars, docker_client, unique, cleanup):
    server_vars["pgdock_server_purge_networks"] = True
    deploy(PLAYBOOK, server_vars)
    issued = server_cert(server_vars)
    name = server_vars["pgdock_server_name"]
    side = attach_side_network(docker_client, unique, cleanup, name)

    deploy(PLAYBOOK, server_vars)
    assert side not in docker_client.containers.get(name).attrs["NetworkSettings"]["Networks"]
    assert server_cert(server_vars) == issued, "the alias of a network being detached never enters the certificate"
    second = deploy(PLAYBOOK, server_vars)
    assert recap_changed(second.stdout) == 0, second.stdout[-4000:]


def show(container: str, setting: str) -> str:
    """A setting as the server in `container` has it (psql as the container's postgres user)."""
    out = subprocess.run(["docker", "exec", "-u", "postgres", container, "psql", "-XAtc", f"show {setting}"],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def test_allow_restart_false_restarts_no_server(server_vars, docker_client, unique, cleanup):
    replica = unique("role-rep")
    cleanup["containers"].insert(0, replica)
    cleanup["volumes"].append(f"{replica}-data")
    server_vars["pgdock_replicas"] = [{"name": replica}]
    deploy(WITH_REPLICA, server_vars)
    names = (server_vars["pgdock_server_name"], replica)

    def started():
        return [docker_client.containers.get(n).attrs["State"]["StartedAt"] for n in names]

    before = started()

    held = dict(server_vars, pgdock_server_settings={"max_locks_per_transaction": 128}, pgdock_server_allow_restart=False)
    run = deploy(WITH_REPLICA, held)
    assert recap_changed(run.stdout) == 0, run.stdout[-4000:]
    assert started() == before
    assert [show(n, "max_locks_per_transaction") for n in names] == ["64", "64"]
    # the replica takes the primary's settings from the primary's container, still unchanged
    assert f"container {names[0]} not recreated although command changed" in run.stdout + run.stderr, run.stdout[-4000:]

    deploy(WITH_REPLICA, dict(held, pgdock_server_allow_restart=True))
    assert all(now != then for now, then in zip(started(), before))
    assert [show(n, "max_locks_per_transaction") for n in names] == ["128", "128"]

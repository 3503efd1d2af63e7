"""The server role's CA directory: two stacks on one engine get a CA each by default, and each
server is verified with its own CA only; a deployment whose server already trusts the CA of another
directory under /var/lib/pgdock (as 0.1.0's shared /var/lib/pgdock/ca) keeps it, nothing reissued."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import psycopg2
import pytest

from ansible_runner import run_playbook
from pgclient import unused_port
from test_server_role import PLAYBOOK, recap_changed

HOST_ROOT = Path("/var/lib/pgdock")


@pytest.fixture
def stack(unique, cleanup, pg_image, tmp_path):
    """stack(prefix) -> the server role's variables for a stack of its own (no CA directory given);
    its directories under /var/lib/pgdock are removed afterwards."""
    made = []

    def _stack(prefix: str) -> dict:
        name = unique(prefix)
        cleanup["containers"].append(name)
        cleanup["volumes"].append(f"{name}-data")
        cleanup["networks"].append(name + "-net")
        made.append(HOST_ROOT / name)
        return dict(pgdock_networks=[{"name": name + "-net"}], pgdock_server_name=name,
                    pgdock_server_image=pg_image(18), pgdock_server_pull="never",
                    pgdock_server_superuser_password="Ca-pw-" + secrets.token_hex(8),
                    pgdock_server_networks=[{"name": name + "-net"}], pgdock_server_published_port=unused_port(),
                    pgdock_server_secrets_dir=str(tmp_path / name / "secrets"))
    yield _stack
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def deploy(extra_vars: dict, playbook: str = PLAYBOOK) -> int:
    """Run `playbook` (the server role by default); the recap's changed count."""
    proc = run_playbook(playbook, extra_vars=extra_vars, json_output=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return recap_changed(proc.stdout)


def verified(stack_vars: dict, ca_file: Path) -> bool:
    """Whether a verify-full login to the stack's server succeeds with `ca_file`."""
    try:
        psycopg2.connect(host="localhost", port=stack_vars["pgdock_server_published_port"], user="postgres",
                         password=stack_vars["pgdock_server_superuser_password"], dbname="postgres",
                         sslmode="verify-full", sslrootcert=str(ca_file), connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        assert "certificate verify failed" in str(exc), exc
        return False
    return True


def test_two_stacks_get_a_ca_each_and_an_existing_ca_is_kept(stack):
    first, second = stack("ca-a"), stack("ca-b")
    # the first stack was deployed with a CA directory of its own choosing (as 0.1.0 did with the
    # shared /var/lib/pgdock/ca); without the variable, the role keeps what its server trusts
    kept = HOST_ROOT / (first["pgdock_server_name"] + "-shared") / "ca"
    try:
        assert deploy(dict(first, pgdock_server_tls_ca_dir=str(kept))) > 0
        assert deploy(first) == 0  # no new CA, no certificate reissued, nothing restarted
        assert not (HOST_ROOT / first["pgdock_server_name"] / "ca").exists()

        assert deploy(second) > 0
        second_ca = HOST_ROOT / second["pgdock_server_name"] / "ca" / "ca.crt"
        assert second_ca.is_file() and (second_ca.parent / "ca.key").stat().st_mode & 0o777 == 0o600
        assert second_ca.read_bytes() != (kept / "ca.crt").read_bytes()
        assert deploy(second) == 0

        assert verified(first, kept / "ca.crt") and not verified(first, second_ca)
        assert verified(second, second_ca) and not verified(second, kept / "ca.crt")
    finally:
        shutil.rmtree(kept.parent, ignore_errors=True)

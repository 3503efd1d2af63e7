"""The server role through ansible-playbook: a deploy with roles, databases and privileges prints no
warning (no templated task args), a second run changes nothing, local socket logins work as the
README says, and an item with an unknown key fails before anything is created."""

from __future__ import annotations

import re
import secrets
import subprocess

from ansible_runner import run_playbook
from pgclient import sql

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: pgdock.postgres.server
"""


def recap_changed(stdout: str) -> int:
    match = re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", stdout)
    assert match, stdout[-3000:]
    return int(match.group(1))


def test_deploy_prints_no_warning_and_converges(server_vars):
    first = run_playbook(PLAYBOOK, extra_vars=server_vars, json_output=False)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for text in (first.stdout, first.stderr):
        assert "[WARNING]" not in text and "template for task args" not in text, text[-3000:]
        assert server_vars["pgdock_server_superuser_password"] not in text
        assert server_vars["pgdock_roles"][1]["password"] not in text
    assert recap_changed(first.stdout) > 0
    port, password = server_vars["pgdock_server_published_port"], server_vars["pgdock_server_superuser_password"]
    assert sql(port, password, "select rolname, rolcanlogin from pg_roles where rolname like 'app%' order by 1") == [
        ("app_owner", False), ("app_rw", True)]
    assert sql(port, password, "select pg_get_userbyid(datdba) from pg_database where datname = 'app'") == [
        ("app_owner",)]
    assert sql(port, password, "select has_schema_privilege('app_rw', 'public', 'USAGE')", dbname="app") == [(True,)]

    # README: local socket logins are peer logins of the container's OS user postgres
    name = server_vars["pgdock_server_name"]
    as_postgres = subprocess.run(["docker", "exec", "-u", "postgres", name, "psql", "-XAtc", "select current_user"],
                                 capture_output=True, text=True, check=False, timeout=60)
    assert as_postgres.returncode == 0 and as_postgres.stdout.strip() == "postgres", as_postgres.stderr
    as_root = subprocess.run(["docker", "exec", name, "psql", "-U", "postgres", "-XAtc", "select 1"],
                             capture_output=True, text=True, check=False, timeout=60)
    assert as_root.returncode != 0 and "Peer authentication failed" in as_root.stderr, as_root.stderr

    second = run_playbook(PLAYBOOK, extra_vars=server_vars, json_output=False)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "[WARNING]" not in second.stdout + second.stderr
    assert recap_changed(second.stdout) == 0


def test_unknown_item_key_fails_before_anything_changes(server_vars, docker_client):
    server_vars["pgdock_roles"] = [{"name": "app_rw", "pasword": "Typo-pw-" + secrets.token_hex(8)}]
    proc = run_playbook(PLAYBOOK, extra_vars=server_vars, json_output=False)
    assert proc.returncode != 0
    assert "pasword" in proc.stdout and "Validating arguments against arg spec" in proc.stdout, proc.stdout[-3000:]
    assert server_vars["pgdock_roles"][0]["pasword"] not in proc.stdout + proc.stderr
    assert not docker_client.networks.list(names=[server_vars["pgdock_networks"][0]["name"]])
    assert not docker_client.containers.list(all=True, filters={"name": server_vars["pgdock_server_name"]})

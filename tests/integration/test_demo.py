"""The README's demo command: `make demo` deploys a PostgreSQL 18 primary reachable as printed,
a second run changes nothing, and `make demo-clean` removes it."""

from __future__ import annotations

import re
import subprocess

import psycopg2

from ansible_runner import REPO, ansible_env


def make(target: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(["make", target], cwd=REPO, env=ansible_env(json_output=False),
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_make_demo_deploys_idempotently_and_cleans_up(docker_client):
    try:
        first = make("demo")
        assert "psql 'host=127.0.0.1 port=15432 user=postgres dbname=app'" in first.stdout
        second = make("demo")
        assert re.search(r"localhost\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", second.stdout), second.stdout[-2000:]
        password = (REPO / ".demo" / "superuser_password").read_text().strip()
        with psycopg2.connect(host="127.0.0.1", port=15432, user="postgres", password=password, dbname="app",
                              sslmode="require", connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("select current_setting('server_version_num')::int / 10000")
            assert cur.fetchone() == (18,)
    finally:
        make("demo-clean")
    assert not docker_client.containers.list(all=True, filters={"name": "pgdock-demo-primary"})

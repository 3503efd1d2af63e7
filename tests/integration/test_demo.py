"""The README's demo command: `make demo` deploys a PostgreSQL 18 primary, a replica and PgBouncer,
switches over to the replica and back; a second run's deploy changes nothing (the switchovers left
the deployment as the inventory describes it), the servers answer as printed, and `make demo-clean`
removes it all."""

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
        assert "psql 'host=127.0.0.1 port=16432 user=app dbname=app'" in first.stdout
        assert "pgdock-demo-replica is the primary, pgdock-demo-primary its standby" in first.stdout
        assert "pgdock-demo-primary is the primary, pgdock-demo-replica its standby" in first.stdout
        # the deploy ends with a summary: each server, its role, address and lag, and the pooler
        assert re.search(r"pgdock-demo-primary: primary, PostgreSQL 18\.\d+[^,]*, 127\.0\.0\.1:15432 on pgdock-demo", first.stdout)
        assert re.search(r"pgdock-demo-replica: standby of pgdock-demo-primary, streaming \(\w+\), replay lag \d+ bytes",
                         first.stdout), first.stdout[-4000:]
        assert "pgdock-demo-pooler: PgBouncer in front of pgdock-demo-primary, 127.0.0.1:16432" in first.stdout
        second = make("demo")
        recaps = re.findall(r"localhost\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", second.stdout)
        assert len(recaps) == 3 and recaps[0] == "0", second.stdout[-3000:]  # deploy, then two switchovers
        password = (REPO / ".demo" / "superuser_password").read_text().strip()
        with psycopg2.connect(host="127.0.0.1", port=15432, user="postgres", password=password, dbname="app",
                              sslmode="require", connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("select current_setting('server_version_num')::int / 10000, pg_is_in_recovery()")
            assert cur.fetchone() == (18, False)
        app_password = (REPO / ".demo" / "app_password").read_text().strip()
        with psycopg2.connect(host="127.0.0.1", port=16432, user="app", password=app_password, dbname="app",
                              connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("select inet_server_port(), ssl from pg_stat_ssl where pid = pg_backend_pid()")
            assert cur.fetchone() == (5432, True)
        with psycopg2.connect(host="127.0.0.1", port=15433, user="postgres", password=password, dbname="app",
                              sslmode="require", connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("select pg_is_in_recovery()")
            assert cur.fetchone() == (True,)
    finally:
        make("demo-clean")
    for name in ("pgdock-demo-primary", "pgdock-demo-replica", "pgdock-demo-pooler"):
        assert not docker_client.containers.list(all=True, filters={"name": name})

"""A deploy that restarts the primary (a command-line setting changed), under a writer load through
PgBouncer: the server role's restart in place vs pgdock_server_restart_via_switchover, in the same
run, on the same primary + replica + pooler made by the deploy playbook's roles.

    .venv/bin/python benchmarks/rolling_restart.py [--clients 4] [--image pgdock-test/postgres:18]
                                                   [--pooler-image pgdock-test/pgbouncer:latest]

Prints, for both: failed transactions, lost acknowledged writes, write pause (longest gap between
acknowledged commits), p99 and max latency of the inserts during the deploy, and the deploy's time.
Goal for the switchover path: 0 failed, 0 lost. Everything it creates is removed; traffic stays on
a Docker network of its own and on 127.0.0.1; the load is bounded in time and rows.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "benchmarks"))
from ansible_runner import run_playbook  # noqa: E402  (the real ansible, the checkout's collection)
from cleanup import remove_objects  # noqa: E402
from pgclient import sql, unused_port  # noqa: E402
from write_load import TABLE, WriterLoad  # noqa: E402

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: pgdock.postgres.server
    - role: pgdock.postgres.replica
    - role: pgdock.postgres.pooler
"""


def deploy(extra_vars: dict) -> float:
    """Run the deploy; its duration in seconds (raises when it fails)."""
    start = time.monotonic()
    run = run_playbook(PLAYBOOK, extra_vars=extra_vars, json_output=False)
    if run.returncode != 0:
        raise RuntimeError(run.stdout[-3000:] + run.stderr[-2000:])
    return time.monotonic() - start


def stack_vars(prefix: str, tmp: Path, image: str, pooler_image: str, app_password: str) -> dict:
    """The roles' variables: a primary, one replica, a pooler, an application role and database."""
    return dict(
        pgdock_networks=[{"name": f"{prefix}-net"}], pgdock_server_name=f"{prefix}-pg",
        pgdock_server_image=image, pgdock_server_pull="never",
        pgdock_server_superuser_password="Bench-" + secrets.token_hex(8),
        pgdock_server_networks=[{"name": f"{prefix}-net", "aliases": ["primary"]}],
        pgdock_server_published_port=unused_port(), pgdock_server_secrets_dir=str(tmp / "secrets"),
        pgdock_server_tls_ca_dir=str(tmp / "ca"), pgdock_server_switchover_lock_dir=str(tmp / "locks"),
        pgdock_replicas=[{"name": f"{prefix}-r1", "published_port": unused_port()}],
        pgdock_roles=[{"name": "app", "password": app_password, "login": True}],
        pgdock_databases=[{"name": "app", "owner": "app"}],
        pgdock_pooler=True, pgdock_pooler_name=f"{prefix}-pgb", pgdock_pooler_image=pooler_image,
        pgdock_pooler_pull="never", pgdock_pooler_published_port=unused_port(),
        pgdock_pooler_secrets_dir=str(tmp / "pooler"), pgdock_pooler_tls_dir=str(tmp / "pooler-tls"),
        pgdock_pooler_databases=[{"name": "app"}])


def measured_deploy(load: WriterLoad, extra_vars: dict) -> tuple[dict, float]:
    """The load's figures over one deploy, and the deploy's duration."""
    load.failures.clear()
    load.wait_for_acks(len(load.acks) + 200)
    start = time.monotonic()
    seconds = deploy(extra_vars)
    window = (start, time.monotonic())
    load.wait_for_acks(len(load.acks) + 200)  # writes flow again
    report = load.report(window=window)
    report["failed"] = len(load.failures)
    # the longest gap between acknowledged commits from the deploy's start until writes flowed again
    times = sorted(a.committed_at for a in list(load.acks) if a.committed_at >= start)
    report["write_pause_s"] = round(max((b - a for a, b in zip(times, times[1:])), default=0.0), 3)
    return report, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--image", default="pgdock-test/postgres:18")
    parser.add_argument("--pooler-image", default="pgdock-test/pgbouncer:latest")
    args = parser.parse_args()
    client = docker.from_env()
    prefix = "pgdock-bench-roll-" + secrets.token_hex(3)
    tmp = Path(tempfile.mkdtemp(prefix="pgdock-bench-roll-"))
    app_password = "Bench-app-" + secrets.token_hex(6)
    base = stack_vars(prefix, tmp, args.image, args.pooler_image, app_password)
    try:
        deploy(base)
        load = WriterLoad(endpoint=lambda: ("127.0.0.1", base["pgdock_pooler_published_port"]), user="app",
                          password=app_password, dbname="app", clients=args.clients, max_seconds=900)
        load.create_table()
        load.start()
        try:
            in_place = measured_deploy(load, dict(base, pgdock_server_settings={"max_locks_per_transaction": 128}))
            switched = measured_deploy(load, dict(base, pgdock_server_settings={"max_locks_per_transaction": 256},
                                                  pgdock_server_restart_via_switchover=True))
        finally:
            load.stop()
        stored = [r[0] for r in sql(base["pgdock_server_published_port"], base["pgdock_server_superuser_password"],
                                    f"select id from {TABLE}", dbname="app")]
        lost = len(load.missing(stored))
        print(f"primary {base['pgdock_server_name']}, replica {prefix}-r1, PgBouncer {prefix}-pgb; "
              f"{args.clients} writer clients through the pooler; lost acknowledged writes overall: {lost}")
        print(f"{'':34}{'in place':>12}{'via switchover':>16}")
        for label, key in (("failed transactions", "failed"), ("write pause (s)", "write_pause_s"),
                           ("p99 latency during deploy (s)", "p99_latency_s"), ("max latency (s)", "max_latency_s")):
            print(f"{label:34}{in_place[0][key]:>12}{switched[0][key]:>16}")
        print(f"{'deploy time (s)':34}{in_place[1]:>12.1f}{switched[1]:>16.1f}")
        if in_place[0]["first_failures"]:
            print(f"in-place failures look like: {in_place[0]['first_failures'][0]}")
        goal = switched[0]["failed"] == 0 and lost == 0
        print(f"goal (via switchover: 0 failed, 0 lost): {'met' if goal else 'NOT met'}")
        return 0 if goal else 1
    finally:
        remove_objects(client, containers=(f"{prefix}-pgb", f"{prefix}-r1", f"{prefix}-pg"),
                       volumes=(f"{prefix}-r1-data", f"{prefix}-pg-data"), networks=(f"{prefix}-net",))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Switchover under a writer load: pgdock.postgres.switchover through PgBouncer vs the naive
procedure (clients straight to the server; stop the primary, promote the standby, clients reconnect
to the new address), in the same run, on the same primary + standby pair.

    .venv/bin/python benchmarks/switchover.py [--clients 8] [--image pgdock-test/postgres:18]
                                              [--client-tls require|verify-full]

Prints, for both: failed transactions, lost acknowledged writes, write pause (longest gap between
acknowledged commits), p99 and max latency of the inserts around the switch, total switchover time.
With --client-tls, PgBouncer asks its clients for TLS (client_tls_sslmode, a certificate from a CA
of the run; verify-full also wants client certificates) and the writers connect with
sslmode=verify-full; the naive run's clients connect to the servers as before.
Goal for pgdock: 0 failed, 0 lost, write pause <= 1 s. Everything it creates is removed; traffic
stays on a Docker network of its own and on 127.0.0.1; the load is bounded in time and rows.
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
import client_tls  # noqa: E402
from cleanup import remove_objects  # noqa: E402
from ansible_runner import run_module  # noqa: E402  (the real ansible, the checkout's collection)
from pgclient import sql, unused_port  # noqa: E402
from write_load import TABLE, WriterLoad  # noqa: E402

APP_PASSWORD = "bench-app-pw"
STEADY_SECONDS = 3.0


def check(result):
    assert not result.failed, result
    return result


def run_load(load: WriterLoad, switch) -> tuple[dict, float]:
    """Steady load, the switch (timed), steady load again; the load's report around the switch."""
    load.start()
    time.sleep(STEADY_SECONDS)
    start = time.monotonic()
    switch()
    end = time.monotonic()
    time.sleep(STEADY_SECONDS)
    load.stop()
    return load.report(window=(start, end)), end - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--image", default="pgdock-test/postgres:18")
    parser.add_argument("--pgbouncer-image", default="pgdock-test/pgbouncer:latest")
    parser.add_argument("--client-tls", choices=["require", "verify-full"],
                        help="TLS between the writers and PgBouncer (client_tls_sslmode)")
    args = parser.parse_args()
    client = docker.from_env()
    tag = secrets.token_hex(3)
    net, first, second, pooler = (f"pgsw-{k}-{tag}" for k in ("net", "a", "b", "pgb"))
    tmp = Path(tempfile.mkdtemp(prefix="pgdock-bench-"))
    password = "bench-" + tag
    ports = {first: unused_port(), second: unused_port(), pooler: unused_port()}
    client.networks.create(net)
    try:
        check(run_module("container", dict(
            name=first, image=args.image, pull="never", superuser_password=password, networks=[{"name": net}],
            published_port=ports[first], secrets_dir=str(tmp / first), stop_timeout=60)))
        check(run_module("replica", dict(name=second, primary=first, published_port=ports[second],
                                         secrets_dir=str(tmp / second), stop_timeout=60)))
        check(run_module("role", dict(container=first, name="app", password=APP_PASSWORD, login=True)))
        sql(ports[first], password, "create database app owner app")
        pooler_tls, writer_tls = {}, {}
        if args.client_tls:
            client_tls.issue(pooler, tmp / "client-tls")
            pooler_tls = client_tls.pooler_options(tmp / "client-tls", args.client_tls)
            writer_tls = client_tls.client_params(tmp / "client-tls", args.client_tls)
        check(run_module("pooler", dict(name=pooler, primary=first, image=args.pgbouncer_image, pull="never",
                                        published_port=ports[pooler], users=["app"], databases=[{"name": "app"}],
                                        secrets_dir=str(tmp / pooler), **pooler_tls)))
        print(f"primary {first}, standby {second}, PgBouncer {pooler}; {args.clients} writer clients, "
              f"{STEADY_SECONDS:.0f} s of load before and after each switch; TLS to PgBouncer: "
              f"{args.client_tls or 'off'}")

        # pgdock: clients through PgBouncer, the module switches first -> second
        ours = WriterLoad(endpoint=lambda: ("127.0.0.1", ports[pooler]), user="app", password=APP_PASSWORD,
                          dbname="app", clients=args.clients, max_seconds=300, tls=writer_tls)
        ours.create_table()
        module_result = {}

        def pgdock_switch():
            args = dict(pooler=pooler, target=second, lock_dir=str(tmp / "locks"))
            module_result.update(check(run_module("switchover", args)))
        ours_report, ours_total = run_load(ours, pgdock_switch)
        ours_lost = ours.missing(r[0] for r in sql(ports[second], password, f"select id from {TABLE}", dbname="app"))
        pause = module_result["timings"]["pause_total"]

        # naive: clients straight to the primary (now second); stop it, promote first, clients reconnect there
        sql(ports[second], password, f"truncate {TABLE}", dbname="app")
        current = {"port": ports[second]}
        naive = WriterLoad(endpoint=lambda: ("127.0.0.1", current["port"]), user="app", password=APP_PASSWORD,
                           dbname="app", clients=args.clients, max_seconds=300)

        def naive_switch():
            client.containers.get(second).stop(timeout=60)  # stop writes: the primary goes down
            sql(ports[first], password, "select pg_promote(true, 60)")  # promote the standby
            current["port"] = ports[first]  # the new connection string; clients reconnect to it
        naive_report, naive_total = run_load(naive, naive_switch)
        naive_lost = naive.missing(r[0] for r in sql(ports[first], password, f"select id from {TABLE}", dbname="app"))

        rows = [("failed transactions", ours_report["failed"], naive_report["failed"]),
                ("lost acknowledged writes", len(ours_lost), len(naive_lost)),
                ("write pause (s)", ours_report["write_pause_s"], naive_report["write_pause_s"]),
                ("p99 latency around the switch (s)", ours_report["p99_latency_s"], naive_report["p99_latency_s"]),
                ("max latency around the switch (s)", ours_report["max_latency_s"], naive_report["max_latency_s"]),
                ("acknowledged writes", ours_report["acknowledged"], naive_report["acknowledged"]),
                ("switchover time, total (s)", round(ours_total, 2), round(naive_total, 2))]
        print(f"{'':38}{'pgdock':>12}{'naive':>12}")
        for label, mine, theirs in rows:
            print(f"{label:38}{mine:>12}{theirs:>12}")
        print(f"pgdock pause in the pooler (PAUSE..RESUME): {pause:.3f} s; steps: {module_result['timings']}")
        print("pgdock total includes ansible start-up and the old primary's rejoin as a standby; "
              "naive total is stop + promote (no rejoin)")
        if naive_report["first_failures"]:
            print(f"naive failures look like: {naive_report['first_failures'][0]}")
        goal = ours_report["failed"] == 0 and not ours_lost and ours_report["write_pause_s"] <= 1.0
        print(f"goal (0 failed, 0 lost, write pause <= 1 s): {'met' if goal else 'NOT met'}")
        return 0
    finally:
        remove_objects(client, containers=(pooler, second, first), volumes=(f"{second}-data", f"{first}-data"),
                       networks=(net,))
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

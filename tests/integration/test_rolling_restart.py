"""The order of restarts a deploy makes with replicas, through ansible-playbook on real containers:
a change that needs a new primary container reaches the replicas one at a time and the primary last
(first when it lowers a setting that standbys need at least as high), and, under a writer load
through PgBouncer, reads on the replicas never all fail at once and no acknowledged write is lost;
with pgdock_server_restart_via_switchover the primary's restart goes through a switchover and back
under that load, with no failed and no lost write."""

from __future__ import annotations

import secrets
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg2

from ansible_runner import run_playbook
from conftest import PGBOUNCER_IMAGE
from pgclient import sql, unused_port, wait_until
from test_deploy_changes import WITH_REPLICA, deploy, show
from test_server_role import recap_changed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from write_load import TABLE, WriterLoad  # noqa: E402

DEPLOY = WITH_REPLICA + "    - role: pgdock.postgres.pooler\n"
MAX_LOCKS = "max_locks_per_transaction"


def started_at(docker_client, name: str, field: str = "StartedAt") -> datetime:
    """A container's StartedAt (or Created: field "Created"), RFC 3339 with up to nanoseconds."""
    attrs = docker_client.containers.get(name).attrs
    text = (attrs["Created"] if field == "Created" else attrs["State"][field]).rstrip("Z")
    whole, fraction = (text.split(".", 1) + [""])[:2]
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}").replace(tzinfo=timezone.utc)


def with_replicas(server_vars: dict, unique, cleanup, count: int) -> list[str]:
    """Add `count` replicas with published ports to the deployment; their names."""
    names = [unique(f"roll-{chr(97 + i)}") for i in range(count)]
    for name in names:
        cleanup["containers"].insert(0, name)
        cleanup["volumes"].append(f"{name}-data")
    server_vars["pgdock_replicas"] = [{"name": name, "published_port": unused_port()} for name in names]
    return names


def with_pooler(server_vars: dict, unique, cleanup, tmp_path) -> str:
    """Add PgBouncer and an application role and database to the deployment; the role's password."""
    pooler = unique("roll-pgb")
    cleanup["containers"].insert(0, pooler)
    app_password = "Roll-app-" + secrets.token_hex(6)
    server_vars.update(pgdock_roles=[{"name": "app", "password": app_password, "login": True}],
                       pgdock_databases=[{"name": "app", "owner": "app"}], pgdock_grants=[],
                       pgdock_pooler=True, pgdock_pooler_name=pooler, pgdock_pooler_image=PGBOUNCER_IMAGE,
                       pgdock_pooler_pull="never", pgdock_pooler_published_port=unused_port(),
                       pgdock_pooler_secrets_dir=str(tmp_path / "pooler"),
                       pgdock_pooler_tls_dir=str(tmp_path / "pooler-tls"), pgdock_pooler_databases=[{"name": "app"}],
                       pgdock_server_switchover_lock_dir=str(tmp_path / "locks"))
    return app_password


def writers(server_vars: dict, app_password: str) -> WriterLoad:
    """4 writer clients through the deployment's pooler, bounded in time; started."""
    load = WriterLoad(endpoint=lambda: ("127.0.0.1", server_vars["pgdock_pooler_published_port"]), user="app",
                      password=app_password, dbname="app", clients=4, max_seconds=600)
    load.create_table()
    load.start()
    load.wait_for_acks(200)
    return load


def stored_ids(server_vars: dict) -> list[int]:
    return [r[0] for r in sql(server_vars["pgdock_server_published_port"],
                              server_vars["pgdock_server_superuser_password"], f"select id from {TABLE}", dbname="app")]


class ReplicaReader(threading.Thread):
    """Reads `select 1` on every replica every 0.1 s (bounded by max_seconds); per replica the count
    of failed reads, and the count of rounds in which every replica failed."""

    def __init__(self, ports: dict, password: str, max_seconds: float = 600):
        super().__init__(daemon=True)
        self.ports, self.password, self.max_seconds = ports, password, max_seconds
        self.failed = {name: 0 for name in ports}
        self.rounds = self.all_failed = 0
        self._halt = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.max_seconds
        while not self._halt.is_set() and time.monotonic() < deadline:
            down = [name for name, port in self.ports.items() if not self._reads(port)]
            for name in down:
                self.failed[name] += 1
            self.rounds += 1
            self.all_failed += len(down) == len(self.ports)
            time.sleep(0.1)

    def _reads(self, port: int) -> bool:
        try:
            return sql(port, self.password, "select 1") == [(1,)]
        except psycopg2.Error:
            return False

    def stop(self):
        self._halt.set()
        self.join(timeout=30)


def test_a_restart_goes_replicas_first_and_a_lowering_primary_first(
        server_vars, docker_client, unique, cleanup, tmp_path):
    replicas = with_replicas(server_vars, unique, cleanup, 2)
    app_password = with_pooler(server_vars, unique, cleanup, tmp_path)
    primary = server_vars["pgdock_server_name"]
    deploy(DEPLOY, server_vars)
    before = {name: started_at(docker_client, name) for name in [primary] + replicas}

    raised = dict(server_vars, pgdock_server_settings={MAX_LOCKS: 128})
    reader = ReplicaReader({r["name"]: r["published_port"] for r in server_vars["pgdock_replicas"]},
                           server_vars["pgdock_server_superuser_password"])
    load = writers(server_vars, app_password)
    reader.start()
    try:
        deploy(DEPLOY, raised)
        load.wait_for_acks(len(load.acks) + 200)  # writes flow again through the pooler
    finally:
        reader.stop()
        load.stop()
    # the primary restarted in place: writes running on it may fail, none acknowledged is lost
    assert load.missing(stored_ids(server_vars)) == []
    after = {name: started_at(docker_client, name) for name in [primary] + replicas}
    assert all(after[n] > before[n] for n in after), (before, after)
    assert after[replicas[0]] < after[replicas[1]] < after[primary], after
    # each replica was seen down while it restarted, never both at once
    assert all(reader.failed[n] > 0 for n in replicas) and reader.all_failed == 0, (reader.failed, reader.all_failed)
    assert [show(n, MAX_LOCKS) for n in [primary] + replicas] == ["128"] * 3
    streaming = sql(server_vars["pgdock_server_published_port"], server_vars["pgdock_server_superuser_password"],
                    "select count(*) from pg_stat_replication where state = 'streaming'")
    assert streaming == [(2,)], streaming
    assert recap_changed(deploy(DEPLOY, raised).stdout) == 0

    deploy(DEPLOY, server_vars)  # back to the default 64: lowered, so the primary goes first
    lowered = {name: started_at(docker_client, name) for name in [primary] + replicas}
    assert lowered[primary] < lowered[replicas[0]] < lowered[replicas[1]], lowered
    assert [show(n, MAX_LOCKS) for n in [primary] + replicas] == ["64"] * 3


def test_restart_via_switchover_fails_no_write_and_keeps_the_primary(
        server_vars, docker_client, unique, cleanup, tmp_path):
    # the first replica publishes no port, so the second stands in (the pooler reaches the first
    # inside its container, for its lookup rule)
    unpublished, replica = with_replicas(server_vars, unique, cleanup, 2)
    server_vars["pgdock_replicas"][0].pop("published_port")
    app_password = with_pooler(server_vars, unique, cleanup, tmp_path)
    server_vars["pgdock_server_restart_via_switchover"] = True
    primary = server_vars["pgdock_server_name"]
    deploy(DEPLOY, server_vars)
    before = {name: started_at(docker_client, name, "Created") for name in (primary, unpublished, replica)}
    raised = dict(server_vars, pgdock_server_settings={MAX_LOCKS: 128})
    load = writers(server_vars, app_password)
    try:
        run = deploy(DEPLOY, raised)
        load.wait_for_acks(len(load.acks) + 200)  # writes still flow through the pooler, to the same primary
    finally:
        load.stop()
    report = load.report()
    assert report["failed"] == 0, (report, load.failures[:5])
    assert f"Primary role handed for the restart (clients pause in the pooler) to {replica}" in run.stdout \
        and "Primary role back to" in run.stdout, run.stdout[-4000:]
    # recreated with the change, the replica first (both restarted again by the switchovers after that)
    after = {name: started_at(docker_client, name, "Created") for name in (primary, unpublished, replica)}
    assert before[primary] < before[replica] < after[unpublished] < after[replica] < after[primary], (before, after)
    port, password = server_vars["pgdock_server_published_port"], server_vars["pgdock_server_superuser_password"]
    assert sql(port, password, "select pg_is_in_recovery()") == [(False,)]
    assert [show(n, MAX_LOCKS) for n in (primary, unpublished, replica)] == ["128"] * 3
    assert load.missing(stored_ids(server_vars)) == []
    wait_until(lambda: sql(port, password, "select count(*) from pg_stat_replication where state = 'streaming' "
                                           "and application_name = any(%s)", ([unpublished, replica],)) == [(2,)],
               what="both replicas streaming from the primary again")
    assert recap_changed(deploy(DEPLOY, raised).stdout) == 0


def test_restart_via_switchover_refused_before_anything_restarts(server_vars, docker_client, unique, cleanup):
    (replica,) = with_replicas(server_vars, unique, cleanup, 1)
    primary = server_vars["pgdock_server_name"]
    deploy(WITH_REPLICA, server_vars)
    before = {name: started_at(docker_client, name) for name in (primary, replica)}
    missing_pooler = dict(server_vars, pgdock_server_settings={MAX_LOCKS: 128}, pgdock_pooler=True,
                          pgdock_pooler_name=unique("no-such-pgb"), pgdock_server_restart_via_switchover=True)
    run = run_playbook(WITH_REPLICA, extra_vars=missing_pooler, json_output=False)
    assert run.returncode != 0, run.stdout[-3000:]
    assert "pgdock_server_restart_via_switchover: the primary cannot hand its role to " + replica in run.stdout, \
        run.stdout[-3000:]
    assert {name: started_at(docker_client, name) for name in (primary, replica)} == before
    assert [show(n, MAX_LOCKS) for n in (primary, replica)] == ["64", "64"]

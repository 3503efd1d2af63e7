"""Time to a streaming replica through pgdock.postgres.replica vs a raw pg_basebackup of the same
data, in the same run, on a pgbench database (scale 70 by default, about 1 GB).

    .venv/bin/python benchmarks/replica_bootstrap.py [--scale 70] [--image pgdock-test/postgres:18]

Prints both times and their ratio (goal: module / raw <= 1.15). Everything it creates is removed.
Traffic stays on a Docker network of its own and on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
from docker.types import Mount

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from ansible_runner import run_module  # noqa: E402  (the real ansible, the checkout's collection)
from pgclient import unused_port  # noqa: E402  pylint: disable=wrong-import-position


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument("--image", default="pgdock-test/postgres:18")
    args = parser.parse_args()
    client = docker.from_env()
    tag = secrets.token_hex(3)
    net, primary, replica = f"pgdb-net-{tag}", f"pgdb-primary-{tag}", f"pgdb-replica-{tag}"
    raw_volume = f"pgdb-raw-{tag}"
    tmp = Path(tempfile.mkdtemp(prefix="pgdock-bench-"))
    client.networks.create(net)
    try:
        res = run_module("container", dict(
            name=primary, image=args.image, pull="never", superuser_password="bench-" + tag,
            networks=[{"name": net}], published_port=unused_port(), secrets_dir=str(tmp / "primary"),
            settings={"max_wal_size": "4GB", "checkpoint_timeout": "30min"}, stop_timeout=60))
        assert not res.failed, res
        start = time.monotonic()
        subprocess.run(["docker", "exec", "-u", "postgres", primary, "pgbench", "-i", "-q", "-s", str(args.scale),
                        "-U", "postgres", "postgres"], check=True, capture_output=True)
        size = subprocess.run(["docker", "exec", "-u", "postgres", primary, "psql", "-U", "postgres", "-Atc",
                               "select pg_size_pretty(pg_database_size('postgres'))"],
                              check=True, capture_output=True, text=True).stdout.strip()
        print(f"pgbench scale {args.scale}: {size}, initialised in {time.monotonic() - start:.1f} s")

        # raw: the same copy a person would run, in a container of the same image on the same network,
        # after allowing replication connections from that network (setup, not timed)
        subprocess.run(["docker", "exec", "-u", "postgres", primary, "sh", "-c",
                        'sed -i "1i host replication all samenet scram-sha-256" "$PGDATA/pg_hba.conf" && '
                        'psql -U postgres -Atc "select pg_reload_conf()"'], check=True, capture_output=True)
        client.volumes.create(raw_volume)
        pgpass = tmp / "raw"
        pgpass.mkdir()
        (pgpass / ".pgpass").write_text(f"*:*:*:postgres:bench-{tag}\n")
        (pgpass / ".pgpass").chmod(0o600)
        subprocess.run(["chown", "-R", "999:999", str(pgpass)], check=True)
        start = time.monotonic()
        container = client.containers.run(
            args.image, entrypoint=["pg_basebackup"], user="999:999", network=net, detach=True,
            command=["-h", primary, "-U", "postgres", "-D", "/var/lib/postgresql/18/docker", "-X", "stream",
                     "-c", "fast", "--no-password"],
            environment={"PGPASSFILE": "/pw/.pgpass"},
            mounts=[Mount("/var/lib/postgresql", raw_volume), Mount("/pw", str(pgpass), type="bind", read_only=True)])
        code = container.wait()["StatusCode"]
        raw = time.monotonic() - start
        logs = container.logs().decode()
        container.remove()
        assert code == 0, logs

        start = time.monotonic()
        res = run_module("replica", dict(name=replica, primary=primary, secrets_dir=str(tmp / "replica"),
                                         max_lag_bytes=16 * 1024 * 1024, wait_timeout=900, stop_timeout=60))
        module = time.monotonic() - start
        assert not res.failed and res["replica"]["state"] == "streaming", res

        # the same module with nothing to do (absent, never made): ansible's start-up, the module's
        # imports and its connections, which every run pays whatever the data size
        start = time.monotonic()
        res = run_module("replica", dict(name=replica + "-none", primary=primary, state="absent"))
        noop = time.monotonic() - start
        assert not res.failed and not res.changed, res
        print(f"raw pg_basebackup -X stream -c fast:        {raw:7.1f} s")
        print(f"pgdock.postgres.replica to streaming:       {module:7.1f} s")
        print(f"  a no-op run of the same module (fixed):   {noop:7.1f} s")
        print(f"ratio module / raw:                         {module / raw:7.2f}  (goal <= 1.15)")
        return 0
    finally:
        for name in (replica, primary):
            try:
                client.containers.get(name).remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
        for name in (f"{replica}-data", f"{primary}-data", raw_volume):
            try:
                client.volumes.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
        client.networks.get(net).remove()
        subprocess.run(["rm", "-rf", str(tmp)], check=False)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of pgdock.postgres.backup / restore against the raw tools, on a pgbench database.

    .venv/bin/python benchmarks/backup.py [--scale 70] [--major 17]

In one run: full backup through the module vs raw pg_basebackup with the same flags; restore through
the module vs raw extract + start; incremental after 1% of rows changed vs full (time and bytes).
Prints each pair and its ratio; the goal is module/raw <= 1.10 for backup and for restore.
Everything it creates is named pgdt-bench-* and removed at the end.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from ansible_runner import COLLECTIONS, ensure_collection_link, run_module  # noqa: E402  pylint: disable=wrong-import-position
from pgclient import unused_port  # noqa: E402  pylint: disable=wrong-import-position

ensure_collection_link()
sys.path.insert(0, str(COLLECTIONS))
from ansible_collections.pgdock.postgres.plugins.module_utils.backup_engine import PGPASS_SCRIPT  # noqa: E402  pylint: disable=wrong-import-position

FLAGS = "-Ft -Xstream --checkpoint=fast --no-password --compress=server-gzip"


def timed(action):
    start = time.monotonic()
    result = action()
    return time.monotonic() - start, result


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def report(what: str, module: float, raw: float, unit: str = "s") -> None:
    print(f"{what:<44} module {module:10.2f} {unit}   raw {raw:10.2f} {unit}   ratio {module / raw:5.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument("--major", type=int, default=17)
    args = parser.parse_args()
    client = docker.from_env()
    token = secrets.token_hex(3)
    name, net = f"pgdt-bench-{token}", f"pgdt-bench-{token}-net"
    work = Path(tempfile.mkdtemp(prefix="pgdt-bench-"))
    image = f"pgdock-test/postgres:{args.major}"
    password = "bench-" + secrets.token_hex(8)
    created = {"containers": [name, name + "-m", name + "-raw"], "volumes": [f"{name}-data", f"{name}-m-data",
                                                                             f"{name}-raw-data"]}
    client.networks.create(net)
    try:
        server = run_module("container", dict(
            name=name, image=image, pull="never", superuser_password=password, networks=[{"name": net}],
            secrets_dir=str(work / "secrets"), published_port=unused_port(),
            settings={"summarize_wal": "on"} if args.major >= 17 else {}))
        assert not server.failed, server
        container = client.containers.get(name)
        print(f"pgbench -i -s {args.scale} ...", flush=True)
        code, out = container.exec_run(["pgbench", "-i", "-q", "-s", str(args.scale), "postgres"], user="postgres")
        assert code == 0, out.decode()
        repo = work / "repo"

        module_full, result = timed(lambda: run_module("backup", dict(container=name, repository=str(repo),
                                                                      kind="full")))
        assert not result.failed, result
        full_bytes = result["backup"]["bytes"]
        raw_dir = work / "raw"
        raw_dir.mkdir()
        raw_script = PGPASS_SCRIPT + f"cd /out && pg_basebackup -h {name} -U postgres -D . {FLAGS} && gzip -1 pg_wal.tar"
        raw_full = timed(lambda: client.containers.run(
            image, entrypoint=["sh", "-c"], command=["set -e; " + raw_script], user="0", network=net, remove=True,
            environment={"PGUSER": "postgres"},
            volumes={str(raw_dir): {"bind": "/out"}, str(work / "secrets"): {"bind": "/run/secrets/pgdock", "mode": "ro"}}))[0]
        report("full backup", module_full, raw_full)

        module_restore, result = timed(lambda: run_module("restore", dict(
            repository=str(repo), name=name + "-m", networks=[{"name": net}], superuser_password=password,
            secrets_dir=str(work / "secrets-m"))))
        assert not result.failed, result
        raw_restore = timed(lambda: raw_extract_and_start(client, image, net, name + "-raw", raw_dir))[0]
        report("restore (extract, start, consistent)", module_restore, raw_restore)

        if args.major >= 17:
            code, out = container.exec_run(["psql", "-Xq", "-c", "UPDATE pgbench_accounts SET abalance = abalance + 1 "
                                            "WHERE aid % 100 = 0"], user="postgres")
            assert code == 0, out.decode()
            inc_time, inc = timed(lambda: run_module("backup", dict(container=name, repository=str(repo),
                                                                    kind="incremental")))
            assert not inc.failed, inc
            report("incremental after 1% changed vs full: time", inc_time, module_full)
            report("incremental after 1% changed vs full: bytes", inc["backup"]["bytes"] / 1e6, full_bytes / 1e6, "MB")
        return 0
    finally:
        for each in created["containers"] + [name + "-wal-archiver"]:
            try:
                client.containers.get(each).remove(force=True)
            except docker.errors.NotFound:
                pass
        for each in created["volumes"]:
            try:
                client.volumes.get(each).remove(force=True)
            except docker.errors.NotFound:
                pass
        client.networks.get(net).remove()
        shutil.rmtree(work, ignore_errors=True)


def raw_extract_and_start(client, image: str, net: str, name: str, backup_dir: Path) -> None:
    """What an operator does by hand: extract the tars into a volume, start a server, wait for it."""
    pgdata = client.images.get(image).attrs["Config"]["Env"]
    pgdata = next(e.split("=", 1)[1] for e in pgdata if e.startswith("PGDATA="))
    volume_path = "/var/lib/postgresql" if "/docker" in pgdata else pgdata
    script = (f"mkdir -p {pgdata} && tar -xzf /b/base.tar.gz -C {pgdata} && tar -xzf /b/pg_wal.tar.gz -C {pgdata}/pg_wal "
              f"&& chown -R 999:999 {volume_path} && chmod 700 {pgdata}")
    client.containers.run(image, entrypoint=["sh", "-c"], command=[script], user="0", remove=True,
                          volumes={f"{name}-data": {"bind": volume_path}, str(backup_dir): {"bind": "/b", "mode": "ro"}})
    container = client.containers.run(image, name=name, network=net, detach=True,
                                      volumes={f"{name}-data": {"bind": volume_path}})
    while container.exec_run(["pg_isready", "-h", "127.0.0.1", "-q"], user="postgres").exit_code != 0:
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())

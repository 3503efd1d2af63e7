"""Benchmark of pgdock.postgres.backup / restore against the raw tools, on a pgbench database.

    .venv/bin/python benchmarks/backup.py [--scale 70] [--major 17] [--rounds 3]

In one run: full backup through the module vs raw pg_basebackup with the same flags; restore through
the module vs raw extract + start; incremental after 1% of rows changed vs full (time and bytes).
Backups and restores run in pairs (a CHECKPOINT before each backup, the order alternating) and the
medians are compared. Prints each pair and its ratio; the goal is module/raw <= 1.10 for backup and
for restore. Also prints the floor: what a module call that does nothing costs (ansible start-up).
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
from statistics import median

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from ansible_runner import COLLECTIONS, ensure_collection_link, run_module  # noqa: E402  pylint: disable=wrong-import-position
from pgclient import unused_port  # noqa: E402  pylint: disable=wrong-import-position

ensure_collection_link()
sys.path.insert(0, str(COLLECTIONS))
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.engine import PGPASS_SCRIPT

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
    parser.add_argument("--rounds", type=int, default=3, help="pairs of backups and of restores, order alternating")
    args = parser.parse_args()
    client = docker.from_env()
    token = secrets.token_hex(3)
    name, net = f"pgdt-bench-{token}", f"pgdt-bench-{token}-net"
    work = Path(tempfile.mkdtemp(prefix="pgdt-bench-"))
    image = f"pgdock-test/postgres:{args.major}"
    password = "bench-" + secrets.token_hex(8)
    created = {"containers": [name], "volumes": [f"{name}-data"]}
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

        def checkpoint() -> None:  # every timed backup starts from a clean buffer cache, none pays for another
            code, out = container.exec_run(["psql", "-Xq", "-c", "CHECKPOINT"], user="postgres")
            assert code == 0, out.decode()

        def module_full() -> dict:
            result = run_module("backup", dict(container=name, repository=str(repo), kind="full", force=True))
            assert not result.failed, result
            return result

        def raw_full(directory: Path) -> None:
            directory.mkdir()
            script = PGPASS_SCRIPT + f"cd /out && pg_basebackup -h {name} -U postgres -D . {FLAGS} && gzip -1 pg_wal.tar"
            client.containers.run(
                image, entrypoint=["sh", "-c"], command=["set -e; " + script], user="0", network=net, remove=True,
                environment={"PGUSER": "postgres"},
                volumes={str(directory): {"bind": "/out"}, str(work / "secrets"): {"bind": "/run/secrets/pgdock", "mode": "ro"}})

        def module_restore(target: str) -> None:
            created["containers"].append(target)
            created["volumes"].append(f"{target}-data")
            result = run_module("restore", dict(repository=str(repo), name=target, networks=[{"name": net}],
                                                superuser_password=password, secrets_dir=str(work / f"secrets-{target}")))
            assert not result.failed, result

        def raw_restore(target: str, directory: Path) -> None:
            created["containers"].append(target)
            created["volumes"].append(f"{target}-data")
            raw_extract_and_start(client, image, net, target, directory)

        floor = median([timed(lambda: run_module("backup", dict(repository=str(repo), list=True)))[0]
                        for _round in range(args.rounds)])
        times = {"module full": [], "raw full": [], "module restore": [], "raw restore": []}
        full_bytes = 0
        for number in range(args.rounds):  # alternate which goes first
            order = ("module", "raw") if number % 2 == 0 else ("raw", "module")
            for who in order:
                checkpoint()
                if who == "module":
                    seconds, result = timed(module_full)
                    full_bytes = result["backup"]["bytes"]
                else:
                    seconds = timed(lambda: raw_full(work / f"raw{number}"))[0]
                times[f"{who} full"].append(seconds)
            for who in order:
                if who == "module":
                    seconds = timed(lambda: module_restore(f"{name}-m{number}"))[0]
                else:
                    seconds = timed(lambda: raw_restore(f"{name}-raw{number}", work / f"raw{number}"))[0]
                times[f"{who} restore"].append(seconds)
                target = f"{name}-m{number}" if who == "module" else f"{name}-raw{number}"
                client.containers.get(target).remove(force=True)
                client.volumes.get(f"{target}-data").remove(force=True)
        for what, values in times.items():
            print(f"{what:<16} runs {' '.join(f'{v:6.2f}' for v in values)} s   median {median(values):6.2f} s")
        report("full backup (medians)", median(times["module full"]), median(times["raw full"]))
        report("restore: extract, start, consistent (medians)", median(times["module restore"]), median(times["raw restore"]))
        print(f"{'floor: a module call that does nothing':<44} module {floor:10.2f} s   (ansible start-up, docker "
              "connection; median of the list=true calls)")

        if args.major >= 17:
            code, out = container.exec_run(["psql", "-Xq", "-c", "UPDATE pgbench_accounts SET abalance = abalance + 1 "
                                            "WHERE aid % 100 = 0"], user="postgres")
            assert code == 0, out.decode()
            checkpoint()
            inc_time, inc = timed(lambda: run_module("backup", dict(container=name, repository=str(repo),
                                                                    kind="incremental")))
            assert not inc.failed, inc
            report("incremental after 1% changed vs full: time", inc_time, median(times["module full"]))
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

"""Major upgrade downtime: pgdock.postgres.upgrade (pg_upgrade in place) with each transfer mode,
beside a dump and restore into the new major, on the same pgbench data, in one run.

    .venv/bin/python benchmarks/upgrade.py [--scale 70] [--old 15] [--modes link,copy] [--runs 1]

For each mode a server of the old major is made by the container module and filled with
`pgbench -i -s <scale>` (scale 70 is about 1 GB); the upgrade module runs with that mode and its
`upgrade.downtime_seconds` (server stopped until the new one accepts connections) and phases are
printed. The dump and restore is timed on a server of the same data: `pg_dumpall` of the old server
piped into `psql` on a new server of the new major (the time writes would have to stop). Printed
side by side with the ratio of each to the dump and restore. Goal: link downtime <= 15 s at scale 70.
Everything it creates is removed; traffic stays on a Docker network of its own and on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "benchmarks"))
from cleanup import remove_objects  # noqa: E402
from ansible_runner import run_module  # noqa: E402  (the real ansible, the checkout's collection)
from pgclient import sql, unused_port  # noqa: E402

HELPER_IMAGE = "pgdock-test/postgres-upgrade:latest"


def check(result):
    assert not result.failed, result.get("msg", result)
    return result


class Bench:
    """The run's servers, network and secrets directories."""

    def __init__(self, args):
        self.args = args
        self.client = docker.from_env()
        self.token = secrets.token_hex(3)
        self.network = f"pgdock-bench-upg-{self.token}"
        self.containers: list[str] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="pgdock-bench-upg-"))
        self.password = "Bench-" + secrets.token_hex(8)

    def server(self, major: int, kind: str) -> dict:
        """A started server of `major` made by the container module; its module arguments."""
        name = f"pgdock-bench-upg-{kind}-{self.token}"
        self.containers.append(name)
        args = dict(name=name, image=f"pgdock-test/postgres:{major}", pull="never", superuser_password=self.password,
                    networks=[{"name": self.network}], secrets_dir=str(self.tmp / name), published_port=unused_port(),
                    stop_timeout=120, wait_timeout=300)
        check(run_module("container", args))
        return args

    def fill(self, name: str) -> None:
        container = self.client.containers.get(name)
        result = container.exec_run(["pgbench", "-i", "-q", "-s", str(self.args.scale), "-U", "postgres", "postgres"],
                                    user="postgres")
        assert result.exit_code == 0, result.output.decode()[-2000:]
        if self.args.old == 17:  # the test bed's Debian 17 column options, which 18 refuses (docs/upgrade.md)
            sql(self.port(name), self.password,
                "UPDATE pg_attribute SET attoptions = NULL WHERE attrelid >= 16384 AND attoptions IS NOT NULL")

    def port(self, name: str) -> int:
        return int(self.client.containers.get(name).ports["5432/tcp"][0]["HostPort"])

    def upgrade(self, mode: str) -> dict:
        args = self.server(self.args.old, mode)
        self.fill(args["name"])
        size = sql(args["published_port"], self.password, "SELECT pg_database_size('postgres')")[0][0]
        server = {k: v for k, v in args.items() if k not in ("name", "image")}
        result = check(run_module("upgrade", dict(name=args["name"], image="pgdock-test/postgres:18",
                                                  helper_image=HELPER_IMAGE, transfer_mode=mode, server=server),
                                  timeout=3600))
        phases = {p["phase"]: p for p in result["phases"]}
        count = sql(args["published_port"], self.password, "SELECT count(*) FROM pgbench_accounts")[0][0]
        assert count == 100000 * self.args.scale, count
        self.drop(args["name"])
        return {"downtime": result["upgrade"]["downtime_seconds"], "pg_upgrade": phases["pg_upgrade"]["seconds"],
                "transfer": phases["pg_upgrade"].get("transfer"), "size": size}

    def dump_restore(self) -> dict:
        old = self.server(self.args.old, "dump-old")
        new = self.server(18, "dump-new")
        self.fill(old["name"])
        start = time.monotonic()
        dump = subprocess.Popen(["docker", "exec", "-u", "postgres", old["name"], "pg_dumpall", "-U", "postgres",
                                 "--exclude-database=template*"], stdout=subprocess.PIPE)
        restore = subprocess.run(["docker", "exec", "-i", "-u", "postgres", new["name"], "psql", "-q", "-U", "postgres",
                                  "-v", "ON_ERROR_STOP=0", "-o", "/dev/null", "postgres"],
                                 stdin=dump.stdout, capture_output=True, check=False)
        dump.wait()
        seconds = round(time.monotonic() - start, 2)
        assert dump.returncode == 0, "pg_dumpall failed"
        count = sql(new["published_port"], self.password, "SELECT count(*) FROM pgbench_accounts")[0][0]
        assert count == 100000 * self.args.scale, (count, restore.stderr[-2000:])
        self.drop(old["name"])
        self.drop(new["name"])
        return {"downtime": seconds}

    def drop(self, name: str) -> None:
        remove_objects(self.client, containers=[name], volumes=[f"{name}-data"])

    def close(self) -> None:
        remove_objects(self.client, containers=self.containers, volumes=[f"{c}-data" for c in self.containers],
                       networks=[self.network])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--scale", type=int, default=70)
    parser.add_argument("--old", type=int, choices=[15, 17], default=15)
    parser.add_argument("--modes", default="link,copy")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    bench = Bench(args)
    bench.client.networks.create(bench.network)
    try:
        figures = {}
        for mode in args.modes.split(","):
            runs = [bench.upgrade(mode) for _run in range(args.runs)]
            figures[f"pg_upgrade --{mode}"] = {
                "downtime": statistics.median(r["downtime"] for r in runs),
                "detail": f"pg_upgrade {statistics.median(r['pg_upgrade'] for r in runs):.1f} s (transfer "
                          f"{statistics.median(r['transfer'] or 0 for r in runs):.1f} s), "
                          f"{runs[0]['size'] / 2 ** 20:.0f} MiB"}
        dumps = [bench.dump_restore() for _run in range(args.runs)]
        figures["pg_dumpall | psql"] = {"downtime": statistics.median(r["downtime"] for r in dumps), "detail": ""}
    finally:
        bench.close()
    base = figures["pg_dumpall | psql"]["downtime"]
    print(f"major upgrade {args.old} -> 18, pgbench scale {args.scale}, median of {args.runs} run(s)")
    print(f"{'method':<24} {'downtime s':>11} {'x dump':>7}  detail")
    for name, row in figures.items():
        print(f"{name:<24} {row['downtime']:>11.2f} {row['downtime'] / base:>7.2f}  {row['detail']}")


if __name__ == "__main__":
    main()

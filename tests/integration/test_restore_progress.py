"""A restore says what it is doing and how long it took: its phases with seconds and bytes in the
result, and a progress file that gets a line per percent of the extraction while it runs."""

from __future__ import annotations

import re
import threading
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import human_bytes
from ansible_runner import run_module
from test_backup import backup, psql
from test_restore import count, restore

PERCENT_LINE = re.compile(r"restore (\S+): extract (\d+)% \((\S+ [kMG]?B) of (\S+ [kMG]?B)\)$")


class FileWatcher:
    """Reads a file every 0.2 s from another thread: the lines seen before the watched work ended."""

    def __init__(self, path):
        self.path, self.seen, self._stop = path, [], threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            if self.path.exists():
                self.seen = self.path.read_text().splitlines()


def test_a_chain_restore_reports_its_phases_and_a_line_per_percent_while_it_extracts(
        pg_server, docker_client, tmp_path, unique, cleanup):
    server = pg_server(18, settings={"summarize_wal": "on"})
    repo = tmp_path / "repo"
    # about 200 MB of table that gzip squeezes well: the extraction takes some seconds
    psql(docker_client, server, "CREATE TABLE t AS SELECT i, repeat(md5(i::text), 12) AS pad "
                                "FROM generate_series(1, 450000) i")
    full = backup(server, repo, "full")
    assert full.changed and not full.failed, full
    psql(docker_client, server, "INSERT INTO t SELECT i, 'after' FROM generate_series(450001, 450100) i")
    incremental = backup(server, repo, "incremental")
    assert incremental.changed and not incremental.failed, incremental
    progress = tmp_path / "restore-progress.log"

    planned = run_module("restore", dict(repository=str(repo), name=unique("rst-check"), progress_file=str(progress),
                                         superuser_password=server["password"]), check=True)
    assert planned.changed and not planned.failed and "phases" not in planned, planned
    assert not progress.exists()  # check mode writes no progress file

    with FileWatcher(progress) as watcher:
        name, result = restore(server, repo, unique, cleanup, progress_file=str(progress))
        seen_while_running = list(watcher.seen)
    assert result.changed and not result.failed, result
    assert result["chain"] == [full["backup"]["id"], incremental["backup"]["id"]]
    assert count(docker_client, dict(server, name=name)) == 450100

    phases = {p["phase"]: p for p in result["phases"]}
    assert list(phases) == ["checksums", "extract", "container", "recovery"] and result["progress_file"] == str(progress)
    assert all(p["seconds"] > 0 for p in phases.values()), phases
    assert phases["checksums"]["bytes"] == full["backup"]["bytes"] + incremental["backup"]["bytes"]
    # the data extracted: more than the table, and more than the compressed backups
    assert phases["extract"]["bytes"] > max(200 * 1024 * 1024, phases["checksums"]["bytes"]), phases
    assert 0 <= phases["recovery"]["bytes"] < 64 * 1024 * 1024, phases

    lines = progress.read_text().splitlines()
    assert lines[0].endswith(f"restore {name}: checksums started"), lines
    percents = [int(m.group(2)) for m in map(PERCENT_LINE.search, lines) if m and m.group(1) == name]
    # tar extracts this backup in about a second, the helper's output is read once a second: few steps here
    assert len(percents) >= 2 and percents == sorted(set(percents)) and percents[-1] == 100, lines
    assert lines[-1].endswith(f"restore {name}: recovery done in {phases['recovery']['seconds']:.1f} s, "
                              f"{human_bytes(phases['recovery']['bytes'])}"), lines
    # visible while it ran: a line below 100% was in the file before the module returned
    running = [int(m.group(2)) for m in map(PERCENT_LINE.search, seen_while_running) if m]
    assert running and min(running) < 100, seen_while_running


def test_a_logical_restore_reports_a_phase_per_database(pg_server, docker_client, tmp_path):
    server = pg_server(17)
    repo = tmp_path / "repo"
    for db in ("app1", "app2"):
        psql(docker_client, server, f"CREATE DATABASE {db}")
        psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS i", db)
    taken = backup(server, repo, "logical", databases=["app1", "app2"])
    assert taken.changed and not taken.failed, taken
    progress = tmp_path / "logical-progress.log"
    started = time.monotonic()
    result = run_module("restore", dict(repository=str(repo), kind="logical", container=server["name"],
                                        databases=["app1", "app2"], force=True,
                                        progress_file=str(progress)))
    took = time.monotonic() - started
    assert result.changed and not result.failed, result
    files = taken["backup"]["files"]
    dumps = {db: (repo / "logical" / taken["backup"]["id"] / files[db]).stat().st_size for db in ("app1", "app2")}
    assert [(p["phase"], p["bytes"]) for p in result["phases"]] == [
        ("restore app1", dumps["app1"]), ("restore app2", dumps["app2"])], result["phases"]
    assert all(0 < p["seconds"] < took for p in result["phases"]), result["phases"]
    lines = progress.read_text().splitlines()
    task = f"restore of backup {taken['backup']['id']} on {server['name']}"
    assert [line.split(" ", 1)[1] for line in lines] == [
        f"{task}: restore app1 started", f"{task}: restore app1 done in {result['phases'][0]['seconds']:.1f} s, "
        f"{human_bytes(dumps['app1'])}", f"{task}: restore app2 started",
        f"{task}: restore app2 done in {result['phases'][1]['seconds']:.1f} s, {human_bytes(dumps['app2'])}"], lines

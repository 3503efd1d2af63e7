"""The backup, restore and switchover playbooks end with a short summary of what they did, built
from the modules' results: kinds, sizes, durations, places."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import test_switchover
from ansible_runner import REPO, playbook_stats, run_playbook, task_results
from test_backup import backup, psql
from test_switchover import is_primary

PLAYBOOKS = REPO / "playbooks"
cluster = test_switchover.cluster  # the fixture: a primary, a streaming standby and a pooler in front


def summary(proc, name: str) -> list[str]:
    """The `msg` of the playbook's summary task (run, not skipped)."""
    assert proc.returncode == 0 and playbook_stats(proc)["localhost"]["failures"] == 0, proc.stdout[-3000:]
    found = [r for r in task_results(proc) if r["_task"] == name]
    assert found and "msg" in found[0], [r["_task"] for r in task_results(proc)]
    return found[0]["msg"]


def test_the_backup_playbook_sums_up_the_backup_it_took_and_then_the_newest(pg_server, docker_client, tmp_path):
    server = pg_server(17)
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 100000) AS i")
    repo = tmp_path / "repo"
    play_vars = dict(pgdock_hosts="localhost", pgdock_backup_container=server["name"],
                     pgdock_backup_repository=str(repo), pgdock_backup_archive=False, pgdock_backup_cron=False)
    taken = summary(run_playbook(PLAYBOOKS / "backup.yml", extra_vars=dict(play_vars, pgdock_backup_now="full")),
                    "Summary of the backups")
    label = next((repo / "full").iterdir()).name
    assert taken[0] == (f"{server['name']}: backups in {repo}, WAL archiving off, jobs not scheduled on this host")
    match = re.fullmatch(rf"full backup {label} taken: ([\d.]+ [KMG]?B) in ([\d.]+) s \(copy ([\d.]+) s, "
                         rf"checksums ([\d.]+) s\), at {re.escape(str(repo))}/full/{label}", taken[1])
    assert match and float(match.group(2)) > 0 and match.group(1).endswith("MB"), taken

    again = summary(run_playbook(PLAYBOOKS / "backup.yml", extra_vars=play_vars), "Summary of the backups")
    assert re.fullmatch(rf"newest backup: full {label}, {re.escape(match.group(1))}, taken in \d+ s at "
                        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ, in {re.escape(str(repo))}/full/{label}", again[1]), again


def test_the_restore_playbook_sums_up_the_restore_and_its_phases(
        pg_server, docker_client, tmp_path, unique, cleanup):
    server = pg_server(18)
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS i")
    repo = tmp_path / "repo"
    label = backup(server, repo, "full")["backup"]
    name = unique("rst-play")
    cleanup["containers"].append(name)
    cleanup["volumes"].append(f"{name}-data")
    progress = tmp_path / "progress.log"
    try:
        lines = summary(run_playbook(PLAYBOOKS / "restore.yml", extra_vars=dict(
            pgdock_hosts="localhost", pgdock_restore_repository=str(repo), pgdock_restore_name=name,
            pgdock_restore_networks=[{"name": server["network"]}], pgdock_restore_progress_file=str(progress),
            pgdock_restore_superuser_password=server["password"])), "Summary of the restore")
    finally:
        shutil.rmtree(Path("/var/lib/pgdock") / name, ignore_errors=True)  # the default secrets_dir
    assert re.fullmatch(rf"backup {label['id']} restored into container {name}: databases postgres, timeline 1, "
                        rf"WAL at [0-9A-F]+/[0-9A-F]+ in [\d.]+ s \(progress: {re.escape(str(progress))}\)",
                        lines[0]), lines
    assert [line.split(":")[0] for line in lines[1:]] == ["checksums", "extract", "container", "recovery"], lines
    assert re.fullmatch(r"extract: [\d.]+ s, [\d.]+ [KM]B", lines[2]), lines


def test_the_switchover_playbook_sums_up_the_new_primary_and_the_pause(cluster):
    lines = summary(run_playbook(PLAYBOOKS / "switchover.yml", extra_vars=dict(
        pgdock_hosts="localhost", pgdock_pooler_name=cluster["pooler"],
        pgdock_switchover_target=cluster["standby"])), "Summary of the switchover")
    assert is_primary(cluster, cluster["standby"]) and not is_primary(cluster, cluster["primary"])
    assert re.fullmatch(rf"{cluster['standby']} is the primary, {cluster['primary']} its standby; lag at the switch "
                        rf"\d+ bytes; clients of {cluster['pooler']} paused [\d.]+ s", lines[0]), lines
    assert re.fullmatch(r"steps: pause [\d.]+ s, stop_old_primary [\d.]+ s, catch_up [\d.]+ s, promote [\d.]+ s, "
                        r"repoint [\d.]+ s, resume [\d.]+ s, rejoin [\d.]+ s", lines[1]), lines

"""Integration tests of pgdock.postgres.backup on the real engine and PostgreSQL 15, 17 and 18."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import threading
import time

from pathlib import Path

import pytest
from ansible_runner import REPO, ansible_env, playbook_stats, run_module, run_playbook

MAJORS = [15, 17, 18]
REPO_PLAYBOOKS = REPO / "playbooks"


def psql(docker_client, server: dict, sql: str, db: str = "postgres") -> str:
    """Run SQL in the server container over its socket; stdout."""
    code, out = docker_client.containers.get(server["name"]).exec_run(
        ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", server["superuser"], "-d", db, "-c", sql],
        user="postgres")
    assert code == 0, out.decode()
    return out.decode().strip()


def backup(server: dict, repo, kind: str, **extra):
    return run_module("backup", dict(container=server["name"], repository=str(repo), kind=kind, **extra))


def catalogue(repo) -> list[dict]:
    result = run_module("backup", dict(repository=str(repo), list=True))
    assert not result.failed, result
    return result["catalogue"]


@pytest.mark.parametrize("major", MAJORS)
def test_full_and_logical_backups_are_catalogued(pg_server, docker_client, tmp_path, major):
    server = pg_server(major)
    repo = tmp_path / "repo"
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 1000) AS i")

    check = run_module("backup", dict(container=server["name"], repository=str(repo), kind="full"),
                       check=True)
    assert check.changed and not (repo / "full").exists(), check

    full = backup(server, repo, "full")
    assert full.changed and not full.failed, full
    label = full["backup"]
    directory = repo / "full" / label["id"]
    assert {"base.tar.gz", "pg_wal.tar.gz", "backup_manifest", "SHA256SUMS", "label.json"} <= {
        p.name for p in directory.iterdir()}
    assert label["kind"] == "full" and label["major"] == major and label["timeline"] == 1
    assert label["start_lsn"] and label["stop_lsn"] and label["parent"] is None
    assert json.loads((directory / "label.json").read_text())["id"] == label["id"]
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=directory, capture_output=True, text=True, check=False)
    assert sums.returncode == 0, sums.stdout

    logical = backup(server, repo, "logical")
    assert logical.changed and not logical.failed, logical
    assert logical["backup"]["databases"] == ["postgres"]
    assert (repo / "logical" / logical["backup"]["id"] / "globals.sql").exists()

    listed = catalogue(repo)
    assert [b["id"] for b in listed] == [label["id"], logical["backup"]["id"]]


def test_unchanged_server_is_skipped_and_changes_are_not(pg_server, docker_client, tmp_path):
    server = pg_server(17)
    repo = tmp_path / "repo"
    assert backup(server, repo, "logical").changed
    again = backup(server, repo, "logical")
    assert not again.changed and again["skipped"], again
    psql(docker_client, server, "CREATE TABLE t (i int)")
    changed = backup(server, repo, "logical")
    assert changed.changed and any(c.startswith("Heap/INSERT: ") for c in changed["changes_since_last_backup"]), changed
    assert backup(server, repo, "logical", force=True).changed


def test_a_backup_reports_its_phases_and_progress_while_it_runs(pg_server, docker_client, tmp_path):
    server = pg_server(18)
    psql(docker_client, server, "CREATE TABLE big AS SELECT i, repeat(md5(i::text), 16) AS pad "
                                "FROM generate_series(1, 200000) i")
    taken = backup(server, tmp_path / "repo", "full")
    assert taken.changed and not taken.failed, taken
    phases = {p["phase"]: p for p in taken["phases"]}
    assert list(phases) == ["copy", "checksums"] and phases["copy"]["bytes"] > 100 * 1024 * 1024
    assert phases["checksums"]["bytes"] == taken["backup"]["bytes"]
    lines = (tmp_path / "repo" / "progress.log").read_text().splitlines()
    assert taken["progress_file"] == str(tmp_path / "repo" / "progress.log")
    backup_id = taken["backup"]["id"]
    assert lines[0].endswith(f"full backup {backup_id} of {server['name']}: copy started"), lines
    assert any(": copy 100% (" in line for line in lines) and ": checksums done in" in lines[-1], lines
    listed = run_module("backup", dict(repository=str(tmp_path / "repo"), list=True))
    assert not listed.failed and [b["id"] for b in listed["catalogue"]] == [backup_id], listed


def test_incremental_needs_17(pg_server, tmp_path):
    server = pg_server(15)
    result = backup(server, tmp_path / "repo", "incremental")
    assert result.failed and "needs PostgreSQL 17 or later" in result["msg"] and "kind=full" in result["msg"]


@pytest.mark.parametrize("major", [17, 18])
def test_incremental_on_full(pg_server, docker_client, tmp_path, major):
    server = pg_server(major, settings={"summarize_wal": "on"})
    repo = tmp_path / "repo"
    full = backup(server, repo, "full")
    assert full.changed and not full.failed, full
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 100) AS i")
    inc = backup(server, repo, "incremental")
    assert inc.changed and not inc.failed, inc
    assert inc["backup"]["parent"] == full["backup"]["id"]


def test_server_stopped_mid_backup_is_not_catalogued(pg_server, docker_client, tmp_path):
    server = pg_server(17)
    repo = tmp_path / "repo"
    psql(docker_client, server, "CREATE TABLE big AS SELECT i, md5(i::text) AS m, repeat(md5(i::text), 8) AS r "
                                "FROM generate_series(1, 1500000) AS i")
    container = docker_client.containers.get(server["name"])

    def stop_when_the_helper_runs():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
                server["name"] in c.labels.get("org.pgdock.helper", "")
                for c in docker_client.containers.list(filters={"label": "org.pgdock.helper"})):
            time.sleep(0.2)
        time.sleep(1)
        container.stop(timeout=5)
    stopper = threading.Thread(target=stop_when_the_helper_runs)
    stopper.start()
    result = backup(server, repo, "full")
    stopper.join()
    assert result.failed and "not catalogued" in result["msg"], result
    assert catalogue(repo) == []
    assert list((repo / "full").iterdir()) == []


def test_full_filesystem_leaves_nothing_partial(pg_server, docker_client, tmp_path):
    server = pg_server(17)
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(repo)], check=True)
    try:
        first = backup(server, repo, "logical")
        assert first.changed and not first.failed, first
        psql(docker_client, server, "CREATE TABLE big AS SELECT i, md5(i::text) AS m FROM generate_series(1, 400000) i")
        full = backup(server, repo, "full")
        assert full.failed and "not catalogued" in full["msg"], full
        assert "No space left" in full["msg"] or "space" in json.dumps(full.get("logs")), full
        listed = catalogue(repo)
        assert [b["id"] for b in listed] == [first["backup"]["id"]]
        assert list((repo / "full").iterdir()) == []
        check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=repo / "logical" / first["backup"]["id"],
                               capture_output=True, text=True, check=False)
        assert check.returncode == 0
    finally:
        subprocess.run(["umount", "-l", str(repo)], check=False)


def archive_settings(docker_client, server: dict) -> str:
    return psql(docker_client, server, "SELECT string_agg(setting, '|' ORDER BY name) FROM pg_settings "
                                       "WHERE name IN ('archive_mode', 'archive_timeout')")


def auto_conf_archive_settings(docker_client, server: dict) -> str:
    return psql(docker_client, server, "SELECT count(*) FROM pg_file_settings "
                                       "WHERE sourcefile LIKE '%auto.conf' AND name LIKE 'archive%'")


def started_at(docker_client, server: dict) -> str:
    return docker_client.containers.get(server["name"]).attrs["State"]["StartedAt"]


@pytest.mark.parametrize("major", MAJORS)
def test_archive_command_copies_switched_segments_into_the_repository(pg_server, docker_client, tmp_path, major):
    repo = tmp_path / "repo"
    server = pg_server(major, wal_archive_dir=str(repo / "wal"))
    assert (repo / "wal").stat().st_uid == 999 and (repo / "wal").stat().st_mode & 0o777 == 0o700
    args = dict(container=server["name"], repository=str(repo), archive=True, archive_timeout=30)

    refused = run_module("backup", args)  # archive_mode off: a restart is needed and not allowed
    assert refused.failed and "allow_restart" in refused["msg"] and "nothing was changed" in refused["msg"], refused
    assert auto_conf_archive_settings(docker_client, server) == "0"
    args["allow_restart"] = True
    check = run_module("backup", args, check=True)
    assert check.changed and not check.failed and archive_settings(docker_client, server) == "off|0", check

    before = started_at(docker_client, server)
    first = run_module("backup", args)
    assert first.changed and not first.failed, first
    assert started_at(docker_client, server) != before and "restart it" in " ".join(first["actions"])
    assert first["archive"]["method"] == "command" and first["archive"]["container"] is None
    assert archive_settings(docker_client, server) == "on|30"
    segment = first["archive"]["checked_segment"]
    archived = repo / "wal" / segment
    assert archived.stat().st_size == 16 * 1024 * 1024 and archived.stat().st_uid == 999
    assert not list((repo / "wal").glob("*.tmp"))
    assert psql(docker_client, server, "SELECT failed_count FROM pg_stat_archiver") == "0"
    assert not docker_client.containers.list(all=True, filters={"name": server["name"] + "-wal-archiver"})

    before = started_at(docker_client, server)
    again = run_module("backup", args)
    assert not again.changed and again["archive"]["checked_segment"] > segment, again
    assert started_at(docker_client, server) == before

    # the archive_command itself: a new name is copied whole; a name archived again (a retry after a
    # crash) is accepted when identical and refused when different
    container = docker_client.containers.get(server["name"])
    command = psql(docker_client, server, "SHOW archive_command")

    def archive(source: str, name: str) -> int:
        return container.exec_run(["sh", "-c", command.replace("%p", source).replace("%f", name)],
                                  user="postgres").exit_code
    assert container.exec_run(["sh", "-c", f"cp /pgdock-wal-archive/{segment} /tmp/same && "
                                           "head -c 16777216 /dev/urandom > /tmp/other"], user="postgres").exit_code == 0
    assert archive("/tmp/same", segment) == 0
    assert archive("/tmp/other", segment) != 0
    assert archive("/tmp/other", "00000001FFFFFFFF000000FF") == 0
    assert (repo / "wal" / "00000001FFFFFFFF000000FF").stat().st_size == 16 * 1024 * 1024
    (repo / "wal" / "00000001FFFFFFFF000000FF").unlink()
    assert not list((repo / "wal").glob("*.tmp"))

    off = run_module("backup", dict(args, archive=False))
    assert off.changed and not off.failed, off
    assert archive_settings(docker_client, server) == "off|0" and auto_conf_archive_settings(docker_client, server) == "0"
    assert not run_module("backup", dict(args, archive=False)).changed


def test_archive_command_needs_no_restart_when_the_container_starts_with_archive_mode(
        pg_server, docker_client, tmp_path, cleanup):
    repo = tmp_path / "repo"
    server = pg_server(17, wal_archive_dir=str(repo / "wal"), settings={"archive_mode": "on"})
    assert not run_module("container", server["module_args"]).changed  # the mount is compared, unchanged
    before = started_at(docker_client, server)
    args = dict(container=server["name"], repository=str(repo), archive=True)
    first = run_module("backup", args)
    assert first.changed and not first.failed and "reload" in " ".join(first["actions"]), first
    assert started_at(docker_client, server) == before
    assert (repo / "wal" / first["archive"]["checked_segment"]).is_file()
    # archive_mode comes from the command line: only the container can turn it off
    off = run_module("backup", dict(args, archive=False, allow_restart=True))
    assert off.failed and "command line" in off["msg"], off
    assert psql(docker_client, server, "SHOW archive_command") == first["archive"]["archive_command"]

    # a replica mounts the same directory and has the settings: once promoted, it archives there
    replica = server["name"] + "-r"
    cleanup["containers"].append(replica)
    cleanup["volumes"].append(f"{replica}-data")
    made = run_module("replica", dict(name=replica, primary=server["name"], secrets_dir=str(tmp_path / "r-secrets"),
                                      stop_timeout=30, wait_timeout=180))
    assert made.changed and not made.failed, made
    on_standby = run_module("backup", dict(container=replica, repository=str(repo), archive=True))
    assert on_standby.failed and "is a standby" in on_standby["msg"], on_standby
    mounts = docker_client.containers.get(replica).attrs["Mounts"]
    assert any(m["Destination"] == "/pgdock-wal-archive" and m["Source"] == str(repo / "wal") for m in mounts), mounts
    assert psql(docker_client, dict(server, name=replica), "SHOW archive_command") == first["archive"]["archive_command"]


def test_archive_command_refuses_a_server_that_does_not_mount_the_repository(pg_server, docker_client, tmp_path):
    repo = tmp_path / "repo"
    server = pg_server(18)
    refused = run_module("backup", dict(container=server["name"], repository=str(repo), archive=True,
                                        allow_restart=True))
    assert refused.failed and "wal_archive_dir" in refused["msg"] and "archive_method: stream" in refused["msg"], refused
    other = pg_server(18, wal_archive_dir=str(tmp_path / "elsewhere"))
    refused = run_module("backup", dict(container=other["name"], repository=str(repo), archive=True,
                                        allow_restart=True))
    assert refused.failed and str(tmp_path / "elsewhere") in refused["msg"], refused
    for each in (server, other):
        assert archive_settings(docker_client, each) == "off|0"


def test_switching_from_stream_to_command_removes_the_sidecar(pg_server, docker_client, tmp_path, cleanup):
    repo = tmp_path / "repo"
    server = pg_server(17, wal_archive_dir=str(repo / "wal"))
    cleanup["containers"].append(server["name"] + "-wal-archiver")
    args = dict(container=server["name"], repository=str(repo), archive=True, allow_restart=True)
    streamed = run_module("backup", dict(args, archive_method="stream"))
    assert streamed.changed and not streamed.failed, streamed
    switched = run_module("backup", args)
    assert switched.changed and not switched.failed, switched
    assert not docker_client.containers.list(all=True, filters={"name": server["name"] + "-wal-archiver"})
    assert psql(docker_client, server, "SELECT count(*) FROM pg_replication_slots") == "0"
    assert all(p.stat().st_uid == 999 for p in (repo / "wal").iterdir())
    assert switched["archive"]["checked_segment"] > streamed["archive"]["checked_segment"]
    assert psql(docker_client, server, "SELECT failed_count FROM pg_stat_archiver") == "0"
    back = run_module("backup", dict(args, archive_method="stream"))
    assert back.changed and not back.failed and auto_conf_archive_settings(docker_client, server) == "0", back


@pytest.mark.parametrize("major", MAJORS)
def test_wal_archiving_streams_into_the_repository(pg_server, docker_client, tmp_path, cleanup, major):
    server = pg_server(major)
    repo = tmp_path / "repo"
    archiver = server["name"] + "-wal-archiver"
    cleanup["containers"].append(archiver)
    args = dict(container=server["name"], repository=str(repo), archive=True, archive_method="stream")
    check = run_module("backup", args, check=True)
    assert check.changed and not check.failed, check
    first = run_module("backup", args)
    assert first.changed and not first.failed, first
    segment = first["archive"]["checked_segment"]
    assert (repo / "wal" / segment).stat().st_size == 16 * 1024 * 1024
    again = run_module("backup", args)
    assert not again.changed and again["archive"]["checked_segment"] > segment, again
    assert psql(docker_client, server, "SELECT count(*) FROM pg_replication_slots "
                                       "WHERE slot_name = 'pgdock_wal_archive'") == "1"
    off = run_module("backup", dict(args, archive=False))
    assert off.changed and not docker_client.containers.list(all=True, filters={"name": archiver}), off
    assert psql(docker_client, server, "SELECT count(*) FROM pg_replication_slots") == "0"


def test_prune_on_real_backups_keeps_the_newest_full_and_its_wal(pg_server, docker_client, tmp_path, cleanup):
    repo = tmp_path / "repo"
    server = pg_server(17, wal_archive_dir=str(repo / "wal"), settings={"archive_mode": "on"})
    assert not run_module("backup", dict(container=server["name"], repository=str(repo), archive=True)).failed
    first = backup(server, repo, "full")["backup"]
    logical = backup(server, repo, "logical")["backup"]
    psql(docker_client, server, "CREATE TABLE t AS SELECT generate_series(1, 10) AS i")
    second = backup(server, repo, "full", archive=True)
    assert second.changed and not second.failed, second
    wal_before = sorted(p.name for p in (repo / "wal").iterdir())
    policy = dict(keep_all_days=0, keep_bases_days=0, max_days=0, min_fulls=1, pitr_days=0)
    args = dict(repository=str(repo), prune=True, retention=policy)
    check = run_module("backup", args, check=True)
    assert check.changed and sorted(check["pruned"]["backups"]) == sorted([first["id"], logical["id"]]), check
    pruned = run_module("backup", args)
    assert pruned.changed and not pruned.failed, pruned
    assert [b["id"] for b in catalogue(repo)] == [second["backup"]["id"]]
    wal_after = sorted(p.name for p in (repo / "wal").iterdir())
    gone = set(pruned["pruned"]["wal"])
    assert gone and gone <= set(wal_before) and not gone & set(wal_after)
    assert {n for n in wal_before if not n.endswith(".partial")} - gone <= set(wal_after)
    assert not run_module("backup", args).changed


def test_role_schedules_jobs_that_work(pg_server, docker_client, tmp_path):
    repo = tmp_path / "repo"
    server = pg_server(17, wal_archive_dir=str(repo / "wal"))
    role_vars = dict(pgdock_hosts="localhost", pgdock_backup_container=server["name"],
                     pgdock_backup_repository=str(repo), pgdock_backup_allow_restart=True)
    playbook = REPO_PLAYBOOKS / "backup.yml"
    proc = run_playbook(playbook, extra_vars=role_vars)
    assert proc.returncode == 0 and playbook_stats(proc)["localhost"]["failures"] == 0, proc.stdout[-3000:]
    cron_file = Path("/etc/cron.d") / f"pgdock-backup-{server['name']}"
    assert not list(Path("/etc/systemd/system").glob(f"pgdock-backup-{server['name']}-*"))  # auto: no systemd here
    try:
        jobs = [line for line in cron_file.read_text().splitlines() if line and not line.startswith("#")]
        assert len(jobs) == 5 and any(line.startswith("0 1 * * 0 root ") for line in jobs), jobs

        def run_job(times: str) -> subprocess.CompletedProcess:
            line = next(line for line in jobs if line.startswith(f"{times} root "))
            command = line.split(" root ", 1)[1].split(" >> ")[0]
            return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=False,
                                  env=ansible_env(json_output=False))
        ran = run_job("0 1 * * 0")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert [b["kind"] for b in catalogue(repo)] == ["full"]
        assert any((repo / "wal").iterdir())
        assert psql(docker_client, server, "SHOW archive_mode") == "on"
        # the weekly verification: passes on this repository, fails (exit status) once a file is damaged
        verified = run_job("0 6 * * 0")
        assert verified.returncode == 0 and '"ok": true' in verified.stdout, verified.stdout + verified.stderr
        full_id = catalogue(repo)[0]["id"]
        with open(repo / "full" / full_id / "backup_manifest", "a", encoding="utf-8") as handle:
            handle.write(" ")
        damaged = run_job("0 6 * * 0")
        assert damaged.returncode != 0, damaged.stdout
        assert f"{full_id}: full/{full_id}/backup_manifest: sha256 mismatch" in damaged.stdout, damaged.stdout
    finally:
        proc = run_playbook(playbook, extra_vars=dict(role_vars, pgdock_backup_state="absent"))
        assert proc.returncode == 0, proc.stdout[-3000:]
    assert not cron_file.exists() or not [line for line in cron_file.read_text().splitlines()
                                          if line and not line.startswith("#")]


def unit_settings(path: Path) -> dict:
    """key=value lines of a systemd unit file (sections ignored, last value wins)."""
    settings = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _sep, value = line.partition("=")
            settings[key] = value
    return settings


def test_role_writes_systemd_timers_that_work(pg_server, tmp_path, cleanup):
    """systemd is not PID 1 here: the units are written into a directory without systemctl, checked
    with systemd-analyze verify, and the full job's ExecStart is run as systemd would run it."""
    server = pg_server(17)
    repo, units = tmp_path / "repo", tmp_path / "units"
    units.mkdir()
    cleanup["containers"].append(server["name"] + "-wal-archiver")
    prefix = f"pgdock-backup-{server['name']}"
    role_vars = dict(pgdock_hosts="localhost", pgdock_backup_container=server["name"],
                     pgdock_backup_repository=str(repo), pgdock_backup_scheduler="systemd",
                     pgdock_backup_archive_method="stream",
                     pgdock_backup_systemctl=False, pgdock_backup_systemd_dir=str(units),
                     pgdock_backup_systemd_on_failure=["pgdock-alert@%n.service"])
    playbook = REPO_PLAYBOOKS / "backup.yml"

    refused = run_playbook(playbook, extra_vars=dict(role_vars, pgdock_backup_systemctl=True))
    assert refused.returncode != 0 and "pgdock_backup_systemctl false" in refused.stdout, refused.stdout[-3000:]
    assert not list(units.iterdir())

    proc = run_playbook(playbook, extra_vars=role_vars)
    assert proc.returncode == 0 and playbook_stats(proc)["localhost"]["failures"] == 0, proc.stdout[-3000:]
    jobs = ("full", "incremental", "logical", "prune", "verify")
    assert sorted(p.name for p in units.iterdir()) == sorted(
        f"{prefix}-{job}.{kind}" for job in jobs for kind in ("service", "timer"))
    assert not (Path("/etc/cron.d") / prefix).exists()
    calendars = {job: unit_settings(units / f"{prefix}-{job}.timer")["OnCalendar"] for job in jobs}
    assert calendars == {"full": "Sun *-*-* 01:00:00", "incremental": "Mon..Sat *-*-* 01:00:00",
                         "logical": "*-*-* 02:30:00", "prune": "*-*-* 04:00:00",
                         "verify": "Sun *-*-* 06:00:00"}, calendars
    for job in jobs:
        timer = unit_settings(units / f"{prefix}-{job}.timer")
        assert timer["Unit"] == f"{prefix}-{job}.service" and timer["WantedBy"] == "timers.target"
        service = unit_settings(units / f"{prefix}-{job}.service")
        assert service["Type"] == "oneshot" and f".schedule-{job}.json" in service["ExecStart"]
        assert service["StandardOutput"] == f"append:/var/log/pgdock-backup-{server['name']}.log"
        assert service["OnFailure"] == "pgdock-alert@%n.service"

    again = run_playbook(playbook, extra_vars=role_vars)
    assert again.returncode == 0 and playbook_stats(again)["localhost"]["changed"] == 0, again.stdout[-3000:]

    # ExecStart as systemd runs it: $$ and %% unescaped, then split with shell-like quoting
    exec_start = unit_settings(units / f"{prefix}-full.service")["ExecStart"]
    argv = shlex.split(exec_start.replace("$$", "$").replace("%%", "%"))
    assert argv[:2] == ["/bin/sh", "-c"], argv
    ran = subprocess.run(argv, capture_output=True, text=True, check=False, env=ansible_env(json_output=False))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [b["kind"] for b in catalogue(repo)] == ["full"]

    analyze = shutil.which("systemd-analyze")
    if analyze:
        verify = subprocess.run([analyze, "verify"] + sorted(str(p) for p in units.iterdir()),
                                capture_output=True, text=True, check=False)
        assert verify.returncode == 0 and not verify.stderr.strip(), verify.stdout + verify.stderr

    gone = run_playbook(playbook, extra_vars=dict(role_vars, pgdock_backup_state="absent"))
    assert gone.returncode == 0, gone.stdout[-3000:]
    assert not list(units.iterdir())
    if not analyze:
        pytest.skip("systemd-analyze is not installed (package systemd): the units were written, their "
                    "ExecStart ran and they were removed, but `systemd-analyze verify` could not check them")


def test_full_backup_of_a_server_whose_hba_rejects_the_rest(pg_server, docker_client, tmp_path):
    """The hba module's default rules let the superuser replicate (nothing to add); a rule list
    without replication gets the backup's rule first, before any reject rule, or it would never match."""
    server = pg_server(18)
    hba = run_module("hba", dict(container=server["name"], default_rules=True, require_ssl=False))
    assert hba.changed and not hba.failed, hba
    full = backup(server, tmp_path / "repo", "full")
    assert full.changed and not full.failed, full
    assert not any("allow replication" in a for a in full["actions"]), full["actions"]
    rules = [{"type": "local", "database": "all", "user": "all", "method": "trust"},
             {"type": "host", "database": "all", "user": "all", "address": "all", "method": "scram-sha-256"},
             {"type": "host", "database": "replication", "user": "all", "address": "all", "method": "reject"}]
    assert run_module("hba", dict(container=server["name"], rules=rules)).changed
    full = backup(server, tmp_path / "repo", "full", force=True)
    assert full.changed and not full.failed, full
    first_rule = psql(docker_client, server, "SELECT type, database[1] FROM pg_hba_file_rules ORDER BY rule_number LIMIT 1")
    assert first_rule.split("|")[:2] == ["host", "replication"], first_rule

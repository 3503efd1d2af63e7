# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `backup` module's engine: full, incremental and logical backups of a running pgdock server,
taken by one-shot helper containers of the server's own image on the server's network, written into
the repository and catalogued only once complete; archiving, pruning, and the verification of the
repository (backup.verify)."""

from __future__ import annotations

import os
import re
import shlex
import shutil

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.archive_command import (
    ARCHIVE_COMMAND,
    CommandArchiver,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import (
    manifest_wal_range,
    new_backup_id,
    PHYSICAL_KINDS,
    Repository,
    write_label,
    write_sums,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.retention import (
    RetentionPolicy,
    plan_retention,
    wal_to_prune,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.server import Server
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.verify import Verification, failure, flagged
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.wal_archiver import (
    WalArchiver,
    adopt_files,
    check_arrival,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import REPO_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import log_tail, run_in
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import connect, docker_action
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import Progress
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import iso, lsn_to_int, utc_now
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import ActionLog

INCREMENTAL_MIN_MAJOR = 17
# WAL records that change no data: checkpoints, switches, hint bits, snapshots, commits alone, and
# page maintenance that reads (or autovacuum) cause; matched as prefixes of pg_waldump's types.
QUIET_RECORDS = ("XLOG/", "Standby/", "Transaction/", "Heap2/PRUNE", "Heap2/VACUUM", "Heap2/FREEZE",
                 "Heap2/VISIBLE", "Heap2/CLEANUP", "Heap/INPLACE", "Heap/LOCK", "Btree/DELETE", "Btree/VACUUM")


def backup(module) -> dict:
    """Entry point of the `backup` module."""
    return BackupEngine(module.params, module.check_mode, module.warn).run()


class BackupEngine:
    """One run of the backup module."""

    def __init__(self, params: dict, check_mode: bool, warn=None):
        self.p = params
        self.check_mode = check_mode
        self.warn = warn or (lambda _msg: None)
        self.repo = Repository(params["repository"])
        self.log = ActionLog(check_mode, guard=docker_action)

    def run(self) -> dict:
        if self.p["list"]:
            catalogue = self.repo.catalogue(self.p.get("kind"))
            if self.p["verify"]:
                return self._verify(self.log.result(), catalogue)
            return {"changed": False, "catalogue": flagged(catalogue, self.repo.problems_record()),
                    "incomplete": self.repo.incomplete()}
        if self.p.get("kind") or self.p.get("archive") is not None or (self.p["prune"] and self.p.get("container")):
            result = self._server_jobs()
        else:
            result = self.log.result(pruned=self._prune()) if self.p["prune"] else self.log.result()
        return self._verify(result) if self.p["verify"] else result

    def _verify(self, result: dict, catalogue: list | None = None) -> dict:
        """`verify`, after whatever else the run did: its findings in the result; a failure when it
        found problems and fail_on_problems is on."""
        if not self.repo.exists():
            raise PgdockError(f"verify: repository {self.repo.root} does not exist; nothing can be verified")
        found = Verification(self.repo, connect(self.p), self.log, self.warn).run()
        result.update(found, changed=bool(result.get("changed")) or self.log.changed, actions=self.log.actions)
        if catalogue is not None:
            result["catalogue"] = [dict(label, verified=found["verified"].get(label["id"])) for label in catalogue]
        if not found["ok"] and self.p["fail_on_problems"]:
            raise failure(result)
        return result

    def _server_jobs(self) -> dict:
        """Archiving, a backup and pruning, as asked, for the server `container`."""
        if not self.p.get("container"):
            raise PgdockError("container: the server to back up is required")
        client = connect(self.p)
        server = Server(client, self.p)
        result = {"changed": False, "actions": self.log.actions}
        if not self.check_mode and self.repo.ensure_layout():
            self.log.add(f"create repository layout in {self.repo.root}")
        if self.p.get("archive") is not None:
            result["archive"] = self._archive(client, server)
            result["changed"] = self.log.changed
        if self.p.get("kind"):
            result.update(self._backup(server))
        if self.p["prune"]:
            result["pruned"] = self._prune()
        result["changed"] = result.get("changed") or bool(result.get("pruned", {}).get("backups")) or bool(
            result.get("pruned", {}).get("wal"))
        return result

    def _archive(self, client, server: Server) -> dict:
        """Archiving as asked (archive, archive_method); the other method is turned off."""
        stream = WalArchiver(client, server, self.repo, self.log)
        command = CommandArchiver(server, self.repo, self.log, self.p["archive_timeout"],
                                  self.p["allow_restart"])
        if not self.p["archive"]:
            stream.ensure(False)
            command.disable()
            return {"enabled": False, "method": None, "container": None}
        if server.sql.value("SELECT pg_is_in_recovery()") == "t":
            raise PgdockError(f"archive: {server.name!r} is a standby; archive from its primary (a standby made "
                              "from a primary with archive_method command archives into the same wal/ once promoted)")
        if self.p["archive_method"] == "stream":
            command.disable()
            return dict(stream.ensure(True), method="stream")
        command.enable()
        if stream.ensure(False)["removed"] and not self.check_mode:
            adopt_files(self.repo.wal_dir)
        arrived = None if self.check_mode else check_arrival(server, self.repo.wal_dir, command.failure_details)
        return {"enabled": True, "method": "command", "container": None, "checked_segment": arrived,
                "archive_command": ARCHIVE_COMMAND, "archive_timeout": self.p["archive_timeout"]}

    def _prune(self) -> dict:
        """Apply the retention policy: delete the backups it does not keep, then old WAL."""
        labels = self.repo.catalogue()
        plan = plan_retention(labels, utc_now(), RetentionPolicy(**self.p["retention"]))
        kept = [lab for lab in labels if lab["id"] in plan["keep"]]
        wal_names = sorted(os.listdir(self.repo.wal_dir)) if os.path.isdir(self.repo.wal_dir) else []
        wal = wal_to_prune(wal_names, kept)
        for label in labels:
            if label["id"] in plan["delete"]:
                self.log.add(f"delete {label['kind']} backup {label['id']} (retention)")
                if not self.check_mode:
                    self.repo.remove_backup(label)
        if wal:
            self.log.add(f"delete {len(wal)} WAL segment(s) older than the oldest kept backup "
                         f"({wal[0]} to {wal[-1]})")
            if not self.check_mode:
                for name in wal:
                    os.unlink(os.path.join(self.repo.wal_dir, name))
        return {"backups": plan["delete"], "wal": wal, "kept": plan["reasons"]}

    def _backup(self, server: Server) -> dict:
        kind = self.p["kind"]
        parent = self._parent(server) if kind == "incremental" else None
        last, changes = self._changes_since_last(server, kind)
        if last is not None and not changes and not self.p["force"]:
            return {"skipped": True, "backup": last,
                    "msg": f"nothing changed since backup {last['id']} ({kind}); skipped"}
        backup_id = new_backup_id(kind, utc_now())
        self.log.add(f"take a {kind} backup {backup_id} of {server.name} into {self.repo.root}/{kind}")
        # why the last backup was not enough: the WAL records that changed data since it
        since = {"changes_since_last_backup": changes} if last is not None else {}
        if self.check_mode:
            return {"changed": True, "backup": {"id": backup_id, "kind": kind}, **since}
        self.progress = Progress(self.p.get("progress_file") or os.path.join(self.repo.root, "progress.log"),
                                 f"{kind} backup {backup_id} of {server.name}")
        if kind in PHYSICAL_KINDS:
            server.allow_replication(self.log)
            label = self._physical(server, kind, backup_id, parent)
        else:
            label = self._logical(server, backup_id)
        return {"changed": True, "backup": label, "phases": self.progress.phases, "progress_file": self.progress.path,
                **since}

    # -- change detection and chains ---------------------------------------------------------
    def _parent(self, server: Server) -> dict:
        if server.layout.major < INCREMENTAL_MIN_MAJOR:
            raise PgdockError(
                f"kind=incremental needs PostgreSQL {INCREMENTAL_MIN_MAJOR} or later (native incremental "
                f"backup); {server.name!r} runs PostgreSQL {server.layout.major}: use kind=full")
        sysid = self._system_identifier(server)
        for label in reversed(self.repo.catalogue()):
            if label["kind"] in PHYSICAL_KINDS and label.get("system_identifier") == sysid:
                return label
        raise PgdockError(f"kind=incremental needs an earlier full backup of {server.name!r} in "
                          f"{self.repo.root}; take kind=full first")

    @staticmethod
    def _system_identifier(server: Server) -> str:
        return server.sql.value("SELECT system_identifier FROM pg_control_system()")

    def _changes_since_last(self, server: Server, kind: str) -> tuple[dict | None, list[str]]:
        """The last backup of this kind and the data-changing WAL records written since it
        (empty: nothing changed); (None, []) when there is no such backup."""
        kinds = PHYSICAL_KINDS if kind == "incremental" else (kind,)
        sysid = self._system_identifier(server)
        last = next((lab for lab in reversed(self.repo.catalogue()) if lab["kind"] in kinds
                     and lab.get("system_identifier") == sysid), None)
        if last is None or not last.get("stop_lsn"):
            return None, []
        since = last["start_lsn"] if kind == "logical" else last["stop_lsn"]
        return last, wal_changes_since(server, since)

    # -- physical --------------------------------------------------------------------------------
    def _physical(self, server: Server, kind: str, backup_id: str, parent: dict | None) -> dict:
        flags = ["-D", ".", "-Ft", "-Xstream", "--checkpoint=fast", "--no-password",
                 "-l", f"pgdock {backup_id}", "--compress=server-gzip", "--progress"]
        if parent is not None:
            flags.append(f"--incremental={REPO_MOUNT}/{parent['kind']}/{parent['id']}/backup_manifest")
        if kind == "incremental":
            self._ensure_summaries(server)
        script = (f'cd {shlex.quote(f"{REPO_MOUNT}/{kind}/{backup_id}")}; pg_basebackup "$@"; '
                  'gzip -1 pg_wal.tar; chmod 0640 *')
        extra = {"parent": parent["id"] if parent else None}
        return self._take(server, kind, backup_id, script, flags, extra, self._physical_facts)

    def _ensure_summaries(self, server: Server) -> None:
        if server.sql.value("SHOW summarize_wal") != "on":
            self.log.add(f"set summarize_wal = on on {server.name} (ALTER SYSTEM, reload)")
            server.sql.rows("ALTER SYSTEM SET summarize_wal = on")
            server.sql.rows("SELECT pg_reload_conf()")
            raise PgdockError(
                f"summarize_wal was off on {server.name!r}; it is now on, but an incremental backup needs "
                "WAL summaries from its parent on: take kind=full now, then incrementals on top of it")

    def _physical_facts(self, directory: str) -> dict:
        with open(os.path.join(directory, "backup_manifest"), encoding="utf-8") as handle:
            return manifest_wal_range(handle.read())

    # -- logical ---------------------------------------------------------------------------------
    def _logical(self, server: Server, backup_id: str) -> dict:
        available = [r[0] for r in server.sql.rows(
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1")]
        wanted = self.p.get("databases") or available
        missing = sorted(set(wanted) - set(available))
        if missing:
            raise PgdockError(f"databases: {', '.join(missing)} not found on {server.name!r} "
                              f"(it has: {', '.join(available)})")
        files = {db: f"{i:03d}-{re.sub(r'[^A-Za-z0-9_.-]', '_', db)}.dump" for i, db in enumerate(wanted)}
        args = [a for db in wanted for a in (db, files[db])]
        script = (f'cd {shlex.quote(f"{REPO_MOUNT}/logical/{backup_id}")}; '
                  'pg_dumpall --no-password --globals-only -f globals.sql; '
                  'while [ $# -gt 0 ]; do pg_dump --no-password -Fc -d "$1" -f "$2"; shift 2; done; '
                  'chmod 0640 *')
        start_lsn = server.sql.value("SELECT pg_current_wal_insert_lsn()")

        def facts(_directory):
            return {"start_lsn": start_lsn, "stop_lsn": server.sql.value("SELECT pg_current_wal_insert_lsn()"),
                    "timeline": int(server.sql.value("SELECT timeline_id FROM pg_control_checkpoint()"))}
        return self._take(server, "logical", backup_id, script, args,
                          {"databases": wanted, "files": files}, facts)

    # -- common ----------------------------------------------------------------------------------
    def _take(self, server: Server, kind: str, backup_id: str, script: str, args: list,
              extra: dict, facts) -> dict:
        """Run the helper into a fresh backup directory, then sums and label; nothing left on failure."""
        directory = self.repo.backup_dir(kind, backup_id)
        os.makedirs(directory, mode=0o750)
        start = utc_now()
        try:
            with self.progress.phase("copy") as copy:
                watch = self.progress.pg_progress_watcher(copy)
                watch(server.run_helper(script, self.repo.root, f"{kind} backup {backup_id} of {server.name}", args,
                                        on_output=watch))
            label = dict(
                kind=kind, id=backup_id, start_time=iso(start), stop_time=iso(utc_now()),
                server=server.name, image=server.image_name, superuser=server.superuser,
                server_version=server.sql.value("SHOW server_version"), major=server.layout.major,
                system_identifier=self._system_identifier(server), parent=None, databases=None,
                compression="gzip",
            )
            label.update(extra)
            label.update(facts(directory))
            with self.progress.phase("checksums") as checksums:
                sizes = write_sums(directory)
                checksums["bytes"] = label["bytes"] = sum(sizes.values())
            copy["bytes"] = copy.get("bytes") or label["bytes"]  # pg_dump says nothing: what it wrote
            label["file_count"] = len(sizes)
            write_label(directory, label)
        except (PgdockError, OSError) as exc:
            shutil.rmtree(directory, ignore_errors=True)
            details = getattr(exc, "details", {})
            reason = str(exc) if isinstance(exc, PgdockError) else f"{exc.strerror} ({exc.filename})"
            raise PgdockError(f"{reason}; backup {backup_id} was removed and is not catalogued",
                              logs=details.get("logs") or log_tail(server.container)) from None
        return label


def wal_changes_since(server: Server, lsn: str) -> list[str]:
    """The WAL records that change data written after `lsn`, as "Kind/RECORD: count" (see
    QUIET_RECORDS for what does not count); empty when none. When the WAL cannot be read any more,
    one entry says so."""
    # the flushed end: the page after a segment switch is not on disk yet, pg_waldump would fail on it
    current = server.sql.value("SELECT pg_current_wal_flush_lsn()")
    if lsn_to_int(current) <= lsn_to_int(lsn):
        return []
    code, out = run_in(server.container, ["pg_waldump", "-p", os.path.join(server.layout.pgdata, "pg_wal"),
                                          "-s", lsn, "-e", current, "--stats=record"])
    if code != 0:
        return [f"the WAL from {lsn} to {current} cannot be read: " + " / ".join(out.strip().splitlines()[-2:])]
    return stats_show_changes(out)


def stats_show_changes(stats: str) -> list[str]:
    """The records that change data counted in `pg_waldump --stats=record` output, as "name: count"."""
    changes = []
    for line in stats.splitlines():
        words = line.split()
        if words and "/" in words[0] and len(words) > 2 and words[1].isdigit() and int(words[1]) > 0:
            if not words[0].startswith(QUIET_RECORDS):
                changes.append(f"{words[0]}: {words[1]}")
    return changes

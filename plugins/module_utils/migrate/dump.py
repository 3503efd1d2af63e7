# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `dump` method: roles and their memberships with `pg_dumpall --globals-only` (password
verifiers as the source stores them), then each database with `pg_dump -Fd -j` into a scratch
volume and `pg_restore -j` into the target, from a helper in the target's network namespace. The
source is fenced at cutover before the copy starts: writes stop for the whole copy, and the result
says how long."""

from __future__ import annotations

import re

from ansible_collections.pgdock.postgres.plugins.module_utils.contract import MIGRATED_LABEL, POSTGRES_UID
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import run_script
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import docker_action, get_or_none, managed_labels
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import human_bytes
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.copy_scripts import (
    CREATE_OR_INTO,
    LOAD_SCHEMA,
    HelperLogins,
    copy_globals,
    create_or_into,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.cutover import Cutover
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.target_lifecycle import (
    fresh_target,
    now,
    prepare_abort,
    remove_target,
    remove_volume,
    target_connection,
)

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing libraries
    pass

DUMP_MOUNT = "/pgdock-dump"
# $1 source conninfo of the database, $2 dump directory, $3 jobs; a progress line a second:
# "PGDOCK_DUMP <files> <bytes>" (pg_dump -Fd writes a file per table)
DUMP_SCRIPT = (
    'rm -rf "$2"; pg_dump -d "$1" -Fd -j "$3" -f "$2" & pid=$!; '
    'while kill -0 $pid 2>/dev/null; do '
    '  [ -d "$2" ] && echo "PGDOCK_DUMP $(ls "$2" | wc -l) $(du -sb "$2" | cut -f1)"; sleep 1; done; '
    'wait $pid; echo "PGDOCK_DUMP $(ls "$2" | wc -l) $(du -sb "$2" | cut -f1)"')
# $1 the target's postgres database, $2 the database restored, $3 dump directory, $4 jobs, $5 create:
# the schema as SQL through psql (copy_scripts.LOAD_SCHEMA), then data and the rest in parallel
RESTORE_SCRIPT = (
    CREATE_OR_INTO
    + 'pg_restore --section=pre-data --no-tablespaces $c -f /tmp/pre.sql "$3"; '
    + LOAD_SCHEMA + '; '
    + 'pg_restore -d "$2" -j "$4" --no-tablespaces --section=data --section=post-data --exit-on-error "$3"')
PROGRESS_RE = re.compile(r"PGDOCK_DUMP (\d+) (\d+)")
TABLES_WITH_DATA_SQL = """select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'm') and n.nspname not in ('pg_catalog', 'information_schema')"""


class DumpMethod:
    """pg_dumpall globals, pg_dump/pg_restore per database; see the module's documentation."""

    def __init__(self, run):
        self.run = run
        self.p = run.p

    # -- checks and plan ---------------------------------------------------------------------------
    def problems(self) -> list[str]:
        return []

    def plan(self) -> list[str]:
        dbs = ", ".join(self.run.databases())
        steps = [f"create the target container {self.run.name} ({self.run.image})"]
        if self.p["state"] == "cutover":
            steps.append("make the source read-only for new transactions and end its client sessions "
                         "(writes stop until the copy is done)")
        steps += ["copy roles, their passwords (verifiers) and memberships (pg_dumpall --globals-only)",
                  f"copy databases {dbs} (pg_dump -Fd -j {self.p['jobs']}, pg_restore -j {self.p['jobs']})",
                  "compare both sides (roles, databases, owners, extensions, row counts)"]
        if self.p["state"] == "cutover" and self.run.pooler is not None:
            steps.append(f"repoint pooler {self.p['pooler']} to {self.run.name}")
        return steps

    # -- states ------------------------------------------------------------------------------------
    def synced(self) -> dict:
        """A copy while the source keeps taking writes (a rehearsal: how long the copy takes, whether
        it restores); done once, reported after."""
        state = self.run.state() or {}
        if state.get("phase") in ("copied", "cut_over") and self.run.target_container() is not None:
            return {"state": "synced" if state["phase"] == "copied" else "cut_over",
                    "copied_at": state.get("copied_at"), "copy_seconds": state.get("copy_seconds"),
                    "note": "a dump is a copy of one moment: the source kept taking writes since; "
                            "state=cutover copies again with writes stopped"}
        fresh_target(self.run, "copying", [self._dump_volume()])
        seconds = self._copy()
        self.run.save_state(phase="copied", copied_at=now(), copy_seconds=seconds)
        return {"state": "synced", "copy_seconds": seconds,
                "note": "the source kept taking writes during the copy, so the sides are compared at cutover"}

    def cutover(self) -> dict:
        state = self.run.state() or {}
        if state.get("phase") == "cut_over":
            return {"state": "cut_over", "write_downtime_seconds": state.get("write_downtime_seconds"),
                    "connection": target_connection(self.run), "verification": state.get("verification")}
        fresh_target(self.run, "copying", [self._dump_volume()])
        source = self.run.source.session()
        try:
            result = {}

            def copy_and_verify():
                self._copy()
                result["verification"] = self.run.verification(self.run.databases())

            timings = Cutover(self.run, source).switch(copy_and_verify, pause_during_catch_up=False)
        finally:
            source.close()
        downtime = timings["write_downtime_seconds"]
        self.run.save_state(phase="cut_over", cut_over_at=now(), write_downtime_seconds=downtime,
                            verification=result["verification"])
        return {"state": "cut_over", "write_downtime_seconds": downtime, "timings": timings,
                "connection": target_connection(self.run), "verification": result["verification"],
                "note": "with the dump method writes stop for the whole copy; the source stays read-only"}

    def aborted(self) -> dict:
        state = prepare_abort(self.run)
        remove_target(self.run, [self._dump_volume()])
        if state is not None:
            self.run.log.do(f"forget the migration state {self.run.state_file}", self.run.forget_state)
        return {"state": "aborted"}

    # -- the copy ----------------------------------------------------------------------------------
    def _copy(self) -> float:
        """Globals, then each database dumped and restored; the seconds it took."""
        began = self.run.elapsed()
        logins = HelperLogins.write(self.run)
        copy_globals(self.run, logins)
        self._create_dump_volume()
        mounts = logins.mounts + [Mount(DUMP_MOUNT, self._dump_volume(), type="volume")]
        for index, database in enumerate(self.run.databases()):
            directory = f"{DUMP_MOUNT}/{index}"
            with self.run.progress.phase(f"dump {database}") as phase:
                watch = self._dump_watcher(phase, database)
                output = self.run.helper(DUMP_SCRIPT, [self.run.source.conninfo(self.run.route, dbname=database),
                                                       directory, str(self.p["jobs"])],
                                         f"pg_dump of database {database}", mounts=mounts, beside_target=True,
                                         on_output=watch)
                watch(output)
            with self.run.progress.phase(f"restore {database}"):
                self.run.helper(RESTORE_SCRIPT, [logins.target(), logins.target(database), directory,
                                                 str(self.p["jobs"]), create_or_into(database)],
                                f"pg_restore of database {database}", mounts=mounts, beside_target=True)
            self.run.log.add(f"copied database {database} ({human_bytes(phase.get('bytes'))} dumped)")
        self.run.log.do(f"remove the scratch volume {self._dump_volume()}", remove_volume, self.run.client,
                        self._dump_volume())
        return round(self.run.elapsed() - began, 3)

    def _dump_watcher(self, phase: dict, database: str):
        """The dump's bytes, and a progress line per percent of its tables written."""
        with self.run.source.session(database) as session:
            tables = max(int(session.value(TABLES_WITH_DATA_SQL) or 0), 1)
        seen = {"percent": -1}

        def watch(output: str) -> None:
            found = PROGRESS_RE.findall(output)
            if not found:
                return
            files, size = (int(v) for v in found[-1])
            phase["bytes"] = size
            percent = min(100, max(files - 1, 0) * 100 // tables)  # toc.dat is not a table
            if percent > seen["percent"]:
                seen["percent"] = percent
                self.run.progress.line(f"dump {database} {percent}% of {tables} tables ({human_bytes(size)})")
        return watch

    def _dump_volume(self) -> str:
        return f"{self.run.name}-migrate-dump"

    def _create_dump_volume(self) -> None:
        if get_or_none(self.run.client.volumes, self._dump_volume(), "volume") is None:
            with docker_action(f"creating volume {self._dump_volume()}"):
                self.run.client.volumes.create(self._dump_volume(),
                                               labels=managed_labels({MIGRATED_LABEL: self.run.source.describe()}))
            mount = Mount(DUMP_MOUNT, self._dump_volume(), type="volume")
            run_script(self.run.client, self.run.image, 'chown "$1" "$2"', [mount],
                       f"handing volume {self._dump_volume()} to the postgres user",
                       args=[f"{POSTGRES_UID}:{POSTGRES_UID}", DUMP_MOUNT])

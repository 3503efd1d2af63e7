# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup module's `verify`: every catalogued backup checked without restoring it. Each file
against SHA256SUMS; a physical backup with `pg_verifybackup` in a helper of its own image (PostgreSQL
18 reads the tar format itself, older majors check an extraction in a scratch volume) and its
incremental chain; the archived WAL from each physical backup to the newest segment (wal_continuity).
What is wrong is kept in the repository (PROBLEMS.json), so that `list` shows it too."""

from __future__ import annotations

import json
import os

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.extract import EXTRACT_FUNCTION
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import (
    PHYSICAL_KINDS,
    PROBLEMS_FILE,
    sum_problems,
)
from ansible_collections.pgdock.postgres.plugins.module_utils.backup.wal_continuity import Archive
from ansible_collections.pgdock.postgres.plugins.module_utils.contract import REPO_MOUNT
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.access import run_helper
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.client import get_or_none
from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import iso, utc_now

try:
    from docker.types import Mount
except ImportError:  # pragma: no cover - run_engine reports the missing SDK
    pass

TAR_VERIFY_MIN_MAJOR = 18  # pg_verifybackup --format=tar (without WAL parsing: pg_waldump does that)
SCRATCH = "/pgdock-scratch"
# $1: the backup's directory; then timeline, start and end LSN of each WAL range of its manifest.
TAR_SCRIPT = (
    'b="$1"; shift; pg_verifybackup -q -F t -n -i label.json -i SHA256SUMS "$b" || exit 3; '
    f'mkdir -p {SCRATCH}/wal; tar -xzf "$b/pg_wal.tar.gz" -C {SCRATCH}/wal || exit 4; '
    f'while [ $# -gt 2 ]; do pg_waldump -q -p {SCRATCH}/wal -t "$1" -s "$2" -e "$3" || exit 5; shift 3; done'
)
EXTRACTED_SCRIPT = EXTRACT_FUNCTION + f'extract "$1" {SCRATCH}/backup'
# the file a helper's exit code points at
EXIT_FILES = {3: "base.tar.gz", 4: "pg_wal.tar.gz", 5: "pg_wal.tar.gz"}


class Verification:
    """One verification of a repository (`repo`, a backup.repository.Repository); `client` is a
    Docker client (None: no pg_verifybackup), `log` the run's runner.ActionLog."""

    def __init__(self, repo, client, log, warn):
        self.repo = repo
        self.client = client
        self.log = log
        self.warn = warn
        self.now = iso(utc_now())

    def run(self) -> dict:
        """{"ok", "verified": {id: entry}, "wal", "incomplete"}; the record of problems updated."""
        labels = self.repo.catalogue()
        ids = {label["id"] for label in labels}
        archive = self._archive()
        verified = {label["id"]: self._backup(label, ids, archive) for label in labels}
        newest = archive.newest
        wal = {"newest": archive.name(*newest) if newest else None, "segments": len(archive.segments),
               "timelines": sorted({tli for tli, _seg in archive.segments})}
        self._record(verified)
        return {"ok": all(entry["ok"] for entry in verified.values()), "verified": verified, "wal": wal,
                "incomplete": self.repo.incomplete()}

    # -- one backup ------------------------------------------------------------------------------
    def _backup(self, label: dict, ids: set, archive: Archive) -> dict:
        where = f"{label['kind']}/{label['id']}"
        problems = [{"file": f"{where}/{name}", "problem": what}
                    for name, what in sum_problems(self.repo.backup_dir(label["kind"], label["id"]))]
        checks = {"sha256": "failed" if problems else "ok"}
        if label["kind"] in PHYSICAL_KINDS:
            if label.get("parent") and label["parent"] not in ids:
                problems.append({"file": f"{where}/label.json", "problem": f"incremental on {label['parent']}, "
                                 "which is not in the catalogue: the chain is broken and cannot be restored"})
            checks["pg_verifybackup"] = self._pg_verifybackup(label, where, problems)
            gaps, checks["wal"] = archive.gaps(label["timeline"], label["stop_lsn"]) if label.get(
                "stop_lsn") else ([], {"checked": False, "why": "the label has no stop LSN"})
            problems += gaps
        return {"kind": label["kind"], "ok": not problems, "problems": problems, "checks": checks,
                "checked_at": self.now}

    def _pg_verifybackup(self, label: dict, where: str, problems: list) -> str:
        """pg_verifybackup (and the backup's own WAL) in a helper of the backup's image: 'ok',
        'failed' (a problem added) or why it was skipped."""
        if problems:
            return "skipped: the files do not match their sums"
        image = get_or_none(self.client.images, label.get("image") or "", "image") if self.client else None
        if image is None:
            self.warn(f"verify: image {label.get('image')!r} of backup {label['id']} is not on the Docker host; "
                      "its pg_verifybackup check was skipped (load the image to check it)")
            return f"skipped: image {label.get('image')!r} is not on the Docker host"
        directory = f"{REPO_MOUNT}/{where}"
        if (label.get("major") or 0) >= TAR_VERIFY_MIN_MAJOR:
            script, args = TAR_SCRIPT, [directory] + self._wal_ranges(label)
        else:
            script, args = EXTRACTED_SCRIPT, [directory]
        mounts = [Mount(REPO_MOUNT, self.repo.root, type="bind", read_only=True), Mount(SCRATCH, None, type="volume")]
        code, output = run_helper(self.client, image.id, ["sh", "-c", "set -e; " + script, "pgdock-verify"] + args,
                                  mounts, f"pg_verifybackup of backup {label['id']}", user="0")
        if code == 0:
            return "ok"
        lines = [line for line in output.strip().splitlines() if line.strip()][-5:]
        problems.append({"file": f"{where}/{EXIT_FILES[code]}" if code in EXIT_FILES else where,
                         "problem": f"pg_verifybackup refused the backup (exit code {code}): " + " / ".join(lines)})
        return "failed"

    def _wal_ranges(self, label: dict) -> list[str]:
        """Timeline, start and end of each WAL range of the backup's manifest, flat (pg_waldump's -t -s -e)."""
        path = os.path.join(self.repo.backup_dir(label["kind"], label["id"]), "backup_manifest")
        try:
            with open(path, encoding="utf-8") as handle:
                ranges = json.load(handle)["WAL-Ranges"]
        except (OSError, ValueError, KeyError):
            return [str(label["timeline"]), label["start_lsn"], label["stop_lsn"]]
        return [str(v) for r in ranges for v in (r["Timeline"], r["Start-LSN"], r["End-LSN"])]

    # -- the archive and the record --------------------------------------------------------------
    def _archive(self) -> Archive:
        wal_dir = self.repo.wal_dir
        names = sorted(os.listdir(wal_dir)) if os.path.isdir(wal_dir) else []

        def read_text(name: str) -> str:
            with open(os.path.join(wal_dir, name), encoding="utf-8", errors="replace") as handle:
                return handle.read()
        return Archive.from_files(names, read_text)

    def _record(self, verified: dict) -> None:
        """PROBLEMS.json holds what this run found wrong; rewritten only when that differs."""
        found = {backup_id: entry["problems"] for backup_id, entry in verified.items() if entry["problems"]}
        kept = self.repo.problems_record()
        if found == kept.get("backups", {}):
            return
        path = os.path.join(self.repo.root, PROBLEMS_FILE)
        if found:
            self.log.do(f"record the problems of {len(found)} backup(s) in {path}", self.repo.record_problems,
                        {"found_at": self.now, "backups": found})
        else:
            self.log.do(f"remove {path}: no problem found any more", self.repo.record_problems, {})


def problem_lines(verified: dict) -> list[str]:
    """'<id>: <file>: <problem>' for each problem, for messages."""
    return [f"{backup_id}: {p['file']}: {p['problem']}" for backup_id, entry in verified.items()
            for p in entry["problems"]]


def flagged(catalogue: list[dict], record: dict) -> list[dict]:
    """The catalogue with each backup's `verified`: what the last verification found wrong
    ({"ok": false, "problems", "found_at"}), or None when it found nothing (or none ran)."""
    backups = record.get("backups", {})
    return [dict(label, verified={"ok": False, "problems": backups[label["id"]], "found_at": record.get("found_at")}
                 if label["id"] in backups else None) for label in catalogue]


def failure(result: dict) -> PgdockError:
    """The error of a verification that found problems (fail_on_problems), with its result."""
    lines = problem_lines(result["verified"])
    return PgdockError(f"verify: {len(lines)} problem(s) in {len([e for e in result['verified'].values() if not e['ok']])} "
                       "backup(s): " + "; ".join(lines[:20]) + ("; ..." if len(lines) > 20 else ""), **result)

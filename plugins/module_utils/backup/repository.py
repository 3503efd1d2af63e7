# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup repository on the Docker host: layout, backup ids, sha256 sums, labels and the
catalogue. Pure file-system logic, no Docker.

Layout::

    <root>/full/<id>/          base.tar.gz, pg_wal.tar.gz, backup_manifest, SHA256SUMS, label.json
    <root>/incremental/<id>/   the same, made with pg_basebackup --incremental
    <root>/logical/<id>/       <database>.dump (pg_dump -Fc), globals.sql, SHA256SUMS, label.json
    <root>/wal/                archived WAL segments
    <root>/PROBLEMS.json       what the last verification found wrong (absent when nothing)

A backup is catalogued only when its label.json exists: the label is written last, atomically, so
an interrupted backup (full disk, stopped server) is never taken for a valid one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import lsn_to_int, parse_time

KINDS = ("full", "incremental", "logical")
PHYSICAL_KINDS = ("full", "incremental")
WAL_DIR = "wal"
LABEL_FILE = "label.json"
SUMS_FILE = "SHA256SUMS"
PROBLEMS_FILE = "PROBLEMS.json"  # what the last verification found; absent when it found nothing
LABEL_FORMAT = 1
KIND_LETTER = {"full": "F", "incremental": "I", "logical": "L"}
CHUNK = 1024 * 1024


def new_backup_id(kind: str, moment: datetime) -> str:
    """A sortable id: UTC time to the millisecond and the kind's letter, e.g. 20250131-120000-123F."""
    moment = moment.astimezone(timezone.utc)
    return f"{moment:%Y%m%d-%H%M%S}-{moment.microsecond // 1000:03d}{KIND_LETTER[kind]}"


class Repository:
    """A repository directory on the Docker host."""

    def __init__(self, root: str):
        if not root or not os.path.isabs(root):
            raise PgdockError(f"repository: {root!r} must be an absolute path on the Docker host")
        self.root = os.path.normpath(root)

    def kind_dir(self, kind: str) -> str:
        return os.path.join(self.root, kind)

    @property
    def wal_dir(self) -> str:
        return os.path.join(self.root, WAL_DIR)

    def backup_dir(self, kind: str, backup_id: str) -> str:
        return os.path.join(self.kind_dir(kind), backup_id)

    def exists(self) -> bool:
        return os.path.isdir(self.root)

    def ensure_layout(self, wal_owner: int | None = None) -> list[str]:
        """Create the root and its kind directories; the paths created."""
        created = []
        for path in [self.root] + [self.kind_dir(k) for k in KINDS] + [self.wal_dir]:
            if not os.path.isdir(path):
                try:
                    os.makedirs(path, mode=0o750)
                except OSError as exc:
                    raise PgdockError(f"cannot create repository directory {path}: {exc.strerror}") from None
                created.append(path)
        if wal_owner is not None:
            os.chown(self.wal_dir, wal_owner, wal_owner)
        return created

    # -- catalogue -------------------------------------------------------------------------------
    def catalogue(self, kind: str | None = None) -> list[dict]:
        """Labels of every complete backup (of `kind`), oldest first."""
        labels = []
        for each in [kind] if kind else KINDS:
            directory = self.kind_dir(each)
            if not os.path.isdir(directory):
                continue
            for name in sorted(os.listdir(directory)):
                label = read_label(os.path.join(directory, name))
                if label is not None and label.get("kind") == each and label.get("id") == name:
                    labels.append(label)
        return sorted(labels, key=lambda lab: (lab.get("stop_time") or "", lab["id"]))

    def incomplete(self) -> list[str]:
        """Backup directories without a label: interrupted or still running ('<kind>/<id>')."""
        found = []
        for kind in KINDS:
            directory = self.kind_dir(kind)
            if os.path.isdir(directory):
                found += [f"{kind}/{n}" for n in sorted(os.listdir(directory))
                          if os.path.isdir(os.path.join(directory, n))
                          and read_label(os.path.join(directory, n)) is None]
        return found

    def find(self, backup_id: str) -> dict:
        """The label of a catalogued backup; PgdockError when there is none."""
        for label in self.catalogue():
            if label["id"] == backup_id:
                return label
        raise PgdockError(f"backup {backup_id!r} is not in the catalogue of repository {self.root} "
                          "(missing, or interrupted before its label was written)")

    def chain(self, backup_id: str) -> list[dict]:
        """The backups a physical restore of `backup_id` needs: its full, then each incremental."""
        labels = {lab["id"]: lab for lab in self.catalogue()}
        chain, current = [], labels.get(backup_id)
        if current is None:
            raise PgdockError(f"backup {backup_id!r} is not in the catalogue of repository {self.root}")
        while current is not None:
            chain.insert(0, current)
            parent = current.get("parent")
            if not parent:
                break
            if parent not in labels:
                raise PgdockError(f"backup {current['id']!r} is incremental on {parent!r}, which is not in "
                                  "the catalogue: the chain is broken and cannot be restored")
            current = labels[parent]
        if chain[0]["kind"] != "full":
            raise PgdockError(f"the chain of backup {backup_id!r} does not start with a full backup")
        return chain

    def latest(self, kinds=PHYSICAL_KINDS, before: datetime | None = None,
               before_lsn: int | None = None) -> dict | None:
        """The newest backup of one of `kinds` (finished no later than `before`, its WAL ending no
        later than the position `before_lsn`), or None."""
        found = [lab for lab in self.catalogue() if lab["kind"] in kinds
                 and (before is None or parse_time(lab["stop_time"]) <= before)
                 and (before_lsn is None or (lab.get("stop_lsn") and lsn_to_int(lab["stop_lsn"]) <= before_lsn))]
        return found[-1] if found else None

    def latest_chain(self, major: int) -> list[dict] | None:
        """The newest physical backup of PostgreSQL `major` whose chain is complete, as that chain
        (full first); None when the repository holds none. A backup whose parent is gone is passed
        over for an older one."""
        for label in reversed(self.catalogue()):
            if label["kind"] not in PHYSICAL_KINDS or label.get("major") != major:
                continue
            try:
                return self.chain(label["id"])
            except PgdockError:
                continue
        return None

    # -- what the last verification found -------------------------------------------------------
    def problems_record(self) -> dict:
        """The problems the last verification found ({"checked_at", "backups": {id: [problem]}, "wal"}),
        {} when it found none (or none ran)."""
        try:
            with open(os.path.join(self.root, PROBLEMS_FILE), encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def record_problems(self, record: dict) -> None:
        """Keep `record` (see problems_record) in the repository; an empty one removes the file."""
        path = os.path.join(self.root, PROBLEMS_FILE)
        try:
            if record:
                write_json(self.root, PROBLEMS_FILE, record)
            elif os.path.exists(path):
                os.unlink(path)
        except OSError as exc:
            raise PgdockError(f"cannot write {path}: {exc.strerror}") from None

    def remove_backup(self, label: dict) -> None:
        """Delete a backup: its label first, so a half-deleted backup is never catalogued."""
        directory = self.backup_dir(label["kind"], label["id"])
        os.unlink(os.path.join(directory, LABEL_FILE))
        shutil.rmtree(directory)


# -- labels and sums ---------------------------------------------------------------------------
def read_label(directory: str) -> dict | None:
    """A backup's label, or None when it has none (or an unreadable one)."""
    try:
        with open(os.path.join(directory, LABEL_FILE), encoding="utf-8") as handle:
            label = json.load(handle)
    except (OSError, ValueError):
        return None
    return label if isinstance(label, dict) else None


def write_label(directory: str, label: dict) -> None:
    """Write label.json atomically (temporary file, fsync, rename, fsync of the directory)."""
    try:
        write_json(directory, LABEL_FILE, dict(label, format=LABEL_FORMAT))
    except OSError as exc:
        raise PgdockError(f"cannot write the label of {directory}: {exc.strerror}; the backup is not "
                          "catalogued") from None


def write_json(directory: str, name: str, data: dict) -> None:
    """`data` as `directory`/`name` (0640), atomically: temporary file, fsync, rename, fsync of the
    directory. OSError when it cannot be written (nothing is left behind)."""
    text = json.dumps(data, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".label-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, os.path.join(directory, name))
    except OSError:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def fsync_dir(directory: str) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_files(directory: str) -> list[str]:
    """Files of a backup relative to its directory, sorted (without the sums and the label)."""
    found = []
    for base, _dirs, files in os.walk(directory):
        for name in files:
            rel = os.path.relpath(os.path.join(base, name), directory)
            if rel not in (SUMS_FILE, LABEL_FILE) and not name.startswith(".label-"):
                found.append(rel)
    return sorted(found)


def sha256_of(path: str) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def write_sums(directory: str) -> dict:
    """Write SHA256SUMS (sha256sum format) for every file of the backup; {file: size}."""
    sizes, lines = {}, []
    for rel in backup_files(directory):
        path = os.path.join(directory, rel)
        lines.append(f"{sha256_of(path)}  {rel}\n")
        sizes[rel] = os.path.getsize(path)
    try:
        with open(os.path.join(directory, SUMS_FILE), "w", encoding="utf-8") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise PgdockError(f"cannot write {SUMS_FILE} in {directory}: {exc.strerror}; the backup is not "
                          "catalogued") from None
    return sizes


def read_sums(directory: str) -> dict:
    """{file: sha256} from SHA256SUMS; PgdockError when it is missing."""
    try:
        with open(os.path.join(directory, SUMS_FILE), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        raise PgdockError(f"{os.path.join(directory, SUMS_FILE)} is missing: the backup cannot be verified") from None
    sums = {}
    for line in lines:
        digest, _sep, name = line.partition("  ")
        if name:
            sums[name] = digest
    return sums


def sum_problems(directory: str) -> list[tuple[str, str]]:
    """(file, what is wrong with it) for every file of a backup that does not match its
    SHA256SUMS; the file relative to the backup's directory."""
    try:
        expected = read_sums(directory)
    except PgdockError:
        return [(SUMS_FILE, "missing: the backup cannot be verified")]
    problems = []
    for name, digest in sorted(expected.items()):
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            problems.append((name, "missing"))
        elif sha256_of(path) != digest:
            problems.append((name, "sha256 mismatch (corrupt)"))
    problems += [(name, f"not listed in {SUMS_FILE}") for name in backup_files(directory) if name not in expected]
    return problems


def verify_sums(directory: str) -> list[str]:
    """Problems found when checking a backup against its SHA256SUMS, each naming the file."""
    return [f"{os.path.join(directory, name)}: {what}" for name, what in sum_problems(directory)]


def check_backup(repo: Repository, label: dict) -> None:
    """Raise a PgdockError naming every bad file of a catalogued backup."""
    problems = verify_sums(repo.backup_dir(label["kind"], label["id"]))
    if problems:
        raise PgdockError(f"backup {label['id']} failed its sha256 check, refusing to restore it: "
                          + "; ".join(problems), bad_files=problems)


def manifest_wal_range(manifest_text: str) -> dict:
    """Timeline and start/end LSN of a backup_manifest (its WAL-Ranges)."""
    try:
        ranges = json.loads(manifest_text)["WAL-Ranges"]
    except (ValueError, KeyError, TypeError):
        raise PgdockError("backup_manifest is not valid JSON with WAL-Ranges") from None
    return {"timeline": ranges[-1]["Timeline"], "start_lsn": ranges[0]["Start-LSN"],
            "stop_lsn": ranges[-1]["End-LSN"]}

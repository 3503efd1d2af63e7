"""Catalogued backups made on disk without Docker, for the unit tests of restores."""

from __future__ import annotations

import os

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import (
    Repository,
    write_label,
    write_sums,
)


def add_backup(repo: Repository, backup_id: str, stop_time: str, kind: str = "full", parent=None,
               **label) -> None:
    """A backup of one small file with its SHA256SUMS and label; `label` adds fields to the label."""
    directory = repo.backup_dir(kind, backup_id)
    os.makedirs(directory)
    with open(os.path.join(directory, "base.tar.gz"), "wb") as handle:
        handle.write(backup_id.encode())
    write_sums(directory)
    write_label(directory, dict(kind=kind, id=backup_id, parent=parent, stop_time=stop_time, **label))

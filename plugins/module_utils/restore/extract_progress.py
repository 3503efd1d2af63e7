# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How far the extraction of a backup chain got, from GNU tar's checkpoints: the helper's tar prints
a CHECKPOINT_TAG line every `records` records of the uncompressed archive (backup.extract),
and the sizes in each backup's manifest say how large that archive is; a progress line per percent."""

from __future__ import annotations

import json
import os
import re

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.extract import CHECKPOINT_TAG
from ansible_collections.pgdock.postgres.plugins.module_utils.docker.progress import human_bytes

TAR_BLOCK = 512
TAR_RECORD = 20 * TAR_BLOCK  # GNU tar's default blocking factor
LINES_WANTED = 400  # about this many checkpoints in all: enough for each percent, a short helper log
CHECKPOINT_RE = re.compile(re.escape(CHECKPOINT_TAG) + r" (\d+) (\d+)")


def archive_bytes(backup_dir: str) -> int:
    """The uncompressed size of a backup's base.tar, from its manifest: each file's header and
    content in whole tar blocks (pg_wal.tar and directory entries are left out: they are small)."""
    try:
        with open(os.path.join(backup_dir, "backup_manifest"), encoding="utf-8") as handle:
            files = json.load(handle).get("Files") or []
    except (OSError, ValueError):
        return 0
    return sum(TAR_BLOCK + -(-int(f.get("Size") or 0) // TAR_BLOCK) * TAR_BLOCK for f in files)


def checkpoint_records(total: int) -> int:
    """Records between two checkpoints so that the whole chain gives about LINES_WANTED of them."""
    return max(10, total // (TAR_RECORD * LINES_WANTED))


class ExtractWatcher:
    """A run_helper `on_output` callback: the phase's bytes and a progress line at each new percent
    of the chain's extraction. `sizes` are the archive sizes of the chain's backups, full first."""

    def __init__(self, progress, entry: dict, sizes: list[int], records: int):
        self.progress, self.entry, self.sizes, self.records = progress, entry, sizes, records
        self.total = sum(sizes)
        self.percent = -1

    def __call__(self, output: str) -> None:
        found = CHECKPOINT_RE.findall(output)
        if not found or not self.total:
            return
        number, checkpoint = (int(value) for value in found[-1])
        done = sum(self.sizes[:number - 1]) + checkpoint * self.records * TAR_RECORD
        self.report(min(done, self.total), finished=False)

    def finish(self) -> None:
        """The last line (100%) once the helper ended: a small archive ends between two polls."""
        self.report(self.total, finished=True)

    def report(self, done: int, finished: bool) -> None:
        self.entry["bytes"] = done
        # 100% only once tar is done: the estimate leaves out pg_wal.tar and directory entries
        percent = 100 if finished else min(99, done * 100 // self.total) if self.total else 0
        if percent > self.percent:
            self.percent = percent
            self.progress.line(f"{self.entry['phase']} {percent}% ({human_bytes(done)} of {human_bytes(self.total)})")

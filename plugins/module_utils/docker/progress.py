# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Long work made visible: the phases of a task with their durations and bytes (returned in the
result), and a progress file on the Docker host that gets a line when a phase starts, at each
percent step while it runs, and when it ends, so that `tail -f` shows it move."""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import time

# pg_basebackup --progress without a terminal: one line per update, "12345/67890 kB (18%), 0/1 tablespace"
PG_PROGRESS_RE = re.compile(r"(\d+)/(\d+) kB \((\d+)%\)")
UNITS = ("B", "kB", "MB", "GB", "TB")


def human_bytes(count: int | None) -> str:
    """1536 -> '1.5 kB'."""
    if count is None:
        return "?"
    value = float(count)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover - the loop always returns


def last_pg_progress(output: str) -> tuple[int, int, int] | None:
    """(bytes done, bytes in all, percent) of the newest pg_basebackup progress line in `output`."""
    found = PG_PROGRESS_RE.findall(output)
    if not found:
        return None
    done, total, percent = (int(value) for value in found[-1])
    return done * 1024, total * 1024, percent


class Progress:
    """The phases of one task and its progress file (`path`; None writes no file)."""

    def __init__(self, path: str | None, task: str):
        self.path, self.task, self.phases = path, task, []

    def line(self, text: str) -> None:
        """Append one timestamped line to the progress file."""
        if not self.path:
            return
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(f"{stamp} {self.task}: {text}\n")

    @contextlib.contextmanager
    def phase(self, name: str):
        """Time the phase; the yielded dict takes `bytes` (and anything else worth returning)."""
        entry, began = {"phase": name}, time.monotonic()
        self.line(f"{name} started")
        try:
            yield entry
        except BaseException:
            self.line(f"{name} failed after {time.monotonic() - began:.1f} s")
            raise
        entry["seconds"] = round(time.monotonic() - began, 3)
        self.phases.append(entry)
        size = f", {human_bytes(entry['bytes'])}" if entry.get("bytes") is not None else ""
        self.line(f"{name} done in {entry['seconds']:.1f} s{size}")

    def pg_progress_watcher(self, entry: dict):
        """A callback for a helper's output: a line at each new percent of pg_basebackup's progress,
        and the phase's bytes."""
        seen = {"percent": -1}

        def watch(output: str) -> None:
            found = last_pg_progress(output)
            if found is None:
                return
            done, total, percent = found
            entry["bytes"] = done
            if percent > seen["percent"]:
                seen["percent"] = percent
                self.line(f"{entry['phase']} {percent}% ({human_bytes(done)} of {human_bytes(total)})")
        return watch

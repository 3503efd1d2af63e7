# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WAL continuity of a backup repository (pure): which archived segments a physical backup needs to
replay from its end to the newest segment of `wal/`, along the history of the newest timeline, and
which of them are missing.

Recovery reads a segment from the newest timeline of its history that had begun by then: the
segments of timeline T before the switch to T+1, then those of T+1 from the segment that holds
the switch point on (the old timeline's copy of that segment is archived as `.partial`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import (
    WAL_SEGMENT_SIZE,
    lsn_to_int,
    wal_file_name,
    wal_file_position,
    wal_file_timeline,
)

HISTORY_SUFFIX = ".history"


def parse_history(text: str) -> list[tuple[int, int]]:
    """A timeline history file: [(timeline, LSN where it ended)], oldest first."""
    entries = []
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#") or len(words) < 2:
            continue
        try:
            entries.append((int(words[0]), lsn_to_int(words[1])))
        except ValueError:
            continue
    return entries


@dataclass
class Archive:
    """What `wal/` holds: segments as (timeline, segment number), and the history files' entries."""

    segments: set = field(default_factory=set)
    histories: dict = field(default_factory=dict)
    segment_size: int = WAL_SEGMENT_SIZE

    @classmethod
    def from_files(cls, names, read_text, segment_size: int = WAL_SEGMENT_SIZE) -> "Archive":
        """From the file names of wal/ (segments, .partial, .history; others ignored) and
        `read_text(name)`, which reads a history file."""
        archive = cls(segment_size=segment_size)
        for name in names:
            timeline = wal_file_timeline(name)
            if timeline is None or name.endswith(".tmp"):
                continue
            if name.endswith(HISTORY_SUFFIX) and len(name) == 8 + len(HISTORY_SUFFIX):
                archive.histories[timeline] = parse_history(read_text(name))
            elif name[24:] in ("", ".partial"):
                archive.segments.add((timeline, wal_file_position(name, segment_size)))
        return archive

    @property
    def newest(self) -> tuple[int, int] | None:
        """(timeline, segment) of the newest archived segment: the newest timeline's last one."""
        return max(self.segments) if self.segments else None

    def name(self, timeline: int, segment: int) -> str:
        return wal_file_name(timeline, segment, self.segment_size)

    def timeline_path(self, timeline: int) -> list[tuple[int, int, int | None]] | None:
        """[(timeline, begin LSN, end LSN or None)] from the first timeline to `timeline`; None when
        its history file is missing."""
        if timeline == 1:
            return [(1, 0, None)]
        history = self.histories.get(timeline)
        if history is None:
            return None
        path, begin = [], 0
        for parent, end in history:
            path.append((parent, begin, end))
            begin = end
        return path + [(timeline, begin, None)]

    def gaps(self, timeline: int, stop_lsn: str) -> tuple[list[dict], dict]:
        """What a backup ending at `stop_lsn` on `timeline` needs to replay to the newest segment:
        (problems, summary). A problem is {"file": "wal/<name>", "problem": text}; the summary
        says from where to where the archive was checked."""
        newest = self.newest
        if newest is None:
            return [], {"checked": False, "why": "no archived WAL"}
        size = self.segment_size
        first = lsn_to_int(stop_lsn) // size
        summary = {"checked": True, "from": self.name(timeline, first), "to": self.name(*newest)}
        if newest[1] < first:
            return [], dict(summary, checked=False, why="the newest archived segment is older than the backup")
        path = self.timeline_path(newest[0])
        if path is None:
            history = f"{newest[0]:08X}{HISTORY_SUFFIX}"
            return [{"file": f"wal/{history}", "problem": f"missing: the history of timeline {newest[0]} (the "
                     "newest archived WAL) is unknown, so no replay can follow it"}], summary
        steps = [i for i, (tli, _begin, _end) in enumerate(path) if tli == timeline]
        if not steps:
            return [{"file": f"wal/{self.name(*newest)}", "problem": f"the backup's timeline {timeline} is not "
                     f"in the history of timeline {newest[0]} (the newest archived WAL): it cannot replay to it"}], summary
        end = path[steps[0]][2]
        if end is not None and lsn_to_int(stop_lsn) > end:
            return [{"file": f"wal/{self.name(*newest)}", "problem": f"the backup ends at {stop_lsn}, after "
                     f"timeline {timeline} was left for the newest timeline {newest[0]}: it cannot replay to it"}], summary
        missing, needed = [], 0
        for tli, begin, end in path[steps[0]:]:
            span = range(max(first, begin // size), (newest[1] if end is None else end // size - 1) + 1)
            needed += len(span)
            missing += [(tli, seg) for seg in span if (tli, seg) not in self.segments]
        summary["segments"] = needed
        return [self._gap(run) for run in runs(missing)], summary

    def _gap(self, run: list[tuple[int, int]]) -> dict:
        names = [self.name(*each) for each in run]
        span = names[0] if len(names) == 1 else f"{names[0]} to {names[-1]} ({len(names)} segments)"
        return {"file": f"wal/{names[0]}", "problem": f"WAL gap: {span} missing from the archive; a replay "
                "from this backup stops before it"}


def runs(items: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Consecutive segments of one timeline grouped: [(1, 5), (1, 6), (2, 9)] -> [[(1, 5), (1, 6)], [(2, 9)]]."""
    grouped: list[list[tuple[int, int]]] = []
    for item in items:
        if grouped and grouped[-1][-1][0] == item[0] and grouped[-1][-1][1] + 1 == item[1]:
            grouped[-1].append(item)
        else:
            grouped.append([item])
    return grouped

# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retention of a backup repository, as pure logic on catalogue labels.

Default policy: keep every backup for 14 days; fulls and incrementals (the bases
of point-in-time recovery) up to 42 days; only fulls after that; always at least 2 fulls. A backup
that a kept incremental chain needs, or that the point-in-time window needs, is never deleted, and
WAL older than the oldest kept physical backup is pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ansible_collections.pgdock.postgres.plugins.module_utils.backup.repository import PHYSICAL_KINDS
from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import (
    WAL_SEGMENT_SIZE,
    lsn_to_int,
    parse_time,
    wal_file_position,
)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each tier keeps which kinds; None for max_days keeps fulls forever."""

    keep_all_days: int = 14
    keep_bases_days: int = 42
    max_days: int | None = None
    min_fulls: int = 2
    pitr_days: int | None = None  # defaults to keep_all_days


def plan_retention(labels: list[dict], now: datetime, policy: RetentionPolicy = RetentionPolicy()) -> dict:
    """{'keep': [ids], 'delete': [ids], 'reasons': {id: why kept}} for catalogue `labels`."""
    by_id = {lab["id"]: lab for lab in labels}
    reasons: dict[str, str] = {}
    for lab in labels:
        age = now - parse_time(lab["stop_time"])
        if age <= timedelta(days=policy.keep_all_days):
            reasons[lab["id"]] = f"younger than {policy.keep_all_days} days"
        elif lab["kind"] in PHYSICAL_KINDS and age <= timedelta(days=policy.keep_bases_days):
            reasons[lab["id"]] = f"{lab['kind']} younger than {policy.keep_bases_days} days"
        elif lab["kind"] == "full" and (policy.max_days is None or age <= timedelta(days=policy.max_days)):
            reasons[lab["id"]] = "full backup"
    fulls = sorted((lab for lab in labels if lab["kind"] == "full"), key=_stop)
    for lab in fulls[-policy.min_fulls:] if policy.min_fulls else []:
        reasons.setdefault(lab["id"], f"one of the {policy.min_fulls} newest fulls")
    window_start = now - timedelta(days=policy.keep_all_days if policy.pitr_days is None else policy.pitr_days)
    bases = [lab for lab in labels if lab["kind"] in PHYSICAL_KINDS and parse_time(lab["stop_time"]) <= window_start]
    if bases:
        reasons.setdefault(max(bases, key=_stop)["id"], "base of the point-in-time window")
    for backup_id in list(reasons):
        parent = by_id[backup_id].get("parent")
        while parent and parent in by_id:
            reasons.setdefault(parent, f"in the chain of {backup_id}")
            parent = by_id[parent].get("parent")
    ordered = sorted(labels, key=_stop)
    return {"keep": [lab["id"] for lab in ordered if lab["id"] in reasons],
            "delete": [lab["id"] for lab in ordered if lab["id"] not in reasons],
            "reasons": reasons}


def wal_to_prune(wal_names: list[str], kept: list[dict], segment_size: int = WAL_SEGMENT_SIZE) -> list[str]:
    """WAL segments older than the start of the oldest kept physical backup (none when none is kept)."""
    starts = [lsn_to_int(lab["start_lsn"]) for lab in kept if lab["kind"] in PHYSICAL_KINDS and lab.get("start_lsn")]
    if not starts:
        return []
    oldest = min(starts) // segment_size
    positions = {n: wal_file_position(n, segment_size) for n in wal_names}
    return sorted(n for n, pos in positions.items() if pos is not None and pos < oldest)


def _stop(label: dict) -> datetime:
    return parse_time(label["stop_time"])

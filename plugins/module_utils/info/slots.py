# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The info module's `slots` section: every replication slot with the WAL it retains, and the
inactive ones as warnings (an inactive slot keeps WAL until the disk is full)."""

from __future__ import annotations

from ansible_collections.pgdock.postgres.plugins.module_utils.pg.lsn import iso

# columns of pg_replication_slots that not every version has: (first server_version_num, column)
VERSIONED_COLUMNS = (
    (140000, "two_phase"),
    (160000, "conflicting"),
    (170000, "inactive_since"),
    (170000, "invalidation_reason"),
    (170000, "failover"),
    (170000, "synced"),
)
# on a standby, what it has received (or replayed, when it streams no more) stands for the current WAL
SLOTS_QUERY = """
    select slot_name, slot_type, plugin, database, temporary, active, active_pid, wal_status,
           safe_wal_size::bigint as safe_wal_size, restart_lsn::text as restart_lsn,
           confirmed_flush_lsn::text as confirmed_flush_lsn,
           case when restart_lsn is null then null
                when pg_is_in_recovery()
                     then pg_wal_lsn_diff(greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), restart_lsn)::bigint
                else pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint end as retained_bytes{extra}
    from pg_replication_slots order by slot_name"""


def slot_facts(g) -> dict:
    """Every replication slot (version-dependent columns where the server has them), and a summary."""
    extra = "".join(f", {column}" for since, column in VERSIONED_COLUMNS if g.session.version >= since)
    slots = g.session.rows(SLOTS_QUERY.format(extra=extra), dicts=True)
    for slot in slots:
        if slot.get("inactive_since") is not None:
            slot["inactive_since"] = iso(slot["inactive_since"])
    return dict(slots=slots, **slot_summary(slots))


def slot_summary(slots: list) -> dict:
    """The inactive slots, the WAL they retain together, and the warnings: each inactive slot, and
    each slot whose WAL was already removed (wal_status lost)."""
    inactive = [s for s in slots if not s.get("active")]
    warnings = [
        f"replication slot {s['slot_name']!r} ({s.get('slot_type')}) is inactive and retains "
        f"{human_bytes(s.get('retained_bytes'))} of WAL: the server keeps that WAL until the slot's consumer "
        "comes back or the slot is dropped (pg_drop_replication_slot), so it can fill the disk"
        for s in inactive
    ]
    warnings += [f"replication slot {s['slot_name']!r} has lost WAL it needs (wal_status lost): its consumer "
                 "cannot resume from it; drop it and rebuild the consumer" for s in slots if s.get("wal_status") == "lost"]
    return {"inactive": [s["slot_name"] for s in inactive],
            "inactive_retained_bytes": sum(s.get("retained_bytes") or 0 for s in inactive),
            "warnings": warnings}


def human_bytes(value) -> str:
    """A size for a message: '0 B', '16.0 MiB'; 'an unknown amount' for None."""
    if value is None:
        return "an unknown amount"
    size, unit = float(value), "B"
    for larger in ("KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024:
            break
        size, unit = size / 1024, larger
    return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"

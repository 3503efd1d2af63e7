# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The last steps of a planned switch to a standby, shared by the switchover and the migrate
module's physical method: wait until the standby has replayed past a WAL position the old primary
wrote last (its shutdown or final checkpoint), then promote it and wait until it takes writes."""

from __future__ import annotations

import time

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError


def wait_replayed_past(session, lsn: str, name: str, timeout: float, what: str = "checkpoint") -> float:
    """Poll the standby `session` until its replay LSN is beyond `lsn`; the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        row = session.row("select pg_last_wal_replay_lsn() > %s::pg_lsn, pg_last_wal_replay_lsn()::text", (lsn,))
        if row[0]:
            return round(time.monotonic() - start, 3)
        if time.monotonic() > deadline:
            raise PgdockError(f"{name!r} did not replay the {what} ({lsn}) within {timeout} s (it is at {row[1]})")
        time.sleep(0.02)


def promote(session, name: str, timeout: float) -> None:
    """pg_promote without its own wait (it polls every 100 ms), then poll more often here."""
    if not session.value("select pg_promote(false)"):
        raise PgdockError(f"pg_promote on {name!r} was refused")
    deadline = time.monotonic() + timeout
    while session.value("select pg_is_in_recovery()"):
        if time.monotonic() > deadline:
            raise PgdockError(f"{name!r} did not finish its promotion within {timeout} s")
        time.sleep(0.01)

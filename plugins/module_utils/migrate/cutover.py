# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The switch of clients from the source to the target, the same for every method: PAUSE the
application's pooler (when there is one: in-flight transactions finish, new ones wait), stop writes
on the source (fence.py), let the method catch the target up and make it the primary, repoint the
pooler to the target and RESUME. Any failure before the repoint lets the source take writes again
and resumes the pooler on it."""

from __future__ import annotations

import contextlib
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.migrate.fence import fence, unfence
from ansible_collections.pgdock.postgres.plugins.module_utils.runner import timed


class Cutover:
    """One cutover. `run` is the MigrateRun (its pooler, log, target name and options). The server
    left is the source and the pooler goes to the target, unless `switch_to` ((host, port) as the
    pooler reaches the new server) and `side` (the server left, "source" or "target") say otherwise:
    a revert leaves the target for the source. `fenced_key`: the state key that records the fence."""

    def __init__(self, run, source_session, switch_to: tuple | None = None, side: str = "source",
                 fenced_key: str = "fenced"):
        self.run = run
        self.source = source_session
        self.switch_to = switch_to or (run.name, 5432)
        self.side, self.fenced_key = side, fenced_key
        self.timings: dict = {}

    def switch(self, catch_up, pause_during_catch_up: bool = True, spare=()) -> dict:
        """Pause, fence, `catch_up()` (the method's wait and promotion), repoint, resume; the timings,
        with `write_downtime_seconds` (from the fence until the target took writes and, with a
        pooler, the clients reached it). Without `pause_during_catch_up` (a copy that takes minutes:
        clients must not wait that long) the pooler is paused only around its repoint, and clients
        see read-only errors for writes meanwhile. `spare`: pids of the method's own sessions on the
        source, left open by the fence."""
        pooler = self.run.pooler
        if pooler is not None and pause_during_catch_up:
            self._pause(pooler)
        fenced_at = time.monotonic()
        try:
            ended = timed(self.timings, "fence", fence, self.source, spare)
            self.run.save_state(**{self.fenced_key: True})
            self.run.log.add(f"made the {self.side} read-only for new transactions and ended {ended} client sessions")
            timed(self.timings, "catch_up", catch_up)
        except Exception as exc:  # pylint: disable=broad-except  # every failure before the repoint rolls back
            self._roll_back(exc)
        if pooler is not None:
            if not pause_during_catch_up:
                self._pause(pooler)
            try:
                timed(self.timings, "repoint", pooler.repoint, *self.switch_to)
                self.run.log.add(f"repointed pooler {pooler.container.name} to {self.switch_to[0]}")
            finally:
                timed(self.timings, "resume", pooler.admin.resume)
                self.run.log.add(f"resumed pooler {pooler.container.name}")
        self.timings["write_downtime_seconds"] = round(time.monotonic() - fenced_at, 3)
        return self.timings

    def _pause(self, pooler) -> None:
        timed(self.timings, "pause", pooler.admin.pause, self.run.p["pause_timeout"])
        self.run.log.add(f"paused pooler {pooler.container.name}")

    def _roll_back(self, cause: Exception) -> None:
        reason = str(cause).strip() or type(cause).__name__
        problems = []
        try:
            unfence(self.source)
            self.run.save_state(**{self.fenced_key: False})
        except Exception as exc:  # pylint: disable=broad-except
            problems.append(f"the {self.side} could not be made writable again ({exc}): run "
                            "ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf() on it")
        if self.run.pooler is not None:
            with contextlib.suppress(Exception):
                self.run.pooler.admin.resume()
        if problems:
            raise PgdockError(f"cutover aborted before the clients were switched ({reason}), and "
                              + "; ".join(problems), actions=self.run.log.actions, timings=self.timings) from None
        raise PgdockError(f"cutover aborted before the clients were switched: {reason}. Rolled back: the "
                          f"{self.side} takes writes again" + (" and the pooler resumed on it" if self.run.pooler
                                                               else ""),
                          actions=self.run.log.actions, timings=self.timings) from None

# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes stopped on a source that is not ours to shut down: default_transaction_read_only for
every new transaction (a reload reaches the open sessions too), then the client sessions still in a
transaction ended; and undone when a cutover rolls back or a migration is aborted."""

from __future__ import annotations

# client backends other than this one and those spared; walsenders (streaming, subscriptions) are left alone
TERMINATE_SQL = """select count(pg_terminate_backend(pid)) from pg_stat_activity
                   where pid <> pg_backend_pid() and backend_type = 'client backend' and pid <> all(%s::int[])"""


def fence(session, spare=()) -> int:
    """Make the source read-only for new transactions and end the other client sessions but the
    `spare` ones (pids of the migration's own; their open transactions roll back, nothing
    acknowledged is lost); how many were ended. This session may still write (it turns the default
    off for itself)."""
    session.run("alter system set default_transaction_read_only = on", what="fencing the source")
    session.reload_and_wait()
    session.run("set default_transaction_read_only = off", what="fencing the source")
    return int(session.value(TERMINATE_SQL, [list(spare)], what="ending the source's client sessions") or 0)


def unfence(session) -> None:
    """Let the source take writes again."""
    session.run("alter system reset default_transaction_read_only", what="letting the source take writes again")
    session.reload_and_wait()


def is_fenced(session) -> bool:
    """Whether new transactions on the source are read-only by default (the value a session resets
    to: the server's configuration, whatever this session set for itself)."""
    return bool(session.value("select reset_val = 'on' from pg_settings where name = 'default_transaction_read_only'"))

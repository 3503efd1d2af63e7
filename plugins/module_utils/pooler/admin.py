# -*- coding: utf-8 -*-
# Copyright: pgdock.postgres developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PgBouncer's admin console, reached on the pooler's port published on 127.0.0.1: SHOW, RELOAD,
PAUSE with a deadline (RESUME when it passes) and RESUME."""

from __future__ import annotations

import select
import time

from ansible_collections.pgdock.postgres.plugins.module_utils.errors import PgdockError
from ansible_collections.pgdock.postgres.plugins.module_utils.pooler.config import ADMIN_USER

try:
    import psycopg2
    import psycopg2.extensions
except ImportError:  # pragma: no cover - run_engine reports the missing library
    pass


class PoolerAdmin:
    """Admin console connections of one PgBouncer (host, port, the module's admin password)."""

    def __init__(self, host: str, port: int, password: str, connect_timeout: int = 5, ssl: dict | None = None):
        """`ssl`: libpq's TLS parameters (config.admin_ssl), plaintext by default."""
        self.params = dict(host=host, port=port, user=ADMIN_USER, password=password, dbname="pgbouncer",
                           connect_timeout=connect_timeout, application_name="pgdock.postgres",
                           **(ssl or {"sslmode": "disable"}))

    def _connect(self, **extra):
        try:
            conn = psycopg2.connect(**self.params, **extra)
        except psycopg2.Error as exc:
            raise PgdockError(f"the pooler's admin console at {self.params['host']}:{self.params['port']} "
                              f"does not answer: {str(exc).strip()}") from None
        if not extra.get("async_"):
            conn.autocommit = True
        return conn

    def command(self, statement: str) -> list[dict]:
        """Run one console command; its rows as dicts (SHOW) or [] (RELOAD, RESUME...)."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                if cur.description is None:
                    return []
                names = [c.name for c in cur.description]
                return [dict(zip(names, row)) for row in cur.fetchall()]
        except psycopg2.Error as exc:
            raise PgdockError(f"pooler console {statement!r} failed: {str(exc).strip()}") from None
        finally:
            conn.close()

    def wait_ready(self, timeout: float) -> None:
        """Wait until the console answers SHOW VERSION."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.command("SHOW VERSION")
                return
            except PgdockError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def pause(self, timeout: float) -> float:
        """PAUSE every database: returns once PgBouncer has released all server connections (running
        transactions finished). After `timeout` seconds it sends RESUME and raises. Seconds taken."""
        start = time.monotonic()
        conn = self._connect(async_=1)
        try:
            if not _wait_async(conn, start + timeout):
                raise PgdockError(f"the pooler's admin console did not answer within {timeout} s; nothing was paused")
            with conn.cursor() as cur:
                cur.execute("PAUSE")
                if not _wait_async(conn, start + timeout):
                    self.command("RESUME")
                    raise PgdockError(
                        f"PAUSE did not complete within {timeout} s (transactions still running through the "
                        "pooler); clients were resumed on the current primary and nothing was changed")
        except psycopg2.Error as exc:
            raise PgdockError(f"pooler console PAUSE failed: {str(exc).strip()}") from None
        finally:
            conn.close()
        return time.monotonic() - start

    def resume(self) -> None:
        """RESUME; a pooler that is not paused answers with an error, which is fine here."""
        try:
            self.command("RESUME")
        except PgdockError as exc:
            if "not paused" not in str(exc):
                raise


def _wait_async(conn, deadline: float) -> bool:
    """Drive an asynchronous psycopg2 connection until its operation completes; False at the deadline."""
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if state == psycopg2.extensions.POLL_READ:
            select.select([conn.fileno()], [], [], min(remaining, 0.5))
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [], min(remaining, 0.5))

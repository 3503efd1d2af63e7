"""SQL from the tests (and benchmarks) to servers and poolers published on 127.0.0.1, and free ports there."""

from __future__ import annotations

import socket
import time

import psycopg2


def sql(port: int, password: str | None, query: str, params=None, user: str = "postgres", dbname: str = "postgres",
        host: str = "127.0.0.1"):
    """Run one statement in autocommit; its rows (None when it returns none). `host` may be a socket directory."""
    conn = psycopg2.connect(host=host, port=port, user=user, password=password, dbname=dbname,
                            connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def wait_until(predicate, timeout: float = 60, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; that value. AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except psycopg2.Error as exc:
            last_error = exc
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {timeout} s (last error: {last_error})")


def unused_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

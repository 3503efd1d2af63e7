"""A bounded writer load for switchover tests and benchmarks: client threads insert sequence-numbered
rows, one transaction each, and record every acknowledged id with its commit time and latency, and
every failed transaction. A client whose connection breaks reconnects (to wherever `endpoint()`
says at that moment) and carries on.

    load = WriterLoad(endpoint=lambda: ("127.0.0.1", port), user="app", password=pw, dbname="app")
    load.create_table()
    load.start(); ...; load.stop()
    report = load.report(window=(t0, t1)); missing = load.missing(rows_on_new_primary)
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import psycopg2

TABLE = "pgdock_switch_load"


@dataclass
class Ack:
    """An acknowledged insert."""

    row_id: int
    committed_at: float
    latency: float


@dataclass
class WriterLoad:
    """Client threads writing through `endpoint()` (a callable returning (host, port))."""

    endpoint: object
    user: str
    password: str
    dbname: str
    clients: int = 4
    max_seconds: float = 300.0
    max_rows: int = 2_000_000
    think_time: float = 0.002
    tls: dict = field(default_factory=dict)  # libpq TLS parameters (sslmode, sslrootcert...), none by default
    acks: list = field(default_factory=list)
    failures: list = field(default_factory=list)

    def __post_init__(self):
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.started_at = None

    def _connect(self):
        host, port = self.endpoint()
        conn = psycopg2.connect(host=host, port=port, user=self.user, password=self.password,
                                dbname=self.dbname, connect_timeout=5, application_name="pgdock-write-load",
                                **self.tls)
        conn.autocommit = True
        return conn

    def create_table(self) -> None:
        """The table the clients insert into (id primary key, client number, commit time)."""
        conn = self._connect()
        with conn.cursor() as cur:
            cur.execute(f"create table if not exists {TABLE} (id bigint primary key, client int, "
                        "at timestamptz default clock_timestamp())")
        conn.close()

    def start(self) -> None:
        """Start the client threads."""
        self.started_at = time.monotonic()
        for number in range(self.clients):
            thread = threading.Thread(target=self._client, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the clients and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _client(self, number: int) -> None:
        conn = None
        deadline = self.started_at + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            row_id = next(self._ids)
            if row_id > self.max_rows:
                return
            start = time.monotonic()
            try:
                if conn is None:
                    conn = self._connect()
                with conn.cursor() as cur:
                    cur.execute(f"insert into {TABLE} (id, client) values (%s, %s)", (row_id, number))
                done = time.monotonic()
                with self._lock:
                    self.acks.append(Ack(row_id, done, done - start))
            except psycopg2.Error as exc:
                with self._lock:
                    self.failures.append((time.monotonic(), row_id, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
            if self.think_time:
                time.sleep(self.think_time)
        if conn is not None:
            conn.close()

    def wait_for_acks(self, count: int, timeout: float = 60) -> None:
        """Block until at least `count` inserts were acknowledged."""
        deadline = time.monotonic() + timeout
        while len(self.acks) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.acks)} writes acknowledged within {timeout} s; "
                                     f"failures: {self.failures[-3:]}")
            time.sleep(0.05)

    def acked_ids(self) -> set[int]:
        """Ids whose insert was acknowledged."""
        with self._lock:
            return {ack.row_id for ack in self.acks}

    def missing(self, present_ids) -> list[int]:
        """Acknowledged ids absent from `present_ids` (lost writes), sorted."""
        return sorted(self.acked_ids() - set(present_ids))

    def report(self, window: tuple[float, float] | None = None) -> dict:
        """Figures: acknowledged, failed, longest gap between acknowledged commits, and p99/max
        latency of the inserts committed in `window` (monotonic start, end) when given."""
        with self._lock:
            acks = sorted(self.acks, key=lambda a: a.committed_at)
            failures = list(self.failures)
        times = [a.committed_at for a in acks]
        gap = max((b - a for a, b in zip(times, times[1:])), default=0.0)
        # with a window: the inserts whose lifetime overlaps it (those waiting when it opened too)
        in_window = [a.latency for a in acks
                     if window is None or (a.committed_at >= window[0] and a.committed_at - a.latency <= window[1])]
        in_window.sort()
        p99 = in_window[min(len(in_window) - 1, int(len(in_window) * 0.99))] if in_window else 0.0
        return {"acknowledged": len(acks), "failed": len(failures), "write_pause_s": round(gap, 3),
                "p99_latency_s": round(p99, 3), "max_latency_s": round(max(in_window, default=0.0), 3),
                "first_failures": [f[2] for f in failures[:3]]}

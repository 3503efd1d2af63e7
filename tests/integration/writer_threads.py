"""A bounded write load for the migrate tests: writer threads started and stopped as a context
manager, each acknowledged commit recorded by the subclass in `acked` under `lock`."""

from __future__ import annotations

import threading


class WriterThreads:
    """`count` threads running `self._write(writer)`; leaving the block stops and joins them
    (each at most `join_seconds`)."""

    join_seconds = 30

    def __init__(self, count: int):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: list = []
        self.threads = [threading.Thread(target=self._write, args=(w,), daemon=True) for w in range(count)]

    def _write(self, writer: int) -> None:
        raise NotImplementedError

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(self.join_seconds)

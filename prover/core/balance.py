"""Spreading requests over several equivalent servers: the least busy first, ties round-robin
(model base URLs, Kimina Lean Servers). No I/O: callers say when a request starts and ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class LeastBusy:
    """Which of ``n`` servers to use next: the one with the fewest requests in flight; ties go
    round-robin so that idle servers share the load. Thread-safe."""

    def __init__(self, n: int):
        if n < 1:
            raise ValueError("LeastBusy needs at least one server")
        self.load = [0] * n
        """Requests in flight, per server."""
        self._next = 0
        self._lock = threading.Lock()

    def acquire(self) -> int:
        """The index of the server to use; the caller must ``release`` it."""
        with self._lock:
            n = len(self.load)
            start = self._next
            self._next = (start + 1) % n
            best = start
            for j in range(1, n):
                i = (start + j) % n
                if self.load[i] < self.load[best]:
                    best = i
            self.load[best] += 1
            return best

    def release(self, i: int) -> None:
        with self._lock:
            self.load[i] -= 1

    @contextmanager
    def using(self) -> Iterator[int]:
        i = self.acquire()
        try:
            yield i
        finally:
            self.release(i)

"""The thread through which a search reads and writes the proof database.

Hundreds of proofs and analyses arrive per second in a large run; one transaction each, on the
event loop, would stall it. As the model client's call writer does (datasette's pattern), one
thread owns the store's work: the loop queues operations and awaits futures, and the thread
drains the queue each time round, waiting a little while rows keep coming, and inserts them all in
one transaction. Rows are written in the background: a proof's verifications are sent before its
row is stored, and only their own rows wait for its id."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import defaultdict
from typing import Any, Callable

from prover.core.errors import StoreError

_STOP = object()
_TICK = 0.002


class StoreWorker:
    """Runs store operations on one thread, batching row inserts."""

    def __init__(self, store: Any, *, linger_s: float = 0.05):
        self.store = store
        self.linger_s = linger_s
        """The longest the thread waits for more rows before committing."""
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0
        """Insert transactions (for benchmarks)."""

    def _start(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._thread is None:
            self._loop = loop
            self._thread = threading.Thread(target=self._work, name="prover-informal-writer", daemon=True)
            self._thread.start()
        return loop

    async def add(self, kind: str, row: dict[str, Any], call_key: str) -> int:
        """Store one row made by the model call ``call_key``; returns its id (the existing row's
        id when that call has one already)."""
        fut = self._start().create_future()
        self._queue.put(("add", kind, (row, call_key), fut))
        return await fut

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` on the thread, after the operations queued before it."""
        fut = self._start().create_future()
        self._queue.put(("run", fn, (args, kwargs), fut))
        return await fut

    async def aclose(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    # -- the thread ---------------------------------------------------------------------------

    def _work(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            stop = self._drain(batch)
            # Rows come in bursts (a round's answers): while more keep coming, wait a little (up
            # to linger_s) so that one transaction takes many; a lone write is committed at once.
            # Sleep rather than wait on the queue, which would wake this thread at every put.
            deadline = time.monotonic() + self.linger_s
            while not stop and item[0] == "add" and time.monotonic() < deadline:
                time.sleep(_TICK)
                before = len(batch)
                stop = self._drain(batch)
                if len(batch) == before:
                    break
            outcomes = self._process(batch)
            try:
                self._loop.call_soon_threadsafe(_resolve, outcomes)  # type: ignore[union-attr]
            except RuntimeError:  # the loop is closed: nobody waits any more
                return

    def _drain(self, batch: list) -> bool:
        """Move what is queued into ``batch``; True when the stop marker was met."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.append(item)

    def _process(self, batch: list[tuple]) -> list[tuple[asyncio.Future, Any, BaseException | None]]:
        outcomes: list[tuple[asyncio.Future, Any, BaseException | None]] = []
        groups: dict[str, list[tuple]] = defaultdict(list)
        for op, what, payload, fut in batch:
            if op == "add":
                groups[what].append((payload, fut))
        if groups:
            try:
                ids = self.store.add_informal_rows({kind: ([p[0] for p, _ in items], [p[1] for p, _ in items])
                                                    for kind, items in groups.items()})
                self.commits += 1
                for kind, items in groups.items():
                    outcomes.extend((fut, i, None) for (_, fut), i in zip(items, ids[kind]))
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                err = exc if isinstance(exc, StoreError) else StoreError(f"cannot store rows: {exc}")
                outcomes.extend((fut, None, err) for items in groups.values() for _, fut in items)
        for op, fn, payload, fut in batch:
            if op != "run":
                continue
            args, kwargs = payload
            try:
                outcomes.append((fut, fn(*args, **kwargs), None))
            except Exception as exc:  # noqa: BLE001
                outcomes.append((fut, None, exc))
        return outcomes


def _resolve(outcomes: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for fut, value, exc in outcomes:
        if fut.done():
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

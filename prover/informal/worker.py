"""The thread through which a search reads and writes the proof database.

Hundreds of proofs and analyses arrive per second in a large run; one transaction each, on the
event loop, would stall it. As the model client's call writer does (datasette's pattern), one
thread owns the store's work: the loop queues operations and awaits futures, and the thread
drains the queue each time round and inserts every queued row in one transaction.

Nothing waits for a row to be stored until a search ends a round (a proof's verifications are sent
before its row exists; their rows name it by the key of the call that made it). So rows may wait:
after a first row the thread collects more for up to ``linger_s`` — answers trickle in when
latencies are long, and one commit per row would cost more CPU than the rest of a call — and
commits at once when someone waits (``flush``, or any ``run``). A crash loses at most the rows
of that last second; their answers are in the call cache, so the same command writes them again
without sending anything."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import defaultdict
from typing import Any, Callable

from prover.core.errors import StoreError

_STOP = object()
_TICK = 0.05


class StoreWorker:
    """Runs store operations on one thread, batching row inserts."""

    def __init__(self, store: Any, *, linger_s: float = 1.0):
        self.store = store
        self.linger_s = linger_s
        """The longest a queued row waits for others before they are committed together."""
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

    def add(self, kind: str, row: dict[str, Any], call_key: str) -> asyncio.Future[int]:
        """Queue one row made by the model call ``call_key``; the future gives its id (the
        existing row's id when that call has one already). Call from the event loop."""
        fut = self._start().create_future()
        self._queue.put(("add", kind, (row, call_key), fut))
        return fut

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` on the thread, after the operations queued before it."""
        fut = self._start().create_future()
        self._queue.put(("run", fn, (args, kwargs), fut))
        return await fut

    async def flush(self) -> None:
        """Return once everything queued before is committed."""
        await self.run(_nothing)

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
            # Sleep in ticks rather than wait on the queue, which would wake the thread at
            # every put; stop lingering as soon as an operation someone awaits is queued.
            deadline = time.monotonic() + self.linger_s
            while not stop and all(op[0] == "add" for op in batch) and time.monotonic() < deadline:
                time.sleep(_TICK)
                stop = self._drain(batch)
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


def _nothing() -> None:
    pass


def _resolve(outcomes: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for fut, value, exc in outcomes:
        if fut.done():
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

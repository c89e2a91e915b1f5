"""The call cache as the model client sees it: a small synchronous store protocol, an
in-memory implementation, and the writer thread that batches every read and write.

Why a thread: at hundreds of calls in flight, one SQLite transaction per call would cost more
CPU than the calls themselves and stall the event loop. Following datasette's pattern, one
thread owns the store's connection; the event loop hands it operations through a queue and
awaits a future. Woken by an operation, the thread waits a short window, then takes everything
queued and commits all the writes in one transaction (group commit); every waiting call resumes
once its rows are committed — never before."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from prover.core.errors import StoreError
from prover.core.llm_records import CallRecord


@runtime_checkable
class CallStore(Protocol):
    """Where call records live. ``ProofStore`` implements it on the ``model_calls`` table."""

    def get_calls(self, keys: Sequence[str]) -> dict[str, CallRecord]:
        """The stored records among ``keys`` (missing keys are absent)."""
        ...

    def put_calls(self, records: Sequence[CallRecord]) -> None:
        """Insert or replace records by call key, in one transaction. A replaced row keeps
        its ``created_at``."""
        ...


class MemoryCallStore:
    """A CallStore in a dict: for tests and for runs that keep nothing."""

    def __init__(self) -> None:
        self.records: dict[str, CallRecord] = {}
        self.writes = 0

    def get_calls(self, keys: Sequence[str]) -> dict[str, CallRecord]:
        return {k: self.records[k] for k in keys if k in self.records}

    def put_calls(self, records: Sequence[CallRecord]) -> None:
        for rec in records:
            old = self.records.get(rec.call_key)
            if old is not None and old.created_at is not None:
                rec = rec.model_copy(update={"created_at": old.created_at})
            self.records[rec.call_key] = rec
        self.writes += 1


_STOP = object()


class CallWriter:
    """Runs a CallStore's reads and writes on one thread, batching what queues up."""

    def __init__(self, store: CallStore, *, window_s: float = 0.05):
        self.store = store
        self.window_s = window_s
        """How long the thread gathers operations after the first one before committing: one
        commit costs ~0.2 ms of CPU however few rows it holds, so at a few hundred calls per
        second gathering matters more than the milliseconds it adds to each call."""
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0
        """Transactions committed (for benchmarks)."""

    def _ensure_started(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._thread is None:
            self._loop = loop
            self._thread = threading.Thread(target=self._run, name="prover-call-writer", daemon=True)
            self._thread.start()
        elif loop is not self._loop:
            raise RuntimeError("a CallWriter serves one event loop")
        return loop

    async def get(self, keys: Sequence[str]) -> dict[str, CallRecord]:
        """Stored records among ``keys``."""
        loop = self._ensure_started()
        fut = loop.create_future()
        self._queue.put(("get", keys, fut))
        return await fut

    async def put(self, records: Sequence[CallRecord]) -> None:
        """Store records; returns once they are committed."""
        loop = self._ensure_started()
        fut = loop.create_future()
        self._queue.put(("put", records, fut))
        await fut

    async def aclose(self) -> None:
        """Finish what is queued and stop the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                break
            # Sleep rather than wait on the queue: a waiting thread would be woken (and take
            # the GIL) by every put.
            if self.window_s:
                time.sleep(self.window_s)
            batch = [item]
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            outcomes = self._process(batch)
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(_resolve, batch, outcomes)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                pass

    def _process(self, batch: list[tuple[str, Any, asyncio.Future[Any]]]) -> list[Any]:
        puts = [rec for op, payload, _ in batch if op == "put" for rec in payload]
        failure: BaseException | None = None
        if puts:
            try:
                self.store.put_calls(puts)
                self.batches += 1
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                failure = _store_error("cannot store model calls", exc)
        keys = [k for op, payload, _ in batch if op == "get" for k in payload]
        found: dict[str, CallRecord] = {}
        get_failure: BaseException | None = None
        if keys:
            try:
                found = self.store.get_calls(keys)
            except Exception as exc:  # noqa: BLE001
                get_failure = _store_error("cannot read model calls", exc)
        outcomes: list[Any] = []
        for op, payload, _ in batch:
            if op == "put":
                outcomes.append(failure)
            elif get_failure is not None:
                outcomes.append(get_failure)
            else:
                outcomes.append({k: found[k] for k in payload if k in found})
        return outcomes


def _store_error(what: str, exc: Exception) -> BaseException:
    return exc if isinstance(exc, StoreError) else StoreError(f"{what}: {exc}")


def _resolve(batch: list[tuple[str, Any, asyncio.Future[Any]]], outcomes: list[Any]) -> None:
    for (op, _, fut), outcome in zip(batch, outcomes):
        if fut.done():
            continue
        if isinstance(outcome, BaseException):
            fut.set_exception(outcome)
        else:
            fut.set_result(outcome)

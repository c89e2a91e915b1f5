"""One writer per process: the thread that owns a store's writes (datasette's single-writer pattern).

A run writes from three places: the model client (``pending`` rows, then outcomes), the searches
(proofs, analyses, search rows, formal rows) and Lean checks finishing on worker threads. Each
used to open its own transactions; on SQLite they queued on the file lock, and on any database
their commits interleaved in no fixed order. Now every write of a store goes through its one
``StoreWriter``: callers queue operations and wait on a future, the thread gathers what queues up
and commits it in a few transactions, in this order — call records, call reads, call claims, rows
made by calls, then other operations in the order they were queued — so a proof's row is never
committed before the call that made it, and each reader sees the writes queued before it.

Gathering: an operation says how long it may wait (``linger_s``). Woken by one, the thread keeps
gathering until the earliest deadline of what it holds; an operation someone awaits (a read, a
``run``) has none, so it is served at once with everything before it. A commit costs about the
same CPU for one row as for hundreds, which is the point of waiting at all.

``writer_for(store)`` gives the process's writer of a store; users ``acquire`` it and ``release``
it, and the thread stops (after committing what is queued) when the last user releases it.
Store methods that write from other threads (``add_lean_check``) hand themselves to the writer
while it runs (``route``)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from prover.core.errors import StoreError

if TYPE_CHECKING:
    from prover.store.store import ProofStore


_TICK = 0.01
_STOP = object()
_LOCK = threading.Lock()


@dataclass
class _Op:
    kind: str  # put_calls | get_calls | claim_calls | add_row | run
    payload: Any
    linger_s: float
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


class StoreWriter:
    """The thread that owns a store's writes; see the module docstring."""

    def __init__(self, store: ProofStore):
        self.store = store
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._users = 0
        self._life = threading.Lock()
        self.transactions = 0
        """Write transactions committed (for benchmarks and tests)."""
        self.batches = 0
        """Times the thread woke and processed what it had gathered."""

    # -- life ---------------------------------------------------------------------------------

    def acquire(self) -> "StoreWriter":
        """Count one more user; starts the thread when it is not running."""
        # Under the same lock as release's join: a stopping thread finishes its last batch
        # before another starts, so two never write at once.
        with self._life:
            self._users += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="prover-store-writer", daemon=True)
                self._thread.start()
        return self

    def release(self) -> None:
        """One user fewer; the last one stops the thread once everything queued is committed."""
        with self._life:
            self._users = max(0, self._users - 1)
            thread = self._thread if self._users == 0 else None
            if thread is None:
                return
            self._queue.put(_STOP)
            if thread is not threading.current_thread():
                thread.join()
            self._thread = None

    async def arelease(self) -> None:
        await asyncio.to_thread(self.release)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def on_thread(self) -> bool:
        """True on the writer's own thread (where an operation runs directly)."""
        return self._thread is threading.current_thread()

    # -- operations -----------------------------------------------------------------------------

    def _submit(self, kind: str, payload: Any, linger_s: float) -> concurrent.futures.Future:
        if self._thread is None:
            raise StoreError("the store writer is not running (acquire it first)")
        op = _Op(kind, payload, linger_s)
        self._queue.put(op)
        return op.future

    def put_calls(self, records: list, *, linger_s: float = 0.05) -> concurrent.futures.Future:
        """Store call records (``put_calls``); the future resolves once they are committed."""
        return self._submit("put_calls", list(records), linger_s)

    def get_calls(self, keys: list, *, linger_s: float = 0.0) -> concurrent.futures.Future:
        """Stored call records among ``keys``, read after every write queued before."""
        return self._submit("get_calls", list(keys), linger_s)

    def claim_calls(self, keys: list, holder: str, claim_s: float, *, linger_s: float = 0.0
                    ) -> concurrent.futures.Future:
        """Claim calls before sending them (``claim_calls``): the future gives (keys won, stored
        records) for ``keys``; claims queued together are made in one statement."""
        return self._submit("claim_calls", (list(keys), holder, claim_s), linger_s)

    def add_row(self, kind: str, row: dict[str, Any], call_key: str, *, linger_s: float = 1.0
                ) -> concurrent.futures.Future:
        """One row made by the call ``call_key`` (``add_informal_rows``); the future gives its id."""
        return self._submit("add_row", (kind, row, call_key), linger_s)

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """``fn(*args, **kwargs)`` on the thread, after the operations queued before it."""
        return self._submit("run", (fn, args, kwargs), 0.0)

    def route(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn`` on the writer and wait — or directly when on the writer's thread or when it
        is not running (a command without a writer writes as it always did)."""
        if self._thread is None or self.on_thread():
            return fn(*args, **kwargs)
        return self.run(fn, *args, **kwargs).result()

    # -- the thread ---------------------------------------------------------------------------

    def _work(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            deadline = time.monotonic() + item.linger_s
            stop = self._drain(batch)
            for op in batch[1:]:
                deadline = min(deadline, time.monotonic() + op.linger_s)
            while not stop:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                # Sleep rather than wait on the queue: a waiting thread is woken (and takes the
                # GIL) by every put.
                time.sleep(min(_TICK, left))
                n = len(batch)
                stop = self._drain(batch)
                for op in batch[n:]:
                    deadline = min(deadline, time.monotonic() + op.linger_s)
            self.batches += 1
            self._process(batch)

    def _drain(self, batch: list) -> bool:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            batch.append(item)

    def _process(self, batch: list[_Op]) -> None:
        by_kind: dict[str, list[_Op]] = defaultdict(list)
        for op in batch:
            by_kind[op.kind].append(op)
        puts = by_kind["put_calls"]
        if puts:
            try:
                self.store.put_calls([rec for op in puts for rec in op.payload])
                self.transactions += 1
                _settle(puts, None)
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                _fail(puts, _store_error("cannot store model calls", exc))
        gets = by_kind["get_calls"]
        if gets:
            try:
                found = self.store.get_calls(list(dict.fromkeys(k for op in gets for k in op.payload)))
                for op in gets:
                    _set(op, {k: found[k] for k in op.payload if k in found})
            except Exception as exc:  # noqa: BLE001
                _fail(gets, _store_error("cannot read model calls", exc))
        claims: dict[tuple[str, float], list[_Op]] = defaultdict(list)
        for op in by_kind["claim_calls"]:
            claims[op.payload[1:]].append(op)
        for (holder, claim_s), ops in claims.items():
            try:
                won, stored = self.store.claim_calls([k for op in ops for k in op.payload[0]], holder, claim_s=claim_s)
                self.transactions += 1
                for op in ops:
                    _set(op, (won.intersection(op.payload[0]), {k: stored[k] for k in op.payload[0] if k in stored}))
            except Exception as exc:  # noqa: BLE001
                _fail(ops, _store_error("cannot claim model calls", exc))
        adds = by_kind["add_row"]
        if adds:
            groups: dict[str, list[_Op]] = defaultdict(list)
            for op in adds:
                groups[op.payload[0]].append(op)
            try:
                ids = self.store.add_informal_rows({kind: ([op.payload[1] for op in ops], [op.payload[2] for op in ops])
                                                    for kind, ops in groups.items()})
                self.transactions += 1
                for kind, ops in groups.items():
                    for op, i in zip(ops, ids[kind]):
                        _set(op, i)
            except Exception as exc:  # noqa: BLE001
                _fail(adds, _store_error("cannot store rows", exc))
        for op in by_kind["run"]:
            fn, args, kwargs = op.payload
            try:
                _set(op, fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - the caller's to handle
                _fail([op], exc)


def _set(op: _Op, value: Any) -> None:
    if not op.future.done():
        op.future.set_result(value)


def _settle(ops: list[_Op], value: Any) -> None:
    for op in ops:
        _set(op, value)


def _fail(ops: list[_Op], exc: BaseException) -> None:
    for op in ops:
        if not op.future.done():
            op.future.set_exception(exc)


def _store_error(what: str, exc: Exception) -> BaseException:
    return exc if isinstance(exc, StoreError) else StoreError(f"{what}: {exc}")


def writer_for(store: ProofStore) -> StoreWriter:
    """The process's writer of ``store`` (one per store object)."""
    with _LOCK:
        writer = store.__dict__.get("_store_writer")
        if writer is None:
            writer = StoreWriter(store)
            store.__dict__["_store_writer"] = writer
        return writer


class WriterDoor:
    """A user's handle on the store's writer: acquired on first use, released by ``aclose``."""

    def __init__(self, store: ProofStore):
        self.store = store
        self._writer: StoreWriter | None = None

    def _started(self) -> StoreWriter:
        if self._writer is None:
            self._writer = writer_for(self.store).acquire()
        return self._writer

    @property
    def transactions(self) -> int:
        """Write transactions of the store's writer (for benchmarks)."""
        return self._writer.transactions if self._writer is not None else 0

    async def aclose(self) -> None:
        """Finish what is queued and let the writer go."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await writer.arelease()


def active_writer(store: ProofStore) -> StoreWriter | None:
    """The store's writer when its thread runs, else None."""
    writer = getattr(store, "__dict__", {}).get("_store_writer")
    return writer if writer is not None and writer.running else None

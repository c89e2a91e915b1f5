"""The call cache as the model client sees it: a small synchronous store protocol, an
in-memory implementation, and the client's door to the store's writer thread.

Why a thread: at hundreds of calls in flight, one SQLite transaction per call would cost more
CPU than the calls themselves and stall the event loop. Following datasette's pattern, one
thread owns the store's writes (``prover.store.writer``, shared with everything else that
writes in the process); the event loop hands it operations and awaits a future. The thread
gathers call records for up to a short window and commits them in one transaction (group
commit); every waiting call resumes once its rows are committed — never before."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from prover.core.llm_records import CallRecord
from prover.store.writer import WriterDoor


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


class CallWriter(WriterDoor):
    """The model client's reads and writes of a CallStore, through the store's one writer thread."""

    def __init__(self, store: CallStore, *, window_s: float = 0.05):
        super().__init__(store)
        self.window_s = window_s
        """How long a call record may wait for others before they are committed together: one
        commit costs ~0.2 ms of CPU however few rows it holds, so at a few hundred calls per
        second gathering matters more than the milliseconds it adds to each call."""

    @property
    def batches(self) -> int:
        return self.transactions

    async def get(self, keys: Sequence[str]) -> dict[str, CallRecord]:
        """Stored records among ``keys``."""
        return await asyncio.wrap_future(self._started().get_calls(list(keys)))

    async def put(self, records: Sequence[CallRecord]) -> None:
        """Store records; returns once they are committed."""
        await asyncio.wrap_future(self._started().put_calls(list(records), linger_s=self.window_s))

    # -- claims (a store working for a worker: ``prover.store``'s call claims) -------------------

    async def claim(self, keys: Sequence[str], holder: str, claim_s: float) -> tuple[set[str], dict[str, CallRecord]]:
        """Claim calls before sending them: (keys won, stored records among ``keys``)."""
        return await asyncio.wrap_future(
            self._started().claim_calls(list(keys), holder, claim_s, linger_s=self.window_s))

    async def renew(self, keys: Sequence[str], holder: str, claim_s: float) -> None:
        await asyncio.wrap_future(self._started().run(self.store.renew_call_claims, list(keys), holder,
                                                      claim_s=claim_s))

    def release(self, keys: Sequence[str], holder: str) -> None:
        """End claims on calls that will not be sent (a cancelled call): queued, not awaited, so
        that a cancelled task can still hand it over."""
        if self._writer is not None and self._writer.running:
            self._writer.run(self.store.release_call_claims, list(keys), holder)


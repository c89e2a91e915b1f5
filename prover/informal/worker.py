"""How a search reads and writes the proof database: through the store's one writer thread.

Hundreds of proofs and analyses arrive per second in a large run; one transaction each, on the
event loop, would stall it. The loop queues operations on the store's writer
(``prover.store.writer``, datasette's pattern, shared with the model client and Lean checks) and
awaits futures; the thread inserts every queued row in one transaction.

Nothing waits for a row to be stored until a search ends a round (a proof's verifications are sent
before its row exists; their rows name it by the key of the call that made it). So rows may wait:
after a first row the thread collects more for up to ``linger_s`` — answers trickle in when
latencies are long, and one commit per row would cost more CPU than the rest of a call — and
commits at once when someone waits (``flush``, or any ``run``). A crash loses at most the rows
of that last second; their answers are in the call cache, so the same command writes them again
without sending anything."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable

from prover.store.writer import WriterDoor

if TYPE_CHECKING:
    from prover.store import ProofStore


class StoreWorker(WriterDoor):
    """A search's door to the store's writer: row inserts batched, other operations in order."""

    def __init__(self, store: ProofStore, *, linger_s: float = 1.0):
        super().__init__(store)
        self.linger_s = linger_s
        """The longest a queued row waits for others before they are committed together."""

    @property
    def commits(self) -> int:
        return self.transactions

    def add(self, kind: str, row: dict[str, Any], call_key: str) -> asyncio.Future[int]:
        """Queue one row made by the model call ``call_key``; the future gives its id (the
        existing row's id when that call has one already). Call from the event loop."""
        return asyncio.wrap_future(self._started().add_row(kind, row, call_key, linger_s=self.linger_s))

    async def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` on the thread, after the operations queued before it."""
        return await asyncio.wrap_future(self._started().run(fn, *args, **kwargs))

    async def flush(self) -> None:
        """Return once everything queued before is committed."""
        await self.run(_nothing)


def _nothing() -> None:
    pass

"""An in-process model engine on a thread of its own: the base of the ``local``, ``hf`` and
``vllm`` backends.

In-process engines block while they compute and are not meant to be driven from several threads.
Each backend owns one thread, which loads the model and then serves the calls submitted from any
event loop; the event loop never waits on the engine. Calls that queue up while the engine is busy
are handed to it together — that is how a batching engine gathers its batches (the model client
runs up to its concurrency limit of calls at once; each call is one ``generate``).

The model is loaded when the backend is built (the client builds it on the first call that needs
it, never at import time); building blocks until the model is loaded, so that a model that cannot
load is a :class:`BackendError` at once, outside any call's timeout.

A call whose caller gave up (the client's timeout cancels it) is skipped if it has not started,
and its answer is dropped if it has."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from prover.core.errors import BackendError, ProverError
from prover.core.llm_records import CallRequest, Generation
from prover.llm.crash_note import note_native_work

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(eq=False)
class Job:
    """One call waiting for (or being served by) the engine thread."""

    call: CallRequest
    future: asyncio.Future[Generation]
    loop: asyncio.AbstractEventLoop
    owner: "EngineBackend | None" = None
    submitted: float = field(default_factory=time.perf_counter)

    @property
    def abandoned(self) -> bool:
        """The caller no longer waits for it (cancelled by a timeout, or its loop is gone)."""
        return self.future.done() or self.loop.is_closed()

    def finish(self, gen: Generation) -> None:
        """Hand the answer to the caller's loop (from the engine thread)."""
        self._deliver(gen)

    def fail(self, exc: BaseException) -> None:
        self._deliver(exc)

    def _deliver(self, outcome: Generation | BaseException) -> None:
        if self.owner is not None:
            self.owner._open.discard(self)
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, outcome)
        except RuntimeError:  # the caller's loop is closed: nobody waits any more
            pass


def _settle(future: asyncio.Future[Generation], outcome: Generation | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class EngineBackend:
    """Base of the in-process backends. Subclasses implement :meth:`load` and either
    :meth:`generate_batch` (served in batches of at most ``max_batch`` calls, in arrival order)
    or, for an engine with its own scheduler, :meth:`serve`. All three run on the engine
    thread; so does :meth:`unload`, when the backend is closed."""

    name = "engine"
    max_batch = 1

    def __init__(self, model: str):
        self.model = model
        self._queue: queue.SimpleQueue[Job | object] = queue.SimpleQueue()
        self._stopping = False
        self._open: set[Job] = set()
        """Jobs taken by the engine and not yet answered (engine thread only)."""
        self._failure: str | None = None
        self._load_error: BaseException | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"prover-{self.name}-engine", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._load_error is not None:
            self._thread.join()
            err = self._load_error
            if isinstance(err, ProverError):
                raise err
            raise BackendError(f"{self.name} backend cannot load model {model!r}: "
                               f"{type(err).__name__}: {err}") from err

    # -- to implement -------------------------------------------------------------------

    def load(self) -> None:
        """Load the model (engine thread)."""
        raise NotImplementedError

    def generate_batch(self, calls: Sequence[CallRequest]) -> list[Generation]:
        """Answer calls together, one Generation each, in order (engine thread)."""
        raise NotImplementedError

    def unload(self) -> None:
        """Release the model (engine thread)."""

    def serve(self) -> None:
        """The engine thread's loop once loaded: by default, batches of waiting calls through
        :meth:`generate_batch`, until the backend closes."""
        while True:
            jobs = self.take(self.max_batch, block=True)
            if not jobs:
                if self._stopping:
                    return
                continue
            try:
                gens = self.generate_batch([job.call for job in jobs])
            except Exception as exc:  # noqa: BLE001 - an engine failure fails this batch only
                log.exception("%s backend failed on a batch of %d call(s)", self.name, len(jobs))
                # Transient: a later attempt (or run) may succeed; a definitive error would be
                # stored and never asked again.
                gens = [Generation(error=f"{self.name} engine failed: {type(exc).__name__}: {exc}",
                                   transient=True)] * len(jobs)
            for job, gen in zip(jobs, gens):
                job.finish(gen)

    # -- for subclasses -----------------------------------------------------------------

    def take(self, limit: int | None, *, block: bool) -> list[Job]:
        """Up to ``limit`` (None: all) waiting calls that someone still waits for; with
        ``block``, waits for the first. Empty when the backend is closing and nothing waits."""
        jobs: list[Job] = []
        while limit is None or len(jobs) < limit:
            try:
                item = self._queue.get(block=block and not jobs and not self._stopping)
            except queue.Empty:
                break
            if item is _STOP:
                self._stopping = True
                continue
            assert isinstance(item, Job)
            if not item.abandoned:
                jobs.append(item)
        self._open.update(jobs)
        return jobs

    @property
    def stopping(self) -> bool:
        """The backend is closing: finish what runs, take nothing new."""
        return self._stopping

    # -- the protocol -------------------------------------------------------------------

    async def generate(self, call: CallRequest) -> Generation:
        if self._stopping or not self._thread.is_alive():
            raise self._closed_error()
        loop = asyncio.get_running_loop()
        job = Job(call, loop.create_future(), loop, owner=self)
        self._queue.put(job)
        return await job.future

    async def aclose(self) -> None:
        if self._thread.is_alive():
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join)

    # -- the thread ---------------------------------------------------------------------

    def _main(self) -> None:
        note_native_work(self.name, f"loading {self.model}")
        try:
            self.load()
        except BaseException as exc:  # noqa: BLE001 - reported by the constructor
            self._load_error = exc
            self._ready.set()
            return
        self._ready.set()
        note_native_work(self.name, f"serving {self.model}")
        try:
            self.serve()
        except BaseException as exc:  # noqa: BLE001 - the engine died: say so to every caller
            log.exception("%s engine stopped", self.name)
            self._failure = f"{type(exc).__name__}: {exc}"
        finally:
            self._stopping = True
            closed = self._closed_error()
            for job in list(self._open) + self.take(None, block=False):
                job.fail(closed)
            try:
                self.unload()
            except Exception:  # noqa: BLE001
                log.exception("%s backend: error while unloading", self.name)

    def _closed_error(self) -> BackendError:
        if self._failure is not None:
            return BackendError(f"the {self.name} engine stopped: {self._failure}")
        return BackendError(f"the {self.name} backend is closed")

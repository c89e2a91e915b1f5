"""The one protocol every model backend implements: generation, nothing else.

Retries, timeouts, concurrency limits, the call key and the call cache live once, in
:class:`prover.llm.client.ModelClient`. A backend answers one call at a time (the client runs
many concurrently); a backend that benefits from batching (a local engine) gathers the calls
that arrive together itself."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from prover.core.llm_records import CallRequest, Generation, RoleSettings


@runtime_checkable
class ModelBackend(Protocol):
    """A model backend. Built from a role's settings by :func:`prover.llm.registry.create_backend`."""

    name: str
    """The registry name (``openai``, ``scripted``, ...)."""

    async def generate(self, call: CallRequest) -> Generation:
        """Answer one call. Failures are returned as a Generation with ``error`` set and
        ``transient`` saying whether a retry may succeed. Raise
        :class:`prover.core.errors.BackendError` only for problems no call can get past
        (bad credentials, wrong URL or model name): the client stops the batch."""
        ...

    async def aclose(self) -> None:
        """Release connections or engines."""
        ...


class BackendFactory(Protocol):
    """What the registry imports: a class (or function) building a backend from settings."""

    def __call__(self, settings: RoleSettings) -> ModelBackend: ...

"""The model client: the one wrapper around every backend. It expands requests into calls,
owns the call key and the call cache, the concurrency limits, timeouts and retries.

Life of a call:

1. A request with ``n`` samples becomes ``n`` calls, each resolved against its role's settings
   (:class:`CallRequest`); its key hashes what changes the answer and nothing else.
2. The cache is asked for all keys of a batch at once. A stored answer, truncation or
   definitive error is returned as it is and never sent again. A stored transient error is sent
   again. A row left ``pending`` was in flight when an earlier run stopped: it is sent again and
   counted in ``stats.resent``.
3. The call takes a slot (its role's limit, and its endpoint's limit shared by the roles using
   that server), writes a ``pending`` row and waits until it is committed, sends — with a
   per-attempt timeout, retrying transient failures with exponential backoff and jitter,
   honouring Retry-After — then writes its outcome and waits until that is committed, and only
   then gives the slot back.

Writes are committed by one thread in groups (all that arrive within ``commit_window_s``,
50 ms by default: a commit costs about the same CPU for one row as for dozens).

Guarantee: a call holds its slot from before its ``pending`` row until after its outcome is
committed, so at any moment at most ``limit`` calls per endpoint are sent-but-not-stored. A crash
(even SIGKILL) re-sends at most those — at most the concurrency limit, summed over endpoints —
and the next run reports how many it re-sent (``stats.resent``, an upper bound: a call can be
marked pending and not yet have reached the server).

The same key asked twice while in flight is sent once — across workers too: when the store works
for a worker (``prover worker``: ``store.lease_holder``), the calls to send are first claimed in
the store, in one statement per batch; a call another live worker claimed is not sent but waited
for (the cache is polled, with backoff, until its answer is stored) or taken over once that
claim expires (its holder died). Claims are renewed while their calls are in flight and end with
their stored outcome. A single process claims nothing. Without a store nothing is cached.
API keys never reach a CallRequest, a key or a record: backends read them from the
environment."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone

from prover.core.errors import ConfigError
from prover.core.hashing import stable_json
from prover.core.llm_records import (
    CallRecord, CallRequest, ChatMessage, Generation, ModelConfig, ModelRequest, ModelResult,
    RoleSettings, SamplingParams, sample_seed)
from prover.llm.calls import CallStore, CallWriter
from prover.llm.protocol import ModelBackend
from prover.llm.registry import create_backend, is_in_process

log = logging.getLogger(__name__)


@dataclass
class ClientStats:
    """What a client did (counts of calls, i.e. samples)."""

    requested: int = 0
    """Calls asked for."""
    cached: int = 0
    """Served from the call cache without sending."""
    sent: int = 0
    """Sent by this client (first attempts)."""
    resent: int = 0
    """Of those sent, calls an earlier run left in flight (pending) when it stopped."""
    retries: int = 0
    """Extra attempts after transient failures."""
    errors: int = 0
    """Calls that ended in an error (after retries)."""
    truncated: int = 0
    """Calls cut off by the token limit."""
    awaited: int = 0
    """Of the cached ones, calls another worker was sending when asked: waited for, not sent."""

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ModelClient:
    """Sends model calls for all roles of a run, through the call cache.

    Use as ``async with ModelClient(config, store=store, run_id=run.id) as client:``. ``backends``
    maps a role to a ready backend instance (tests pass a ScriptedBackend); other roles get the
    backend their settings name, built on first use and shared by roles on the same endpoint."""

    def __init__(self, config: ModelConfig, *, store: CallStore | None = None,
                 run_id: int | None = None, backends: Mapping[str, ModelBackend] | None = None,
                 rng: random.Random | None = None, commit_window_s: float = 0.05, claim_s: float = 60.0,
                 claim_poll_s: float = 0.25):
        self.config = config
        self.run_id = run_id
        self.stats = ClientStats()
        self._settings: dict[str, RoleSettings] = config.resolved()
        self._given = dict(backends or {})
        self._backends: dict[tuple, ModelBackend] = {}
        self._writer = CallWriter(store, window_s=commit_window_s) if store is not None else None
        self._inflight: dict[str, asyncio.Future[ModelResult]] = {}
        self._holder: str | None = getattr(store, "lease_holder", None) if self._writer is not None else None
        """The worker this client sends for, when calls are claimed across workers."""
        self.claim_s = claim_s
        """How long a claim lasts unrenewed (renewed every third of it while the call is in flight)."""
        self.claim_poll_s = claim_poll_s
        """First wait before looking again for a call another worker is sending (doubles, up to 16×)."""
        self._claimed: dict[str, asyncio.Future] = {}
        """Calls this client claimed, by key: the future that sends it and stores its outcome."""
        self._renewer: asyncio.Task | None = None
        self._rng = rng or random.Random()
        # Roles on one endpoint share one limit, the largest they ask for; a role asking for
        # less also gets a limit of its own.
        self._endpoint_limit: dict[tuple, int] = {}
        for role, s in self._settings.items():
            ep = self._endpoint(role)
            self._endpoint_limit[ep] = max(self._endpoint_limit.get(ep, 0), s.concurrency)
        self._endpoint_sems: dict[tuple, asyncio.Semaphore] = {}
        self._role_sems: dict[str, asyncio.Semaphore | None] = {}

    # -- public API ---------------------------------------------------------------------

    async def generate(self, requests: Sequence[ModelRequest]) -> list[list[ModelResult]]:
        """Answer requests: for each, its ``n`` results in sample order."""
        expanded = [self.expand(req) for req in requests]
        keyed = [[(call, call.call_key()) for call in calls] for calls in expanded]
        total = sum(len(c) for c in keyed)
        self.stats.requested += total

        wanted = list(dict.fromkeys(k for calls in keyed for _, k in calls if k not in self._inflight))
        stored = await self._writer.get(wanted) if (self._writer and wanted) else {}
        won: set[str] = set()
        if self._holder is not None:
            to_send = [k for k in wanted if k not in stored or not stored[k].reusable]
            if to_send:
                won, now_stored = await self._claims.claim(to_send, self._holder, self.claim_s)
                stored.update(now_stored)

        futures: dict[str, asyncio.Future[ModelResult]] = {}
        mine: list[asyncio.Future[ModelResult]] = []
        resent = 0
        for calls in keyed:
            for call, key in calls:
                if key in futures:
                    continue
                fut = self._inflight.get(key)
                if fut is None:
                    rec = stored.get(key)
                    if rec is not None and rec.reusable:
                        self.stats.cached += 1
                        fut = asyncio.get_running_loop().create_future()
                        fut.set_result(_from_record(rec, call))
                    else:
                        if self._holder is not None and key not in won:
                            # Another worker is sending it: wait for its answer.
                            coro = self._await_other(call, key)
                        else:
                            if rec is not None and rec.status == "pending":
                                resent += 1
                            coro = self._call(call, key)
                        fut = asyncio.ensure_future(coro)
                        if key in won:
                            self._own(key, fut)
                        self._inflight[key] = fut
                        fut.add_done_callback(lambda _f, k=key: self._inflight.pop(k, None))
                        mine.append(fut)
                futures[key] = fut
        if resent:
            self.stats.resent += resent
            log.warning("re-sending %d model call(s) that were in flight when an earlier run "
                        "stopped", resent)
        try:
            await asyncio.gather(*futures.values())
        except BaseException:
            for fut in mine:
                fut.cancel()
            raise
        out: list[list[ModelResult]] = []
        for calls in keyed:
            row = []
            for call, key in calls:
                res = futures[key].result()
                if res.role != call.role:
                    res = res.model_copy(update={"role": call.role})
                row.append(res)
            out.append(row)
        return out

    async def ask(self, role: str, prompt: str, *, system: str | None = None,
                  **params: object) -> ModelResult:
        """One sample for one prompt (``params`` are SamplingParams fields)."""
        messages = [ChatMessage(role="system", content=system)] if system else []
        messages.append(ChatMessage(role="user", content=prompt))
        req = ModelRequest(role=role, messages=tuple(messages),  # type: ignore[arg-type]
                           params=SamplingParams(**params))  # type: ignore[arg-type]
        return (await self.generate([req]))[0][0]

    def expand(self, request: ModelRequest) -> list[CallRequest]:
        """The calls of a request: one per sample, resolved against the role's settings."""
        s = self._settings[request.role]
        backend_name = self._given[request.role].name if request.role in self._given else s.backend
        model = s.model
        if model is None:
            if backend_name != "scripted":
                raise ConfigError(
                    f"no model set for role {request.role}: pass --model, or set model in "
                    f"[model] or [roles.{request.role}] of prover.toml")
            model = "scripted"
        p = request.params
        temperature = p.temperature if p.temperature is not None else s.temperature
        top_p = p.top_p if p.top_p is not None else s.top_p
        max_tokens = p.max_tokens if p.max_tokens is not None else s.max_tokens
        return [CallRequest(role=request.role, backend=backend_name, model=model,
                            messages=request.messages, temperature=temperature, top_p=top_p,
                            max_tokens=max_tokens, stop=p.stop, seed=sample_seed(p.seed, i),
                            sample_index=i)
                for i in range(p.n)]

    async def aclose(self) -> None:
        """Close backends and the store's writer thread."""
        backends, self._backends = list(self._backends.values()), {}
        for backend in backends:
            await backend.aclose()
        for backend in self._given.values():
            await backend.aclose()
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(BaseException):
                await self._renewer
            self._renewer = None
        if self._writer is not None:
            await self._writer.aclose()

    async def __aenter__(self) -> "ModelClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- internals ----------------------------------------------------------------------

    def _endpoint(self, role: str) -> tuple:
        if role in self._given:
            return ("given", id(self._given[role]))
        s = self._settings[role]
        if is_in_process(s.backend):
            # The instance is the model: one engine per (backend, model, engine options).
            return (s.backend, s.model, stable_json(s.engine))
        return (s.backend, s.base_urls, s.api_key_env, s.script)

    def _backend(self, role: str) -> ModelBackend:
        if role in self._given:
            return self._given[role]
        ep = self._endpoint(role)
        backend = self._backends.get(ep)
        if backend is None:
            backend = self._backends[ep] = create_backend(self._settings[role])
        return backend

    def _semaphores(self, role: str) -> tuple[asyncio.Semaphore, asyncio.Semaphore | None]:
        ep = self._endpoint(role)
        sem = self._endpoint_sems.get(ep)
        if sem is None:
            sem = self._endpoint_sems[ep] = asyncio.Semaphore(self._endpoint_limit[ep])
        if role not in self._role_sems:
            limit = self._settings[role].concurrency
            self._role_sems[role] = asyncio.Semaphore(limit) if limit < self._endpoint_limit[ep] else None
        return sem, self._role_sems[role]

    # -- claims across workers ----------------------------------------------------------------

    @property
    def _claims(self) -> CallWriter:
        # Only a client with a store works for a worker.
        assert self._writer is not None
        return self._writer

    def _own(self, key: str, fut: asyncio.Future) -> None:
        """``fut`` sends the claimed call ``key``: the claim is renewed until it is done."""
        self._claimed[key] = fut
        fut.add_done_callback(functools.partial(self._settle, key))
        if self._renewer is None:
            self._renewer = asyncio.ensure_future(self._renew())

    def _settle(self, key: str, fut: asyncio.Future) -> None:
        if self._claimed.get(key) is not fut:
            return
        del self._claimed[key]
        # A stored outcome ended the claim; a call that stopped before (cancelled — even before
        # it started — or failed) hands it back rather than leave others waiting for it to expire.
        if fut.cancelled() or fut.exception() is not None:
            with contextlib.suppress(Exception):
                self._claims.release([key], self._holder)  # type: ignore[arg-type]

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.claim_s / 3)
            if not self._claimed:
                continue
            try:
                await self._claims.renew(list(self._claimed), self._holder, self.claim_s)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - the database is away for a moment: next time round
                log.warning("cannot renew claims on model calls: %s", exc)

    async def _await_other(self, call: CallRequest, key: str) -> ModelResult:
        """A call another worker claimed: its stored answer once there, or sent here once its
        claim is free (its holder died, or stored a transient error)."""
        delay = self.claim_poll_s
        while True:
            await asyncio.sleep(delay)
            delay = min(2 * delay, 16 * self.claim_poll_s)
            won, stored = await self._claims.claim([key], self._holder, self.claim_s)  # type: ignore[arg-type]
            rec = stored.get(key)
            if rec is not None and rec.reusable:
                self.stats.cached += 1
                self.stats.awaited += 1
                return _from_record(rec, call)
            if key in won:
                self._own(key, asyncio.current_task())  # type: ignore[arg-type]
                if rec is not None and rec.status == "pending":
                    # Its holder died with it in flight.
                    self.stats.resent += 1
                    log.warning("re-sending a model call another worker had in flight when it stopped")
                return await self._call(call, key)

    async def _call(self, call: CallRequest, key: str) -> ModelResult:
        s = self._settings[call.role]
        backend = self._backend(call.role)
        endpoint_sem, role_sem = self._semaphores(call.role)
        if role_sem is not None:
            await role_sem.acquire()
        try:
            async with endpoint_sem:
                return await self._send(call, key, s, backend)
        finally:
            if role_sem is not None:
                role_sem.release()

    async def _send(self, call: CallRequest, key: str, s: RoleSettings,
                    backend: ModelBackend) -> ModelResult:
        created = _now()
        request_json = call.request_json()
        if self._writer is not None:
            await self._writer.put([CallRecord(
                call_key=key, run_id=self.run_id, role=call.role, backend=call.backend,
                model=call.model, request=request_json, status="pending", created_at=created)])
        self.stats.sent += 1
        attempts = 0
        while True:
            attempts += 1
            try:
                async with asyncio.timeout(s.timeout_s):
                    gen = await backend.generate(call)
            except TimeoutError:
                gen = Generation(error=f"no answer within {s.timeout_s:g} s", transient=True,
                                 latency_s=s.timeout_s)
            if gen.error is None or not gen.transient or attempts > s.max_retries:
                break
            self.stats.retries += 1
            await asyncio.sleep(self._backoff(s, attempts, gen.retry_after_s))

        if gen.error is not None:
            status = "error"
            self.stats.errors += 1
        elif gen.finish_reason == "length":
            status = "truncated"
            self.stats.truncated += 1
        else:
            status = "ok"
        result = ModelResult(
            key=key, role=call.role, backend=call.backend, model=call.model,
            sample_index=call.sample_index, status=status,
            text=gen.text if gen.error is None else None, reasoning=gen.reasoning,
            finish_reason=gen.finish_reason, prompt_tokens=gen.prompt_tokens,
            completion_tokens=gen.completion_tokens, latency_s=gen.latency_s, error=gen.error,
            transient=gen.transient if gen.error is not None else False, attempts=attempts,
            http_status=gen.http_status if gen.error is not None else None,
            retry_after_s=gen.retry_after_s if gen.error is not None else None)
        if self._writer is not None:
            await self._writer.put([CallRecord(
                call_key=key, run_id=self.run_id, role=call.role, backend=call.backend,
                model=call.model, request=request_json, status=status,
                transient=result.transient, response_text=result.text,
                reasoning_text=result.reasoning, finish_reason=result.finish_reason,
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
                latency_s=result.latency_s, error=result.error, attempts=attempts,
                created_at=created, completed_at=_now())])
        return result

    def _backoff(self, s: RoleSettings, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter (half fixed, half random), at least the server's
        Retry-After (up to ``max_retry_after_s``)."""
        base = min(s.max_backoff_s, s.backoff_s * 2 ** (attempt - 1))
        delay = base / 2 + self._rng.random() * base / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, s.max_retry_after_s))
        return delay


def _from_record(rec: CallRecord, call: CallRequest) -> ModelResult:
    return ModelResult(
        key=rec.call_key, role=call.role, backend=rec.backend, model=rec.model,
        sample_index=call.sample_index, status=rec.status,  # type: ignore[arg-type]
        text=rec.response_text, reasoning=rec.reasoning_text, finish_reason=rec.finish_reason,
        prompt_tokens=rec.prompt_tokens, completion_tokens=rec.completion_tokens,
        latency_s=rec.latency_s, error=rec.error, transient=rec.transient, attempts=0, cached=True)

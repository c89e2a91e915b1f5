"""The model client's bookkeeping, with the scripted backend: samples, the call cache, retries
across runs, in-flight deduplication, concurrency limits."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from prover.core.errors import BackendError, ConfigError, StoreError
from prover.core.llm_records import (
    CallRecord, ChatMessage, Generation, ModelConfig, ModelRequest, RoleSettings,
    SamplingParams)
from prover.llm import MemoryCallStore, ModelClient, ScriptedBackend, ScriptedOutput

pytestmark = pytest.mark.timeout(30)


def req(text: str, role: str = "generator", **params) -> ModelRequest:
    return ModelRequest(role=role, messages=(ChatMessage(role="user", content=text),),
                        params=SamplingParams(**params))


def cfg(**kw) -> ModelConfig:
    settings = dict(backend="scripted", backoff_s=0.001, max_backoff_s=0.002)
    settings.update(kw)
    return ModelConfig(defaults=RoleSettings(**settings))


def run(config, requests, *, store=None, backend=None, role="generator"):
    backends = {role: backend} if backend is not None else None

    async def main():
        async with ModelClient(config, store=store, backends=backends) as client:
            return await client.generate(requests), client.stats
    return asyncio.run(main())


class Counting:
    """Wraps a backend and records how many calls it serves at once."""

    name = "scripted"

    def __init__(self, inner, delay=0.01):
        self.inner, self.delay = inner, delay
        self.active = self.peak = self.calls = 0

    async def generate(self, call):
        self.active += 1
        self.calls += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(self.delay)
            return await self.inner.generate(call)
        finally:
            self.active -= 1

    async def aclose(self):
        pass


def test_n_samples_are_separate_calls_with_derived_seeds():
    backend = ScriptedBackend(lambda call: f"sample {call.sample_index}")
    [[a, b, c]], stats = run(cfg(), [req("p", n=3, seed=7)], backend=backend)
    assert [r.text for r in (a, b, c)] == ["sample 0", "sample 1", "sample 2"]
    assert len({a.key, b.key, c.key}) == 3 and stats.sent == 3
    seeds = [call.seed for call in sorted(backend.calls, key=lambda c: c.sample_index)]
    assert seeds[0] == 7 and len(set(seeds)) == 3


def test_role_defaults_fill_unset_params_and_request_params_win():
    backend = ScriptedBackend(["x", "y"])
    run(cfg(temperature=0.5, max_tokens=100), [req("a"), req("b", temperature=0.1)], backend=backend)
    by_text = {c.messages[0].content: c for c in backend.calls}
    assert (by_text["a"].temperature, by_text["a"].max_tokens) == (0.5, 100)
    assert (by_text["b"].temperature, by_text["b"].max_tokens) == (0.1, 100)


def test_stored_answers_are_never_sent_again():
    store = MemoryCallStore()
    first = ScriptedBackend(lambda call: "answer to " + call.messages[0].content)
    (r1, s1) = run(cfg(), [req("a"), req("b", n=2)], store=store, backend=first)
    second = ScriptedBackend([])  # raises if called
    (r2, s2) = run(cfg(), [req("a"), req("b", n=2)], store=store, backend=second)
    assert second.calls == [] and s2.cached == 3 and s2.sent == 0
    assert [[r.text for r in row] for row in r2] == [[r.text for r in row] for row in r1]
    assert all(r.cached and r.attempts == 0 for row in r2 for r in row)
    assert {rec.status for rec in store.records.values()} == {"ok"}


def test_truncated_and_definitive_errors_are_reused_transient_errors_are_resent():
    store = MemoryCallStore()
    script = [ScriptedOutput(match="long", text="part", finish_reason="length"),
              ScriptedOutput(match="bad", error="400 context too long"),
              ScriptedOutput(match="flaky", error="503 busy", transient=True)]
    (rows, stats) = run(cfg(max_retries=1), [req("long"), req("bad"), req("flaky")],
                        store=store, backend=ScriptedBackend(script))
    long, bad, flaky = (row[0] for row in rows)
    assert long.truncated and not long.ok and long.text == "part"
    assert bad.status == "error" and not bad.transient and bad.attempts == 1
    assert flaky.status == "error" and flaky.transient and flaky.attempts == 2
    assert (stats.truncated, stats.errors, stats.retries) == (1, 2, 1)

    later = ScriptedBackend([ScriptedOutput(match="flaky", text="fine now")])
    (rows, stats) = run(cfg(), [req("long"), req("bad"), req("flaky")], store=store, backend=later)
    assert [c.messages[0].content for c in later.calls] == ["flaky"]
    assert rows[2][0].ok and rows[2][0].text == "fine now" and stats.cached == 2
    assert store.records[rows[2][0].key].status == "ok"


def test_pending_rows_are_resent_and_counted():
    store = MemoryCallStore()
    client = ModelClient(cfg())
    [call] = client.expand(req("was in flight"))
    store.put_calls([CallRecord(call_key=call.call_key(), role="generator", backend="scripted",
                                model="scripted", request=call.request_json(), status="pending",
                                created_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))])
    (rows, stats) = run(cfg(), [req("was in flight"), req("new")], store=store,
                        backend=ScriptedBackend(lambda call: "done"))
    assert stats.resent == 1 and stats.sent == 2 and rows[0][0].text == "done"
    rec = store.records[call.call_key()]
    assert rec.status == "ok" and rec.created_at.year == 2020  # first recorded, kept


def test_a_call_is_pending_while_in_flight():
    store = MemoryCallStore()
    seen = []

    def script(call):
        seen.append(store.records[call.call_key()].status)
        return "ok"
    run(cfg(), [req("x")], store=store, backend=ScriptedBackend(script))
    assert seen == ["pending"]


def test_identical_calls_in_flight_are_sent_once():
    backend = Counting(ScriptedBackend(lambda call: "same"), delay=0.05)

    async def main():
        async with ModelClient(cfg(), backends={"generator": backend}) as client:
            return await asyncio.gather(client.generate([req("q"), req("q")]),
                                        client.generate([req("q")]))
    (first, second) = asyncio.run(main())
    assert backend.calls == 1
    assert first[0][0].key == first[1][0].key == second[0][0].key


def test_concurrency_limit_is_reached_and_never_exceeded():
    backend = Counting(ScriptedBackend(lambda call: "x"))
    (rows, _) = run(cfg(concurrency=5), [req(f"q{i}") for i in range(40)], backend=backend)
    assert len(rows) == 40 and backend.calls == 40 and backend.peak == 5


def test_a_role_with_a_smaller_limit_on_a_shared_endpoint():
    config = ModelConfig(defaults=RoleSettings(backend="scripted", concurrency=6),
                         roles={"judge": {"concurrency": 2}})
    counting = {"judge": 0, "generator": 0}
    peak = {"judge": 0, "generator": 0, "all": 0}

    async def script_gen(call):
        counting[call.role] += 1
        peak[call.role] = max(peak[call.role], counting[call.role])
        peak["all"] = max(peak["all"], counting["judge"] + counting["generator"])
        await asyncio.sleep(0.01)
        counting[call.role] -= 1
        return Generation(text="x", finish_reason="stop")

    class Backend:
        name = "scripted"
        generate = staticmethod(script_gen)

        async def aclose(self):
            pass

    shared = Backend()

    async def main():
        async with ModelClient(config, backends={"judge": shared, "generator": shared}) as client:
            await client.generate([req(f"j{i}", role="judge") for i in range(12)]
                                  + [req(f"g{i}") for i in range(12)])
    asyncio.run(main())
    assert peak["judge"] == 2
    # Roles given the same backend object share one endpoint limit, the largest asked for.
    assert peak["all"] <= 6 and peak["generator"] >= 4


def test_a_backend_error_stops_the_batch():
    with pytest.raises(BackendError, match="no output"):
        run(cfg(), [req("unscripted")], backend=ScriptedBackend([]))


def test_no_model_is_a_config_error():
    with pytest.raises(ConfigError, match="no model set for role verifier"):
        run(ModelConfig(defaults=RoleSettings()), [req("x", role="verifier")])


def test_store_failures_surface_as_store_errors():
    class Broken(MemoryCallStore):
        def put_calls(self, records):
            raise OSError("disk full")
    with pytest.raises(StoreError, match="disk full"):
        run(cfg(), [req("x")], store=Broken(), backend=ScriptedBackend(["y"]))


def test_the_store_keeps_every_field(store):
    """Round trip through the real database (SQLite, and PostgreSQL when configured)."""
    script = [ScriptedOutput(match="a", text="answer", reasoning="because", prompt_tokens=3,
                             completion_tokens=1),
              ScriptedOutput(match="b", error="nope")]
    (rows, _) = run(cfg(model="m1", temperature=0.3), [req("a", seed=4), req("b")], store=store,
                    backend=ScriptedBackend(script))
    recs = store.get_calls([rows[0][0].key, rows[1][0].key, "missing"])
    a, b = recs[rows[0][0].key], recs[rows[1][0].key]
    assert (a.status, a.response_text, a.reasoning_text, a.finish_reason) == ("ok", "answer", "because", "stop")
    assert (a.prompt_tokens, a.completion_tokens, a.attempts, a.model, a.backend) == (3, 1, 1, "m1", "scripted")
    assert a.request == {"messages": [{"role": "user", "content": "a"}], "temperature": 0.3,
                         "top_p": None, "max_tokens": None, "stop": None, "seed": 4, "sample_index": 0}
    assert a.created_at is not None and a.completed_at is not None
    assert (b.status, b.error, b.transient, b.response_text) == ("error", "nope", False, None)
    assert store.call_counts() == {"ok": 1, "error": 1}
    (again, stats) = run(cfg(model="m1", temperature=0.3), [req("a", seed=4), req("b")],
                         store=store, backend=ScriptedBackend([]))
    assert stats.cached == 2 and again[0][0].reasoning == "because"

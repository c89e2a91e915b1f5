"""The engine thread shared by the in-process backends: batches gathered from calls that queue up
while the engine is busy, calls abandoned by their caller skipped, failures reported. The engine
here is a small recorder standing in for a model; the real engines have their own tests."""

from __future__ import annotations

import asyncio
import threading

import pytest

from prover.core.errors import BackendError, ConfigError
from prover.core.llm_records import CallRequest, ChatMessage, Generation
from prover.llm._engine import EngineBackend

pytestmark = pytest.mark.timeout(30)


class Recorder(EngineBackend):
    name = "recorder"

    def __init__(self, max_batch: int = 4, load_error: BaseException | None = None, gated: bool = False):
        self.max_batch = max_batch
        self.load_error = load_error
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.unloaded_on: str | None = None
        self.fail_next = False
        super().__init__("m")

    def load(self) -> None:
        if self.load_error is not None:
            raise self.load_error

    def generate_batch(self, calls):
        self.entered.set()
        self.gate.wait()
        self.batches.append([c.seed for c in calls])
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("out of memory")
        return [Generation(text=f"answer {c.seed}", finish_reason="stop") for c in calls]

    def unload(self) -> None:
        self.unloaded_on = threading.current_thread().name


def call(seed: int) -> CallRequest:
    return CallRequest(role="generator", backend="recorder", model="m", seed=seed,
                       messages=(ChatMessage(role="user", content="q"),))


def test_calls_that_queue_while_the_engine_is_busy_form_the_next_batches():
    engine = Recorder(max_batch=4, gated=True)

    async def main():
        first = asyncio.ensure_future(engine.generate(call(0)))
        await asyncio.to_thread(engine.entered.wait)  # the engine now works on call 0 alone
        rest = [asyncio.ensure_future(engine.generate(call(i))) for i in range(1, 7)]
        await asyncio.sleep(0.05)
        engine.gate.set()
        return await asyncio.gather(first, *rest)

    gens = asyncio.run(main())
    assert [g.text for g in gens] == [f"answer {i}" for i in range(7)]
    assert engine.batches == [[0], [1, 2, 3, 4], [5, 6]]
    asyncio.run(engine.aclose())
    assert engine.unloaded_on == "prover-recorder-engine"


def test_a_call_its_caller_gave_up_on_is_skipped():
    engine = Recorder(gated=True)

    async def main():
        first = asyncio.ensure_future(engine.generate(call(0)))
        await asyncio.to_thread(engine.entered.wait)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(engine.generate(call(1)), timeout=0.05)
        last = asyncio.ensure_future(engine.generate(call(2)))
        await asyncio.sleep(0.05)
        engine.gate.set()
        return await asyncio.gather(first, last)

    assert [g.text for g in asyncio.run(main())] == ["answer 0", "answer 2"]
    assert engine.batches == [[0], [2]]
    asyncio.run(engine.aclose())


def test_an_engine_failure_fails_its_batch_transiently_and_the_engine_goes_on():
    engine = Recorder()
    engine.fail_next = True
    failed = asyncio.run(engine.generate(call(1)))
    assert failed.error == "recorder engine failed: RuntimeError: out of memory" and failed.transient
    assert asyncio.run(engine.generate(call(2))).text == "answer 2"  # another event loop, too
    asyncio.run(engine.aclose())


def test_a_model_that_cannot_load_is_a_backend_error_at_construction():
    with pytest.raises(BackendError, match=r"recorder backend cannot load model 'm': OSError: no such file"):
        Recorder(load_error=OSError("no such file"))
    with pytest.raises(ConfigError, match="bad option"):  # prover errors pass through as they are
        Recorder(load_error=ConfigError("bad option"))


def test_a_closed_backend_refuses_calls():
    engine = Recorder()
    asyncio.run(engine.aclose())
    with pytest.raises(BackendError, match="closed"):
        asyncio.run(engine.generate(call(0)))
    asyncio.run(engine.aclose())  # closing twice is fine


def test_an_engine_that_dies_fails_its_callers_instead_of_leaving_them_waiting():
    class Dying(Recorder):
        def serve(self):
            self.take(1, block=True)  # takes a call, then the engine process dies
            raise RuntimeError("engine core died")

    engine = Dying()
    with pytest.raises(BackendError, match="the recorder engine stopped: RuntimeError: engine core died"):
        asyncio.run(asyncio.wait_for(engine.generate(call(0)), 10))
    with pytest.raises(BackendError, match="engine stopped"):
        asyncio.run(engine.generate(call(1)))
    asyncio.run(engine.aclose())  # waits for the thread, which unloads after failing the callers
    assert engine.unloaded_on == "prover-recorder-engine"

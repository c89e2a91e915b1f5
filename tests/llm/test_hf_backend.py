"""The ``hf`` backend on a tiny random model built in the test (tokenizer trained on the fly,
fully offline): batching with left padding, per-call seeds, limits and stop strings, the chat
template, and the call cache through the model client."""

from __future__ import annotations

import asyncio

import pytest

from prover.core.errors import BackendError
from prover.core.llm_records import (
    CallRequest, ChatMessage, ModelConfig, ModelRequest, RoleSettings, SamplingParams)
from prover.llm import ModelClient, create_backend
from tiny_model import build_tiny_model, tiny_model_dir  # noqa: F401 - a fixture

pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")

pytestmark = [pytest.mark.slow, pytest.mark.hf, pytest.mark.timeout(300)]

PROMPT = "Prove that the sum of two even integers is even."


@pytest.fixture(scope="module")
def backend(tiny_model_dir):  # noqa: F811
    b = create_backend(RoleSettings(backend="hf", model=str(tiny_model_dir),
                                    engine={"device": "cpu", "batch_size": 8}))
    yield b
    asyncio.run(b.aclose())


def call(prompt: str = PROMPT, **params) -> CallRequest:
    return CallRequest(role="generator", backend="hf", model="tiny",
                       messages=(ChatMessage(role="user", content=prompt),), **params)


def generate(backend, *calls):
    async def main():
        return await asyncio.gather(*(backend.generate(c) for c in calls))
    return asyncio.run(main())


def test_a_batch_answers_each_call_as_if_it_were_alone(backend):
    calls = [call(seed=1, temperature=1.0, max_tokens=20),
             call("Reply with the single word: ready", seed=2, temperature=0.7, top_p=0.9, max_tokens=12),
             call(temperature=0.0, max_tokens=16),
             call("Find x.", seed=3, temperature=1.0, max_tokens=20)]
    together = generate(backend, *calls)
    alone = [generate(backend, c)[0] for c in calls]
    assert [g.text for g in together] == [g.text for g in alone]
    assert all(g.error is None and g.text for g in together)
    # Left padding: the prompts differ in length, yet each row got its own prompt's tokens.
    assert len({g.prompt_tokens for g in together}) >= 3


def test_seed_fixes_the_answer_and_another_seed_changes_it(backend):
    a, b, c = generate(backend, *(call(seed=s, temperature=1.0, max_tokens=24) for s in (5, 5, 6)))
    assert a.text == b.text and a.text != c.text


def test_token_limit_is_reported_as_truncation(backend):
    (g,) = generate(backend, call(seed=1, temperature=1.0, max_tokens=7))
    assert (g.finish_reason, g.completion_tokens) == ("length", 7)


def test_stop_string_cuts_the_answer(backend):
    (full,) = generate(backend, call(temperature=0.0, max_tokens=40))
    text = full.text
    stop = text[len(text) // 2: len(text) // 2 + 2]
    (cut,) = generate(backend, call(temperature=0.0, max_tokens=40, stop=(stop,)))
    assert cut.finish_reason == "stop" and cut.text == text[: text.index(stop)]
    assert cut.completion_tokens < full.completion_tokens


def test_the_chat_template_is_used_when_the_tokenizer_has_one(backend, tmp_path):
    messages = (ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi"))
    assert backend.render(messages) == "<|system|>Be brief.</s><|user|>Hi</s><|assistant|>"
    (g,) = generate(backend, CallRequest(role="judge", backend="hf", model="tiny", messages=messages,
                                         temperature=0.0, max_tokens=3))
    assert g.prompt_tokens == len(backend.tokenizer(backend.render(messages), add_special_tokens=False)["input_ids"])

    plain_dir = build_tiny_model(tmp_path / "plain", chat_template=False)
    plain = create_backend(RoleSettings(backend="hf", model=str(plain_dir)))
    try:
        assert plain.render(messages) == "Be brief.\n\nHi"
        (g,) = generate(plain, CallRequest(role="judge", backend="hf", model="plain", messages=messages,
                                           temperature=0.0, max_tokens=3))
        assert g.error is None and g.completion_tokens == 3
    finally:
        asyncio.run(plain.aclose())


def test_a_prompt_longer_than_the_context_is_a_definitive_error(backend):
    too_long, fine = generate(backend, call("even " * 600, max_tokens=4), call(max_tokens=4, temperature=0.0))
    assert too_long.error and not too_long.transient and "context is 512" in too_long.error
    assert fine.error is None


def test_a_missing_model_directory_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="hf backend cannot load model"):
        create_backend(RoleSettings(backend="hf", model=str(tmp_path / "absent")))


def test_the_client_stores_n_samples_and_serves_them_from_the_cache(backend, tmp_path):
    from prover.store import ProofStore

    class Borrowed:
        name = "hf"

        async def generate(self, c):
            return await backend.generate(c)

        async def aclose(self):
            pass

    store = ProofStore.open(tmp_path / "prover.db")
    config = ModelConfig(defaults=RoleSettings(backend="hf", model="tiny", max_tokens=6))
    request = ModelRequest(messages=(ChatMessage(role="user", content=PROMPT),),
                           params=SamplingParams(n=4, seed=9, temperature=1.0))

    async def ask():
        async with ModelClient(config, store=store, backends={"generator": Borrowed()}) as client:
            return (await client.generate([request]))[0], client.stats

    first, stats = asyncio.run(ask())
    assert stats.sent == 4 and [r.status for r in first] == ["truncated"] * 4
    assert len({r.text for r in first}) > 1
    assert set(store.get_calls([r.key for r in first])) == {r.key for r in first}
    again, stats = asyncio.run(ask())
    assert (stats.sent, stats.cached) == (0, 4) and [r.text for r in again] == [r.text for r in first]
    store.close()

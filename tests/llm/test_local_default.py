"""The embedded default — every role runs the bundled wiring model when nothing is configured —
the engine options of in-process backends, the wiring-model note, and one engine per model."""

from __future__ import annotations

import asyncio

import pytest

from prover.core.errors import ConfigError
from prover.core.llm_records import (
    LOCAL_MAX_TOKENS, LOCAL_MODEL, ROLES, ModelConfig, ModelRequest, ChatMessage, RoleSettings)
from prover.llm import ModelClient, ModelFlags, load_model_config, wiring_model_note


def load(flags: ModelFlags = ModelFlags(), environ: dict[str, str] | None = None, config_path=None):
    return load_model_config(flags, environ=environ or {}, config_path=config_path)


@pytest.fixture(autouse=True)
def no_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def summary(config: ModelConfig) -> dict[str, tuple]:
    return {r: (s.backend, s.model, s.max_tokens) for r, s in config.resolved().items()}


def test_nothing_configured_runs_the_bundled_model_everywhere():
    assert summary(load()) == {r: ("local", LOCAL_MODEL, LOCAL_MAX_TOKENS) for r in ROLES}
    # Sampling settings alone do not name a model: still the default.
    assert load(ModelFlags(temperature=0.7)).defaults.backend == "local"


@pytest.mark.parametrize("flags, environ, expected", [
    (ModelFlags(model="m"), {}, ("openai", "m", None)),
    (ModelFlags(base_urls=("http://h:1/v1",)), {}, ("openai", None, None)),
    (ModelFlags(), {"PROVER_MODEL": "m"}, ("openai", "m", None)),
    (ModelFlags(), {"PROVER_BACKEND": "scripted"}, ("scripted", None, None)),
    (ModelFlags(backend="local"), {}, ("local", LOCAL_MODEL, LOCAL_MAX_TOKENS)),
    (ModelFlags(backend="local", max_tokens=100), {}, ("local", LOCAL_MODEL, 100)),
    (ModelFlags(backend="local", model="/models/x.gguf"), {}, ("local", "/models/x.gguf", None)),
    (ModelFlags(backend="hf", model="/models/tiny"), {}, ("hf", "/models/tiny", None)),
], ids=["model", "base-url", "env-model", "env-backend", "backend-local", "local-max-tokens",
        "local-gguf", "hf"])
def test_anything_that_names_a_backend_model_or_server_replaces_the_default(flags, environ, expected):
    s = load(flags, environ).defaults
    assert (s.backend, s.model, s.max_tokens) == expected


def test_a_role_with_its_own_server_leaves_the_default_for_the_others():
    config = load(ModelFlags(role_overrides=("judge.model=gpt", "judge.base_url=http://h:1/v1")))
    got = summary(config)
    assert got.pop("judge") == ("openai", "gpt", None)
    assert set(got.values()) == {("local", LOCAL_MODEL, LOCAL_MAX_TOKENS)}


def test_a_role_switching_to_local_gets_the_bundled_model_not_the_servers():
    config = load(ModelFlags(model="deepseek-math-v2", max_tokens=32768,
                             role_overrides=("judge.backend=local",)))
    got = summary(config)
    assert got.pop("judge") == ("local", LOCAL_MODEL, LOCAL_MAX_TOKENS)
    assert set(got.values()) == {("openai", "deepseek-math-v2", 32768)}


def test_a_role_switching_away_from_the_default_drops_the_bundled_models_settings():
    config = load(ModelFlags(role_overrides=("prover.backend=hf", "prover.model=/models/tiny")))
    assert summary(config)["prover"] == ("hf", "/models/tiny", None)


@pytest.mark.parametrize("value, expected", [
    ("n_ctx=4096,chat_format=gemma", {"n_ctx": 4096, "chat_format": "gemma"}),
    ('{"max_model_len": 512, "enforce_eager": true}', {"max_model_len": 512, "enforce_eager": True}),
    ("dtype=float32, batch_size=2", {"dtype": "float32", "batch_size": 2}),
    ("", {}),
])
def test_engine_options_from_a_flag(value, expected):
    config = load(ModelFlags(backend="local", role_overrides=(f"prover.engine={value}",)))
    assert config.role("prover").engine == expected
    assert config.role("judge").engine == {}


def test_engine_options_from_toml_and_environment(tmp_path):
    toml = tmp_path / "p.toml"
    toml.write_text('[model]\nbackend = "vllm"\nmodel = "/m"\n[model.engine]\nmax_model_len = 4096\n')
    assert load(config_path=toml).defaults.engine == {"max_model_len": 4096}
    assert load(environ={"PROVER_ENGINE": "n_ctx=2048"}).defaults.engine == {"n_ctx": 2048}


@pytest.mark.parametrize("value", ["n_ctx", "{not json", "=3"])
def test_bad_engine_options_name_their_source(value):
    with pytest.raises(ConfigError, match=r"--role prover.engine=.*engine options"):
        load(ModelFlags(role_overrides=(f"prover.engine={value}",)))


def test_engine_options_and_roles_stay_out_of_the_call_key():
    base = dict(role="generator", backend="local", model=LOCAL_MODEL,
                messages=(ChatMessage(role="user", content="q"),))
    from prover.core.llm_records import CallRequest

    assert CallRequest(**base).call_key() == CallRequest(**{**base, "role": "judge"}).call_key()
    assert CallRequest(**base).call_key() != CallRequest(**{**base, "model": "/x.gguf"}).call_key()


def test_the_wiring_note_names_the_roles_that_use_the_bundled_model():
    assert "every role" in wiring_model_note(load())
    assert "wiring model, not a prover" in wiring_model_note(load())
    partial = load(ModelFlags(model="m", role_overrides=("judge.backend=local",)))
    assert wiring_model_note(partial).startswith("Model: the bundled Gemma 3 270M (llama.cpp, in-process) for judge —")
    assert wiring_model_note(partial, ["generator", "verifier"]) is None
    assert wiring_model_note(load(ModelFlags(model="m"))) is None
    assert wiring_model_note(load(ModelFlags(backend="local", model="/x.gguf"))) is None


def test_in_process_backends_get_one_engine_per_model_and_engine_options(monkeypatch):
    """The client shares an HTTP backend among roles on one server (any model), but an
    in-process backend is the model: roles share it only with the same model and options."""
    from prover.llm import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    registry.register_backend(registry.BackendSpec(
        "engine-double", "prover.llm.scripted:scripted_from_settings", in_process=True))
    config = ModelConfig(
        defaults=RoleSettings(backend="engine-double", model="a"),
        roles={"judge": {"model": "b"}, "prover": {"engine": {"n_ctx": 1}}})

    async def main():
        client = ModelClient(config)
        try:
            return {r: id(client._backend(r)) for r in ROLES}
        finally:
            await client.aclose()

    ids = asyncio.run(main())
    assert len(set(ids.values())) == 3
    assert ids["generator"] == ids["verifier"] == ids["meta_verifier"] == ids["formalizer"]
    assert len({ids["generator"], ids["judge"], ids["prover"]}) == 3


def test_requests_to_the_default_name_the_bundled_model():
    client = ModelClient(load())
    (c,) = client.expand(ModelRequest(messages=(ChatMessage(role="user", content="q"),)))
    assert (c.backend, c.model, c.max_tokens) == ("local", LOCAL_MODEL, LOCAL_MAX_TOKENS)

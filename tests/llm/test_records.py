"""The call key hashes what changes the answer and nothing else."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from prover.core.llm_records import (
    CallRequest, ChatMessage, ModelConfig, RoleSettings, sample_seed)


def call(**kw) -> CallRequest:
    base = dict(role="generator", backend="openai", model="m",
                messages=(ChatMessage(role="user", content="prove it"),), temperature=1.0,
                max_tokens=100, seed=3, sample_index=0)
    base.update(kw)
    return CallRequest(**base)


@pytest.mark.parametrize("change", [
    {"backend": "scripted"}, {"model": "m2"}, {"temperature": 0.5}, {"top_p": 0.9},
    {"max_tokens": 101}, {"stop": ("x",)}, {"seed": 4}, {"sample_index": 1},
    {"messages": (ChatMessage(role="user", content="prove it!"),)},
    {"messages": (ChatMessage(role="system", content="prove it"),)},
])
def test_what_changes_the_answer_changes_the_key(change):
    assert call(**change).call_key() != call().call_key()


def test_the_role_is_not_in_the_key():
    assert call(role="judge").call_key() == call().call_key()


def test_transport_settings_are_not_in_the_key():
    """Timeouts, retries, limits and URLs live in RoleSettings, which CallRequest cannot hold."""
    assert not set(CallRequest.model_fields) & {
        "timeout_s", "max_retries", "concurrency", "base_urls", "api_key_env", "backoff_s"}
    assert "api_key" not in str(call().request_json())


def test_sample_seeds():
    assert sample_seed(None, 3) is None
    assert sample_seed(11, 0) == 11
    seeds = {sample_seed(11, i) for i in range(1, 50)}
    assert len(seeds) == 49 and 11 not in seeds and all(0 <= s < 2**31 for s in seeds)
    assert sample_seed(11, 5) == sample_seed(11, 5)


def test_roles_inherit_defaults_and_override_them():
    config = ModelConfig(defaults=RoleSettings(model="base", temperature=0.7, concurrency=10),
                         roles={"prover": {"model": "lean-prover", "base_url": "http://gpu:8000/v1"}})
    prover, judge = config.role("prover"), config.role("judge")
    assert (prover.model, prover.temperature, prover.base_urls) == ("lean-prover", 0.7, ("http://gpu:8000/v1",))
    assert judge == config.defaults
    assert list(config.resolved()) == ["generator", "verifier", "meta_verifier", "formalizer",
                                       "prover", "judge"]


def test_bad_overrides_are_rejected():
    with pytest.raises(ValidationError):
        ModelConfig(roles={"judge": {"concurrency": 0}})
    with pytest.raises(ValidationError):
        ModelConfig(roles={"critic": {"model": "x"}})
    with pytest.raises(ValidationError, match="must start with http"):
        RoleSettings(base_urls="localhost:8000")

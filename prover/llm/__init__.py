"""Model backends and the model client (call cache, concurrency, retries).

Public names: :class:`ModelClient`, :func:`load_model_config`, :class:`ModelFlags`,
:class:`ScriptedBackend`, :class:`ScriptedOutput`, :class:`CallStore`,
:class:`MemoryCallStore`, :func:`create_backend`, :func:`register_backend`,
:class:`BackendSpec`, :class:`ModelBackend`, :func:`probe_roles`, :func:`bundled_gguf`,
:func:`wiring_model_note`.

Backends: ``openai`` (HTTP), ``scripted`` (test double), and in-process ``local`` (llama.cpp, the
bundled wiring model by default), ``hf`` (transformers), ``vllm`` — each imported only when a
role chooses it."""

from prover.llm.calls import CallStore, CallWriter, MemoryCallStore
from prover.llm.client import ClientStats, ModelClient
from prover.llm.config import ModelFlags, load_model_config
from prover.llm.local_model import bundled_gguf, wiring_model_note
from prover.llm.protocol import ModelBackend
from prover.llm.registry import BackendSpec, backend_names, create_backend, register_backend
from prover.llm.scripted import ScriptedBackend, ScriptedOutput

__all__ = [
    "BackendSpec", "CallStore", "CallWriter", "ClientStats", "MemoryCallStore", "ModelBackend",
    "ModelClient", "ModelFlags", "ScriptedBackend", "ScriptedOutput", "backend_names",
    "bundled_gguf", "create_backend", "load_model_config", "register_backend", "wiring_model_note",
]

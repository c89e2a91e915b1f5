"""The ``local`` backend: llama.cpp in-process (llama-cpp-python), one call at a time.

By default it runs the bundled Gemma 3 270M GGUF (a base model, driven with
``chat_format="gemma"``): the embedded default when no backend is configured, a wiring model
that exercises the machinery and proves nothing. ``model`` may instead name any GGUF file; its own
chat template is then used unless ``engine.chat_format`` says otherwise.

Engine options (``engine``): any keyword argument of ``llama_cpp.Llama`` (``n_ctx`` — default
8192 —, ``n_threads``, ``n_gpu_layers``, ``chat_format``, ...), and ``use_extra_bufts`` (default
false): llama.cpp's extra buffer types repack weights for the CPU's matrix units, and on CPUs with
AMX that code crashes in decode (a segmentation fault), so prover loads models without them.
``python -m prover.llm.llama_server`` is llama.cpp's OpenAI server with the same default.

Sampling follows the OpenAI semantics the other backends use: temperature (default 1) and
nucleus mass (default 1) only; llama.cpp's extra samplers (top-k, min-p, typical, repetition
penalty) are switched off. Each call starts from an empty context, so that its seed fully
determines its answer (reusing the previous call's prompt cache changes the numerics). A prompt
that does not fit the context is a definitive error."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from prover.core.errors import BackendError
from prover.core.llm_records import LOCAL_MODEL, CallRequest, Generation, RoleSettings
from prover.llm._engine import EngineBackend
from prover.llm.crash_note import note_native_work

DEFAULT_N_CTX = 8192


def _defaults_with(original: Any, extra_bufts: bool) -> Any:
    def params():
        p = original()
        p.use_extra_bufts = extra_bufts
        return p

    params.prover_extra_bufts = extra_bufts  # type: ignore[attr-defined]
    return params


@contextlib.contextmanager
def extra_buffer_types(enabled: bool) -> Iterator[None]:
    """Models loaded inside take ``use_extra_bufts=enabled``. ``llama_cpp.Llama`` builds its
    model parameters from ``llama_model_default_params()`` and has no argument for this field, so
    the default itself is swapped while the model loads."""
    import llama_cpp.llama_cpp as lib

    original = lib.llama_model_default_params
    lib.llama_model_default_params = _defaults_with(original, enabled)
    try:
        yield
    finally:
        lib.llama_model_default_params = original


def disable_extra_buffer_types() -> None:
    """For this whole process (the server entry point): every model loads without extra buffer
    types."""
    import llama_cpp.llama_cpp as lib

    if getattr(lib.llama_model_default_params, "prover_extra_bufts", None) is not False:
        lib.llama_model_default_params = _defaults_with(lib.llama_model_default_params, False)


class LlamaCppBackend(EngineBackend):
    """A GGUF model served by llama.cpp inside this process."""

    name = "local"
    max_batch = 1

    def __init__(self, settings: RoleSettings):
        model = settings.model or LOCAL_MODEL
        self.bundled = model == LOCAL_MODEL
        options: dict[str, Any] = {"n_ctx": DEFAULT_N_CTX, "verbose": False}
        if self.bundled:
            options["chat_format"] = "gemma"  # a base model: its GGUF carries no chat template
        options.update(settings.engine)
        self.extra_bufts = bool(options.pop("use_extra_bufts", False))
        self.options = options
        self.path: Path | None = None
        self._llm: Any = None
        super().__init__(model)

    def load(self) -> None:
        from llama_cpp import Llama

        from prover.llm.local_model import bundled_gguf

        path = bundled_gguf() if self.bundled else Path(self.model).expanduser()
        if not path.is_file():
            raise BackendError(f"local backend: no GGUF file at {path} (model is a path to a "
                               f".gguf file, or {LOCAL_MODEL!r} for the bundled one)")
        self.path = path
        with extra_buffer_types(self.extra_bufts):
            self._llm = Llama(model_path=str(path), **self.options)

    def unload(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None and hasattr(llm, "close"):
            llm.close()

    def generate_batch(self, calls: Sequence[CallRequest]) -> list[Generation]:
        return [self._one(call) for call in calls]

    def _one(self, call: CallRequest) -> Generation:
        llm = self._llm
        note_native_work(self.name, f"generating with {self.path.name if self.path else self.model}")
        llm.reset()
        seed = call.seed if call.seed is not None else secrets.randbits(31)
        start = time.perf_counter()
        try:
            response = llm.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in call.messages],
                temperature=1.0 if call.temperature is None else call.temperature,
                top_p=1.0 if call.top_p is None else call.top_p,
                top_k=0, min_p=0.0, typical_p=1.0, repeat_penalty=1.0,
                max_tokens=call.max_tokens,  # None: until the context is full
                stop=list(call.stop) if call.stop else None,
                seed=seed & 0x7FFFFFFF)
        except ValueError as exc:  # llama-cpp-python's way of saying the prompt does not fit
            return Generation(error=f"local backend: {exc} (prompt and answer must fit the context, "
                                    f"n_ctx={llm.n_ctx()})", transient=False,
                              latency_s=time.perf_counter() - start)
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return Generation(
            text=choice["message"].get("content") or "", finish_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
            latency_s=time.perf_counter() - start)

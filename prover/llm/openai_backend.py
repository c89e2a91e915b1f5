"""The ``openai`` backend: any OpenAI-compatible chat-completions server (vLLM, SGLang,
llama.cpp's server, DeepSeek's API).

Requests are spread over one or more base URLs (the least busy first). The API key is read from
the environment variable the settings name, only when set and non-empty; without it no
Authorization header is sent (local servers need none). DeepSeek's ``reasoning_content`` (and
vLLM's ``reasoning``) is kept apart from the answer. Status codes map to outcomes:

* 200 with a chat completion: an answer (``finish_reason = length`` is reported as such; the
  client records it as truncated);
* 429, 408 and 5xx, connection errors, a dropped connection: transient errors, with the
  server's Retry-After when given;
* 401 / 403: :class:`BackendError` naming the API-key variable; 404: BackendError about the URL
  or model name — no call could succeed, so the run stops;
* other 4xx and a 200 whose body is not a chat completion: definitive errors (stored, not
  retried)."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from prover.core.balance import LeastBusy
from prover.core.errors import BackendError, ConfigError
from prover.core.llm_records import CallRequest, Generation, RoleSettings
from prover.llm._http import Endpoint, HttpPool, HttpResponse, HttpTransportError


class OpenAIBackend:
    """Chat completions over HTTP/1.1 against one or more OpenAI-compatible servers."""

    name = "openai"

    def __init__(self, settings: RoleSettings):
        try:
            self._endpoints = [Endpoint.parse(u + "/chat/completions") for u in settings.base_urls]
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self._api_key_env = settings.api_key_env
        key = os.environ.get(settings.api_key_env, "").strip()
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._has_key = bool(key)
        self._balance = LeastBusy(len(self._endpoints)) if self._endpoints else None
        self._pool = HttpPool()

    async def generate(self, call: CallRequest) -> Generation:
        body: dict[str, Any] = {
            "model": call.model,
            "messages": [{"role": m.role, "content": m.content} for m in call.messages],
        }
        for name in ("temperature", "top_p", "max_tokens", "seed"):
            value = getattr(call, name)
            if value is not None:
                body[name] = value
        if call.stop:
            body["stop"] = list(call.stop)
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        i = self._balance.acquire() if self._balance is not None else 0
        endpoint = self._endpoints[i]
        start = time.perf_counter()
        try:
            response = await self._pool.post(endpoint, data, self._headers)
        except HttpTransportError as exc:
            return Generation(error=f"{endpoint.url}: {exc}", transient=True,
                              latency_s=time.perf_counter() - start)
        finally:
            if self._balance is not None:
                self._balance.release(i)
        latency = time.perf_counter() - start
        if response.status == 200:
            return _parse_completion(endpoint.url, response.body, latency)
        return self._failure(endpoint.url, call.model, response, latency)

    def _failure(self, url: str, model: str, response: HttpResponse, latency: float) -> Generation:
        status = response.status
        detail = _error_detail(response.body)
        if status in (401, 403):
            reason = "401 Unauthorized" if status == 401 else "403 Forbidden"
            if self._has_key:
                raise BackendError(f"{url} answered {reason}: the API key in ${self._api_key_env} "
                                   f"was rejected ({detail})")
            raise BackendError(
                f"{url} answered {reason} and no API key is set: put the key in the environment "
                f"variable {self._api_key_env} (or name another one with --api-key-env)")
        if status == 404:
            raise BackendError(f"{url} answered 404 Not Found ({detail}): check the base URL "
                               f"(it usually ends in /v1) and the model name {model!r}")
        message = f"{url} answered HTTP {status}: {detail}"
        if status in (408, 429) or status >= 500:
            return Generation(error=message, transient=True, latency_s=latency, http_status=status,
                              retry_after_s=_retry_after(response.headers.get("retry-after")))
        return Generation(error=message, transient=False, latency_s=latency, http_status=status)

    async def aclose(self) -> None:
        await self._pool.aclose()


def _parse_completion(url: str, body: bytes, latency: float) -> Generation:
    try:
        payload = json.loads(body)
        choice = payload["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content")
        reasoning = message.get("reasoning_content")
        if reasoning is None:
            reasoning = message.get("reasoning")
        finish = choice.get("finish_reason")
        usage = payload.get("usage") or {}
        if text is not None and not isinstance(text, str):
            raise TypeError("content is not a string")
        return Generation(
            text=text if text is not None else "",
            reasoning=reasoning if isinstance(reasoning, str) else None,
            finish_reason=finish if isinstance(finish, str) else None,
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
            completion_tokens=_int_or_none(usage.get("completion_tokens")),
            latency_s=latency)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        snippet = body[:200].decode("utf-8", "replace")
        return Generation(error=f"{url}: malformed chat completion ({type(exc).__name__}: {exc}): "
                                f"{snippet!r}", transient=False, latency_s=latency)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _error_detail(body: bytes) -> str:
    """The server's error message: OpenAI's ``{"error": {"message"}}``, vLLM's ``{"message"}``,
    FastAPI's ``{"detail"}``, or the start of the body."""
    text = body[:2000].decode("utf-8", "replace")
    try:
        payload = json.loads(text)
    except ValueError:
        return text[:300].strip() or "(empty body)"
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        for key in ("message", "detail", "error"):
            if payload.get(key):
                return str(payload[key])[:300]
    return text[:300]


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: delta-seconds (fractions accepted) or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())

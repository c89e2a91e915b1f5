"""A client of a Kimina Lean Server (project-numina/kimina-lean-server), which runs REPL pools
behind HTTP.

Two generations of its API:
* ``POST /api/check`` {"snippets": [{"id", "code"}], "timeout", "debug", "reuse"} →
  {"results": [{"id", "time", "error", "response": REPL answer}]}
* ``POST /verify`` (older servers) {"codes": [{"custom_id", "proof"}], "timeout", "infotree_type",
  "disable_cache"} → {"results": [{"custom_id", "error", "response": REPL answer + "time"}]}

``api="auto"`` tries ``/api/check`` and falls back to ``/verify`` when the server does not have
it (404/405), remembering the choice. The server's API key, if any, goes in ``X-Auth-Token``.

Several servers (``url`` a sequence, or URLs separated by commas) are used as one: each check goes
to the least busy, ties round-robin (as model base URLs are balanced). ``size`` is how many checks
the caller may keep in flight (``--lean-processes``; default four per server).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import httpx

from prover.core.balance import LeastBusy
from prover.core.errors import ConfigError
from prover.core.lean_backend_records import LeanRawResponse, LeanRunRequest

Api = Literal["auto", "check", "verify"]

# Seconds beyond the Lean timeout that the HTTP request may take (queueing, transfer).
HTTP_MARGIN_S = 30.0

CHECKS_PER_SERVER = 4
"""Checks kept in flight per server when the caller does not say (a Kimina server runs a REPL
pool of its own)."""


def kimina_urls(url: str | Sequence[str] | None) -> list[str]:
    """Server URLs from a URL, a comma-separated list, or a sequence of either."""
    parts = [url] if isinstance(url, str) else list(url or ())
    return [u.strip().rstrip("/") for p in parts for u in p.split(",") if u.strip()]


class KiminaBackend:
    name = "kimina"

    def __init__(self, url: str | Sequence[str] | None = None, *, api: Api = "auto", api_key: str | None = None,
                 retries: int = 3, backoff_s: float = 1.0, transport: httpx.BaseTransport | None = None,
                 size: int | None = None):
        urls = kimina_urls(url or os.environ.get("LEAN_SERVER_API_URL"))
        if not urls:
            raise ConfigError("the kimina backend needs a server URL (--kimina-url or $LEAN_SERVER_API_URL)")
        if api not in ("auto", "check", "verify"):
            raise ConfigError(f"unknown Kimina API {api!r} (auto, check or verify)")
        self.urls = urls
        self.size = max(1, size or CHECKS_PER_SERVER * len(urls))
        """Checks a caller may keep in flight."""
        self.api: Api = api
        self.retries, self.backoff_s = retries, backoff_s
        key = api_key or os.environ.get("LEAN_SERVER_API_KEY")
        headers = {"X-Auth-Token": key} if key else {}
        self.client = httpx.Client(headers=headers, transport=transport,
                                   limits=httpx.Limits(max_connections=max(100, self.size)))
        self._balance = LeastBusy(len(urls))

    @property
    def url(self) -> str:
        """The servers, as one name (the cache key's toolchain part: ``kimina:URL[,URL...]``)."""
        return ",".join(self.urls)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "KiminaBackend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------

    def _payload(self, api: str, rid: str, request: LeanRunRequest) -> tuple[str, dict[str, Any]]:
        timeout = max(1, int(round(request.timeout_s)))
        if api == "check":
            return "/api/check", {"snippets": [{"id": rid, "code": request.code}], "timeout": timeout,
                                  "debug": False, "reuse": True}
        return "/verify", {"codes": [{"custom_id": rid, "proof": request.code}], "timeout": timeout,
                           "infotree_type": None, "disable_cache": False}

    def _post(self, url: str, api: str, rid: str, request: LeanRunRequest) -> httpx.Response:
        path, payload = self._payload(api, rid, request)
        attempt = 0
        while True:
            r = self.client.post(url + path, json=payload, timeout=request.timeout_s + HTTP_MARGIN_S)
            # 429: the server has no free REPL right now; 502/503: it is restarting.
            if r.status_code in (429, 502, 503) and attempt < self.retries:
                attempt += 1
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
                continue
            return r

    def check(self, request: LeanRunRequest | str) -> LeanRawResponse:
        if isinstance(request, str):
            request = LeanRunRequest(code=request)
        rid = request.request_id or uuid.uuid4().hex
        t0 = time.monotonic()
        with self._balance.using() as i:
            url = self.urls[i]
            api = "check" if self.api in ("auto", "check") else "verify"
            try:
                r = self._post(url, api, rid, request)
                if self.api == "auto" and r.status_code in (404, 405):
                    api = "verify"
                    r = self._post(url, api, rid, request)
                    if r.status_code not in (404, 405):
                        self.api = "verify"
                elif self.api == "auto":
                    self.api = "check"
            except httpx.TimeoutException as exc:
                return self._raw("timeout", t0, error=f"no answer from the Kimina server {url} within "
                                 f"{request.timeout_s + HTTP_MARGIN_S:g} s ({exc.__class__.__name__})")
            except httpx.HTTPError as exc:
                return self._raw("unavailable", t0, error=f"Kimina server {url} unreachable: {exc}")
        if r.status_code != 200:
            return self._raw("unavailable", t0, error=f"Kimina server {url} answered HTTP {r.status_code}: "
                                                      f"{r.text[:300]}")
        try:
            body = r.json()
            result = body["results"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            return self._raw("error", t0, error=f"unexpected answer from the Kimina server {url}: {r.text[:300]}")
        return self.from_result(result, wall_s=time.monotonic() - t0, api=api)

    @classmethod
    def from_result(cls, result: dict[str, Any], *, wall_s: float = 0.0, api: str = "verify") -> LeanRawResponse:
        """One entry of ``results`` (either API) as a raw response."""
        error = result.get("error")
        response = result.get("response")
        notes = [f"kimina api: /{'api/check' if api == 'check' else 'verify'}"]
        lean_time = result.get("time", (response or {}).get("time") if isinstance(response, dict) else None)
        if isinstance(lean_time, (int, float)):
            notes.append(f"server time: {lean_time:.3f} s")
        if error:
            status = "timeout" if "timed out" in str(error).lower() else "error"
            return LeanRawResponse(backend=cls.name, status=status, response=response, error=str(error),
                                   wall_s=wall_s, notes=notes)
        if not isinstance(response, dict):
            return LeanRawResponse(backend=cls.name, status="error", error="the Kimina server returned no response",
                                   wall_s=wall_s, notes=notes)
        if "message" in response and "messages" not in response and "env" not in response:
            return LeanRawResponse(backend=cls.name, status="error", response=response,
                                   error=str(response["message"]), wall_s=wall_s, notes=notes)
        return LeanRawResponse(backend=cls.name, status="ok", response=response,
                               messages=list(response.get("messages") or []),
                               sorries=list(response.get("sorries") or []), wall_s=wall_s, notes=notes)

    def _raw(self, status: str, t0: float, **kw) -> LeanRawResponse:
        return LeanRawResponse(backend=self.name, status=status, wall_s=time.monotonic() - t0, **kw)

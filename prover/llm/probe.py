"""``prover models test``: one short request per configured model endpoint, to see that each
role's backend answers — before a long run finds out the hard way. Nothing is stored.

A server that answers HTTP 429 is reachable — its URL, model and key work — but over its rate
limit right now: that is reported as ``rate_limited``, apart from an endpoint that cannot answer
(a run facing it waits and retries). When the 429 carries a Retry-After that fits in what is
left of the timeout, the probe waits that long and asks once more."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from prover.core.errors import ConfigError, PrerequisiteError
from prover.core.hashing import stable_json
from prover.core.llm_records import ROLES, ModelConfig
from prover.llm.client import ModelClient

PROBE_PROMPT = "Reply with the single word: ready"


class RoleProbe(BaseModel):
    """The answer of one endpoint (one backend, model and set of URLs) to the probe."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    roles: tuple[str, ...]
    """The roles using this endpoint."""
    backend: str
    """Backend name."""
    model: str
    """Model name."""
    base_urls: tuple[str, ...]
    """Where the openai backend sent it (empty for other backends)."""
    ok: bool
    """It answered (a reply cut off by the token limit counts: the backend works)."""
    latency_s: float | None = None
    """Seconds the answer took."""
    reply: str | None = None
    """The answer text."""
    reasoning: str | None = None
    """Reasoning text, when the model returns it apart."""
    truncated: bool = False
    """The reply hit the probe's token limit."""
    error: str | None = None
    """Why it could not answer."""
    rate_limited: bool = False
    """The server answered HTTP 429: reachable (URL, model and key work) but over its rate limit."""
    retry_after_s: float | None = None
    """With ``rate_limited``: the Retry-After it gave, in seconds."""


def probed_roles(config: ModelConfig, roles: Sequence[str] = ()) -> list[str]:
    """The roles to probe: those named, else every role with a model (or a scripted backend)."""
    for role in roles:
        if role not in ROLES:
            raise ConfigError(f"--role {role}: unknown role (roles: {', '.join(ROLES)})")
    if roles:
        return list(dict.fromkeys(roles))
    chosen = [r for r, s in config.resolved().items() if s.model or s.backend == "scripted"]
    if not chosen:
        raise ConfigError("no model configured: pass --model (and --base-url), or set model in "
                          "[model] of prover.toml")
    return chosen


def probe_roles(config: ModelConfig, roles: Sequence[str] = (), *, timeout_s: float = 60.0,
                max_tokens: int = 32) -> list[RoleProbe]:
    """Send the probe once per distinct endpoint among the roles; never raises for an endpoint
    that cannot answer (see ``ok``/``error``), only for bad configuration."""
    chosen = probed_roles(config, roles)
    groups: dict[tuple, list[str]] = {}
    for role in chosen:
        s = config.role(role)
        if s.model is None and s.backend != "scripted":
            raise ConfigError(f"no model set for role {role}: pass --model, or set model in "
                              f"[model] or [roles.{role}] of prover.toml")
        groups.setdefault((s.backend, s.model, s.base_urls, s.api_key_env, s.script, stable_json(s.engine)),
                          []).append(role)

    async def one(group_roles: list[str]) -> RoleProbe:
        s = config.role(group_roles[0])
        # max_retry_after_s 0: the client's own retry does not sleep out a Retry-After; the
        # probe decides below whether one fits in its timeout.
        quick = s.model_copy(update={"max_retries": min(s.max_retries, 1), "backoff_s": 0.5,
                                     "timeout_s": min(s.timeout_s, timeout_s), "max_retry_after_s": 0.0})
        probe_config = ModelConfig(defaults=quick)
        base = dict(roles=tuple(group_roles), backend=s.backend, model=s.model or "scripted",
                    base_urls=s.base_urls if s.backend == "openai" else ())
        t0 = time.monotonic()
        try:
            async with ModelClient(probe_config) as client:
                ask = lambda: client.ask(group_roles[0], PROBE_PROMPT, temperature=0.0,  # noqa: E731
                                         max_tokens=min(s.max_tokens or max_tokens, max_tokens))
                r = await ask()
                wait = r.retry_after_s
                if r.http_status == 429 and wait is not None and wait <= timeout_s - (time.monotonic() - t0):
                    await asyncio.sleep(wait)
                    r = await ask()
        except PrerequisiteError as exc:  # BackendError, a missing SDK
            return RoleProbe(**base, ok=False, error=str(exc))
        limited = r.status == "error" and r.http_status == 429
        return RoleProbe(**base, ok=r.status != "error", latency_s=r.latency_s, reply=r.text,
                         reasoning=r.reasoning, truncated=r.truncated, error=r.error, rate_limited=limited,
                         retry_after_s=r.retry_after_s if limited else None)

    async def main() -> list[RoleProbe]:
        return list(await asyncio.gather(*(one(g) for g in groups.values())))

    return asyncio.run(main())



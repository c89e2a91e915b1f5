"""``prover models``: check the model backends."""

from __future__ import annotations

import click

from prover.cli.common import echo_json, excerpt, print_table
from prover.cli.options import model_options


def _rate_limited(probe) -> str:
    wait = f"; Retry-After {probe.retry_after_s:g} s" if probe.retry_after_s is not None else ""
    return f"RATE-LIMITED (HTTP 429: reachable, over its rate limit{wait}; a run waits and retries)"


@click.group()
def models() -> None:
    """Check the model backends of each role."""


@models.command("test")
@model_options(select_roles=True)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds to wait for each answer.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def test(model_flags, roles, timeout, as_json) -> None:
    """Send one short request per configured role and show who answered (nothing is stored).

    Roles sharing a backend, model and URLs are asked once. Exits 3 when one cannot answer; a
    server answering HTTP 429 is reachable but rate-limited, which is reported, not a failure.
    With no model configured, every role runs the bundled wiring model (backend local).

    Example: prover models test --model deepseek-math-v2 --base-url http://127.0.0.1:8000/v1
    """
    from prover.core.errors import BackendError
    from prover.llm.config import load_model_config
    from prover.llm.probe import probe_roles

    probes = probe_roles(load_model_config(model_flags), roles, timeout_s=timeout)
    if as_json:
        echo_json([p.model_dump() for p in probes])
    else:
        print_table(
            [(", ".join(p.roles), p.backend, p.model, " ".join(p.base_urls),
              f"{p.latency_s:.2f} s" if p.latency_s is not None else "",
              (excerpt(p.reply, 60) + (" (truncated)" if p.truncated else "")) if p.ok
              else _rate_limited(p) if p.rate_limited else f"FAILED: {p.error}")
             for p in probes],
            ["roles", "backend", "model", "base URL", "latency", "reply"])
    failed = [p for p in probes if not p.ok and not p.rate_limited]
    if failed:
        raise BackendError("; ".join(f"{', '.join(p.roles)} ({p.backend} {p.model}) cannot answer: {p.error}"
                                     for p in failed))

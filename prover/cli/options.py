"""Option decorators shared by commands. ``model_options`` gives every model-using command the
same flags; they set defaults for all roles, and ``--role ROLE.KEY=VALUE`` overrides one role."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import click

from prover.core.errors import UsageError
from prover.llm.config import ModelFlags

_ROLE_HELP = ("Override one role's setting, e.g. prover.model=NAME or judge.base_url=URL "
              "(repeatable; roles: generator, verifier, meta_verifier, formalizer, prover, judge).")


def model_options(*, select_roles: bool = False, only_with: str | None = None
                  ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the model flags to a command; it receives them as one ``model_flags: ModelFlags``.
    With ``select_roles``, a ``--role ROLE`` without ``=`` names a role to act on, passed as
    ``roles: tuple[str, ...]``.

    When roles run the bundled wiring model (nothing configured, or ``--backend local``), the
    command ends by saying so (on stderr, so JSON output stays clean) — every model-using command,
    whether it succeeded or failed for a reason other than its usage. ``only_with``: the name of a
    flag of the command without which it uses no model (no note then)."""

    def decorator(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            role_values = kwargs.pop("role_values")
            selected = tuple(v.strip() for v in role_values if "=" not in v) if select_roles else ()
            overrides = tuple(v for v in role_values if v.strip() not in selected)
            kwargs["model_flags"] = ModelFlags(
                backend=kwargs.pop("backend"), model=kwargs.pop("model"),
                base_urls=kwargs.pop("base_urls"), api_key_env=kwargs.pop("api_key_env"),
                concurrency=kwargs.pop("concurrency"), temperature=kwargs.pop("temperature"),
                max_tokens=kwargs.pop("max_tokens"), role_overrides=overrides)
            if select_roles:
                kwargs["roles"] = selected
            uses_models = only_with is None or bool(kwargs.get(only_with))
            try:
                result = f(*args, **kwargs)
            except UsageError:
                raise
            except Exception:
                if uses_models:
                    echo_wiring_note(kwargs["model_flags"], selected)
                raise
            if uses_models:
                echo_wiring_note(kwargs["model_flags"], selected)
            return result

        role_help = _ROLE_HELP
        if select_roles:
            role_help = "A role to act on (repeatable), or ROLE.KEY=VALUE to override one role's setting."
        options = [
            click.option("--backend", help="Model backend for every role: openai, local, hf, vllm or scripted "
                                           "(outputs from the JSONL file in PROVER_SCRIPT) [default: local, "
                                           "the bundled wiring model, when no model is set]."),
            click.option("--model", help="Model name for every role (as the server knows it)."),
            click.option("--base-url", "base_urls", multiple=True, metavar="URL",
                         help="Server base URL, e.g. http://127.0.0.1:8000/v1 (repeat to spread load)."),
            click.option("--api-key-env", metavar="NAME",
                         help="Environment variable holding the API key [default: OPENAI_API_KEY]."),
            click.option("--concurrency", type=click.IntRange(min=1), help="Most model calls in flight per endpoint."),
            click.option("--temperature", type=click.FloatRange(min=0), help="Sampling temperature."),
            click.option("--max-tokens", type=click.IntRange(min=1), help="Completion token limit."),
            click.option("--role", "role_values", multiple=True, metavar="ROLE.KEY=VALUE", help=role_help),
        ]
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorator


def echo_wiring_note(model_flags: ModelFlags, roles: Sequence[str] = ()) -> None:
    """Print the wiring-model note (on stderr) when ``roles`` (default: all) run the bundled
    model under these flags."""
    from prover.core.errors import ProverError
    from prover.core.llm_records import ROLES
    from prover.llm.config import load_model_config
    from prover.llm.local_model import wiring_model_note

    try:
        note = wiring_model_note(load_model_config(model_flags), roles or ROLES)
    except (ProverError, ValueError):  # bad settings: the command has said what is wrong
        return
    if note:
        click.echo(note, err=True)

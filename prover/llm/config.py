"""Model settings from ``prover.toml``, ``PROVER_*`` environment variables and command-line
flags — flags win over the environment, which wins over the file.

prover.toml::

    [model]                       # defaults for every role
    backend = "openai"
    model = "deepseek-ai/DeepSeek-Math-V2"
    base_url = ["http://gpu1:8000/v1", "http://gpu2:8000/v1"]
    api_key_env = "OPENAI_API_KEY"   # the variable's NAME; keys live in the environment only
    concurrency = 256
    temperature = 1.0
    max_tokens = 32768

    [roles.prover]                # overrides for one role
    model = "Goedel-LM/Goedel-Prover-V2-32B"
    base_url = "http://gpu3:8000/v1"

Environment: ``PROVER_<KEY>`` sets a default (``PROVER_MODEL``, ``PROVER_BASE_URL`` — commas
separate several —, ``PROVER_CONCURRENCY``, ...); ``PROVER_<ROLE>_<KEY>`` overrides one role
(``PROVER_JUDGE_MODEL``, ``PROVER_META_VERIFIER_TEMPERATURE``).

Flags: ``--backend``, ``--model``, ``--base-url`` (repeatable), ``--api-key-env``,
``--concurrency``, ``--temperature``, ``--max-tokens`` set defaults; ``--role ROLE.KEY=VALUE``
overrides one role. A role's own override, from any source, beats a default from any source:
``--model X`` changes every role that does not name its own model.

With nothing configured — no backend, model or base URL for the defaults — every role runs the
bundled wiring model in-process (``backend = "local"``, Gemma 3 270M through llama.cpp, at most
256 completion tokens): the machinery works out of the box, and proves nothing.

Keys: the fields of :class:`RoleSettings` (``base_url`` and ``timeout`` are accepted for
``base_urls`` and ``timeout_s``)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from prover.core.errors import ConfigError
from prover.core.llm_records import (
    LOCAL_BACKEND, LOCAL_MAX_TOKENS, LOCAL_MODEL, ROLES, ModelConfig, RoleSettings)

CONFIG_FILE = "prover.toml"
CONFIG_ENV = "PROVER_CONFIG"


class ModelFlags(BaseModel):
    """The model flags of one command line (``None``/empty: not given)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str | None = None
    """``--backend``."""
    model: str | None = None
    """``--model``."""
    base_urls: tuple[str, ...] = ()
    """``--base-url``, repeatable."""
    api_key_env: str | None = None
    """``--api-key-env``: the name of the variable holding the API key."""
    concurrency: int | None = None
    """``--concurrency``."""
    temperature: float | None = None
    """``--temperature``."""
    max_tokens: int | None = None
    """``--max-tokens``."""
    role_overrides: tuple[str, ...] = ()
    """``--role ROLE.KEY=VALUE`` values, in order."""

    def defaults(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in ("backend", "model", "api_key_env", "concurrency", "temperature", "max_tokens"):
            value = getattr(self, name)
            if value is not None:
                values[name] = value
        if self.base_urls:
            values["base_urls"] = self.base_urls
        return values


_FIELDS = frozenset(RoleSettings.model_fields)


def setting_keys() -> list[str]:
    """Keys a user may set (field names)."""
    return sorted(_FIELDS)


def find_config_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$PROVER_CONFIG`` (which must exist), else ``./prover.toml`` if present, else None."""
    env = os.environ if environ is None else environ
    named = env.get(CONFIG_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={named}: no such file")
        return path
    path = Path(CONFIG_FILE)
    return path if path.is_file() else None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The whole TOML document."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_model_config(flags: ModelFlags | None = None, *, config_path: str | Path | None = None,
                      environ: Mapping[str, str] | None = None) -> ModelConfig:
    """Model settings from the config file, the environment and flags (flags win)."""
    env = os.environ if environ is None else environ
    flags = flags or ModelFlags()
    path = Path(config_path) if config_path is not None else find_config_file(env)
    doc = read_config_file(path) if path is not None else {}

    # Each layer maps field -> (value, where it came from), so a bad value names its source.
    defaults: dict[str, tuple[Any, str]] = {}
    roles: dict[str, dict[str, tuple[Any, str]]] = {r: {} for r in ROLES}

    if path is not None:
        _from_file(doc, str(path), defaults, roles)
    _from_env(env, defaults, roles)
    for name, value in flags.defaults().items():
        flag = "--base-url" if name == "base_urls" else "--" + name.replace("_", "-")
        defaults[name] = (value, flag)
    for item in flags.role_overrides:
        role, key, value = parse_role_override(item)
        roles[role][key] = (value, f"--role {item}")

    _apply_local_default(defaults, roles)
    base = _validate(defaults, {})
    overrides: dict[str, dict[str, Any]] = {}
    for role, layer in roles.items():
        if layer:
            _validate(layer, base.model_dump())  # names the source of a bad value
            overrides[role] = {k: v for k, (v, _) in layer.items()}
    return ModelConfig(defaults=base, roles=overrides)  # type: ignore[arg-type]


def _apply_local_default(defaults: dict[str, tuple[Any, str]],
                         roles: dict[str, dict[str, tuple[Any, str]]]) -> None:
    """The embedded default. With no backend, model or base URL configured anywhere for the
    defaults, every role runs the bundled wiring model through the ``local`` backend; a role that
    names its own model or base URL (and no backend) goes to the ``openai`` backend as before.

    A role whose backend differs from the defaults' in or out of ``local`` does not inherit the
    defaults' model, nor the bundled model's token limit: those belong to the other backend."""
    if not ({"backend", "model", "base_urls"} & defaults.keys()):
        defaults["backend"] = (LOCAL_BACKEND, "the default backend (no model configured)")
        for layer in roles.values():
            if "backend" not in layer and {"model", "base_urls"} & layer.keys():
                layer["backend"] = ("openai", "a role's own model or base URL")
    default_backend = defaults.get("backend", ("openai", ""))[0]
    limit_is_local = False
    if default_backend == LOCAL_BACKEND and defaults.get("model", (LOCAL_MODEL,))[0] == LOCAL_MODEL \
            and "max_tokens" not in defaults:
        defaults["max_tokens"] = (LOCAL_MAX_TOKENS, "the bundled model's token limit")
        limit_is_local = True
    for layer in roles.values():
        backend = layer.get("backend", (default_backend, ""))[0]
        if backend == default_backend or LOCAL_BACKEND not in (backend, default_backend):
            continue
        layer.setdefault("model", (None, "a role's own backend"))
        if backend == LOCAL_BACKEND and layer["model"][0] in (None, LOCAL_MODEL):
            layer.setdefault("max_tokens", (LOCAL_MAX_TOKENS, "the bundled model's token limit"))
        elif limit_is_local:
            layer.setdefault("max_tokens", (None, "a role's own backend"))


def parse_role_override(item: str) -> tuple[str, str, str]:
    """``ROLE.KEY=VALUE`` → (role, field, value)."""
    head, sep, value = item.partition("=")
    role, dot, key = head.partition(".")
    if not sep or not dot:
        raise ConfigError(f"--role {item}: expected ROLE.KEY=VALUE, e.g. judge.model=NAME")
    role = role.strip().lower()
    if role not in ROLES:
        raise ConfigError(f"--role {item}: unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role, _field(key, f"--role {item}"), value.strip()


def _field(key: str, where: str) -> str:
    name = RoleSettings.field_name(key)
    if name not in _FIELDS:
        raise ConfigError(f"{where}: unknown model setting {key!r} (settings: {', '.join(setting_keys())})")
    return name


def _from_file(doc: dict[str, Any], source: str, defaults: dict[str, tuple[Any, str]],
               roles: dict[str, dict[str, tuple[Any, str]]]) -> None:
    table = doc.get("model", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [model] must be a table")
    for key, value in table.items():
        defaults[_field(key, f"{source} [model]")] = (value, f"{source} [model] {key}")
    role_tables = doc.get("roles", {})
    if not isinstance(role_tables, dict):
        raise ConfigError(f"{source}: [roles] must hold tables such as [roles.prover]")
    for role, table in role_tables.items():
        if role not in ROLES:
            raise ConfigError(f"{source}: unknown role [roles.{role}] (roles: {', '.join(ROLES)})")
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [roles.{role}] must be a table")
        for key, value in table.items():
            where = f"{source} [roles.{role}]"
            roles[role][_field(key, where)] = (value, f"{where} {key}")


_ENV_KEYS = {k.upper(): k for k in _FIELDS} | {"BASE_URL": "base_urls", "TIMEOUT": "timeout_s"}


def _from_env(env: Mapping[str, str], defaults: dict[str, tuple[Any, str]],
              roles: dict[str, dict[str, tuple[Any, str]]]) -> None:
    prefixes = sorted(((r.upper() + "_", r) for r in ROLES), key=lambda p: -len(p[0]))
    for name, value in env.items():
        if not name.startswith("PROVER_"):
            continue
        rest = name[len("PROVER_"):]
        if rest in _ENV_KEYS:
            defaults[_ENV_KEYS[rest]] = (value, name)
            continue
        for prefix, role in prefixes:
            if rest.startswith(prefix) and rest[len(prefix):] in _ENV_KEYS:
                roles[role][_ENV_KEYS[rest[len(prefix):]]] = (value, name)
                break


def _validate(layer: dict[str, tuple[Any, str]], base: dict[str, Any]) -> RoleSettings:
    merged = dict(base)
    merged.update({k: v for k, (v, _) in layer.items()})
    try:
        return RoleSettings.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        source = layer.get(field, (None, "settings"))[1]
        raise ConfigError(f"{source}: {err['msg']}") from None

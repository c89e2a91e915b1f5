"""Where prover finds the shared benchmark data and the bundled sample problems."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"


def shared_dir() -> Path:
    """The shared data folder: ``$PROVER_SHARED``, default ``../shared`` from the working dir."""
    return Path(os.environ.get("PROVER_SHARED", "../shared")).resolve()


def sample_problems() -> Path:
    """The small problem file bundled with the package (used by the quick start)."""
    return PACKAGE_DATA / "sample_problems.jsonl"

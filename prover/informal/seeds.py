"""Seeds. Request seeds derive from (run seed, problem, stage, round, index); every random choice
of a search uses an RNG seeded by (run seed, problem, purpose, round). An identical command
therefore builds identical requests, whose answers the call cache holds."""

from __future__ import annotations

import random

from prover.core.hashing import sha256_text


def derive_seed(run_seed: int, problem_key: str, *parts: object) -> int:
    """A stable 31-bit seed for one request."""
    text = ":".join([str(run_seed), problem_key, *map(str, parts)])
    return int(sha256_text(text)[:8], 16) & 0x7FFFFFFF


def search_rng(run_seed: int, problem_key: str, purpose: str, round_: int) -> random.Random:
    """The RNG of one decision of one round of one problem."""
    return random.Random(int(sha256_text(f"rng:{run_seed}:{problem_key}:{purpose}:{round_}"), 16))

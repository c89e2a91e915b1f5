"""The rewards of DeepSeekMath-V2's reinforcement learning, as pure functions of model outputs and
scores (no model, no torch): ``prover train verifier|meta-verifier|generator --method grpo``
hands them to TRL. (``reward.py`` is something else: the optional scalar-head reward *model*.)

Verifier (the paper's equations 2–3), for an analysis ``V`` of a proof whose label is ``s``::

    R = R_format(V) · R_score(s′, s) · R_meta(V)

* ``R_format`` is 1 when the analysis has "Here is my evaluation of the solution:" and a
  ``\\boxed{}`` score after "Based on my evaluation, the final overall score should be:" — the
  informal engine's strict parser (:func:`prover.informal.parsers.parse_verdict`, status ``ok``)
  decides, so training rewards exactly what the search counts as a verdict; else 0.
* ``R_score(s′, s) = 1 − |s′ − s|``, ``s′`` the analysis's score, ``s`` the label on the
  verifier's scale (0 / 0.5 / 1), chosen among a proof's labels by :data:`RL_PRECEDENCE`
  (formal, then human, then informal: Lean's outcomes are the strongest signal).
* ``R_meta`` the meta-verifier's score of the analysis when a meta-verifier is used, else 1. A
  meta-verification without a strict score counts 0 (nothing vouches for the analysis).

Meta-verifier: the same on (problem, proof, analysis, meta-score) records — ``R_format`` by
:func:`prover.informal.parsers.parse_meta` (the marker 'Here is my analysis of the "solution
evaluation":' and a boxed rating after it), ``R_score`` against the record's meta-score, no
meta factor.

Generator (equations 5–6), for an output with proof ``Y`` and self-evaluation ``Z``::

    R = R_format(Y, Z) · (α · R_Y + β · R_Z),   α = 0.76, β = 0.24
    R_Y = s                         the verifier's score of the proof
    R_Z = R_score(s′, s) · R_meta(Z) s′ the self-evaluation's score

``R_format(Y, Z)`` is 1 when the output has its ``## Solution`` and ``## Self Evaluation``
sections and the self-evaluation is a strict verdict (marker, score phrase, boxed score). A proof
whose verifier gave no parsed score has ``R_Y = R_Z = 0``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from prover.core.label_records import label_score
from prover.informal.parsers import parse_generation, parse_meta, parse_verdict

ALPHA = 0.76
"""Weight of the proof's own score in the generator's reward."""
BETA = 0.24
"""Weight of the self-evaluation's faithfulness in the generator's reward."""
RL_PRECEDENCE: tuple[str, ...] = ("formal", "human", "informal")
"""Which label of a proof the rewards compare with, first present wins."""


@dataclass(frozen=True)
class Reward:
    """One reward and its factors (logged next to the total)."""

    total: float
    format: float
    """``R_format``: 1 or 0."""
    score: float
    """``R_score`` (verifier, meta-verifier); for the generator ``R_Y``, the verifier's score."""
    meta: float = 1.0
    """``R_meta`` (1 without a meta-verifier); for the generator the meta factor of ``R_Z``."""
    self_score: float | None = None
    """Generator only: ``R_Z``."""
    predicted: float | None = None
    """The score the output gave (``s′``), when it parsed."""


def score_reward(predicted: float | None, reference: float) -> float:
    """``R_score = 1 − |s′ − s|`` (0 when the output gave no score)."""
    if predicted is None:
        return 0.0
    return 1.0 - abs(predicted - reference)


def meta_factor(meta_score: float | None, *, used: bool) -> float:
    """``R_meta``: the meta-verifier's score when one is used (None, unparsed: 0), else 1."""
    if not used:
        return 1.0
    return 0.0 if meta_score is None else float(meta_score)


def choose_label(labels: Mapping[str, float | None], precedence: tuple[str, ...] = RL_PRECEDENCE
                 ) -> tuple[str, float] | None:
    """(source, label on the 0 / 0.5 / 1 scale) of the first source of ``precedence`` that
    labels the proof; None when none does."""
    for source in precedence:
        value = labels.get(source)
        if value is not None:
            return source, label_score(float(value))
    return None


def verifier_score(text: str | None, *, truncated: bool = False) -> float | None:
    """The score of a verifier output when it is in the contract's format (None otherwise)."""
    parsed = parse_verdict(text, truncated=truncated)
    return parsed.score if parsed.status == "ok" else None


def meta_score(text: str | None, *, truncated: bool = False) -> float | None:
    """The rating of a meta-verifier output when it is in the contract's format (None otherwise)."""
    parsed = parse_meta(text, truncated=truncated)
    return parsed.score if parsed.status == "ok" else None


def verifier_reward(analysis: str | None, label: float, *, meta: float | None = None, meta_used: bool = False,
                    truncated: bool = False) -> Reward:
    """``R_format(V) · R_score(s′, label) · R_meta(V)`` of one verifier output."""
    predicted = verifier_score(analysis, truncated=truncated)
    fmt = 1.0 if predicted is not None else 0.0
    score = score_reward(predicted, label)
    m = meta_factor(meta, used=meta_used)
    return Reward(total=fmt * score * m, format=fmt, score=score, meta=m, predicted=predicted)


def meta_verifier_reward(output: str | None, meta_label: float, *, truncated: bool = False) -> Reward:
    """``R_format · R_score(s′, meta_label)`` of one meta-verifier output."""
    predicted = meta_score(output, truncated=truncated)
    fmt = 1.0 if predicted is not None else 0.0
    score = score_reward(predicted, meta_label)
    return Reward(total=fmt * score, format=fmt, score=score, predicted=predicted)


def generator_format(output: str | None, *, truncated: bool = False) -> tuple[float, float | None]:
    """(``R_format(Y, Z)``, the self-evaluation's score ``s′``) of a generator output."""
    parsed = parse_generation(output, truncated=truncated)
    if parsed.status != "ok" or parsed.self_evaluation is None:
        return 0.0, None
    s = verifier_score(parsed.self_evaluation)
    return (1.0, s) if s is not None else (0.0, None)


def generator_reward(output: str | None, verifier: float | None, *, meta: float | None = None,
                     meta_used: bool = False, truncated: bool = False, alpha: float = ALPHA,
                     beta: float = BETA) -> Reward:
    """``R_format(Y, Z) · (α·R_Y + β·R_Z)`` of one generator output, ``verifier`` the verifier's
    score of its proof (None: no parsed verdict) and ``meta`` the meta-verifier's score of its
    self-evaluation."""
    fmt, predicted = generator_format(output, truncated=truncated)
    if verifier is None:
        r_y = r_z = 0.0
        m = meta_factor(meta, used=meta_used)
    else:
        r_y = float(verifier)
        m = meta_factor(meta, used=meta_used)
        r_z = score_reward(predicted, r_y) * m
    return Reward(total=fmt * (alpha * r_y + beta * r_z), format=fmt, score=r_y, meta=m, self_score=r_z,
                  predicted=predicted)

"""Scores of an evaluation as the benchmarks report them, the published figures shipped beside
them, and the comparison of two evaluations.

IMO-ProofBench: points as a percentage of the maximum (7 per problem), Basic and Advanced apart;
a problem without a grade counts 0. Intervals are 95% percentile bootstraps that resample
problems (each problem has one proof here, so problems and proofs coincide)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from prover.core.eval_records import MAX_POINTS, EvalComparison, EvalSummary, GroupScore, ProblemOutcome, \
    PublishedFigure
from prover.core.paths import PACKAGE_DATA

PUBLISHED = PACKAGE_DATA / "published.json"
BOOTSTRAP_RESAMPLES = 2000


def percent_of_max(points: Sequence[int]) -> float | None:
    """Points as a percentage of 7 per problem; None for no problem."""
    if not points:
        return None
    return 100.0 * sum(points) / (MAX_POINTS * len(points))


def bootstrap_interval(points: Sequence[int], *, resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = 0) -> tuple[float, float] | None:
    """95% percentile interval of :func:`percent_of_max`, resampling problems; None for fewer
    than two problems."""
    if len(points) < 2 or resamples <= 0:
        return None
    values = np.asarray(points, dtype=float)
    rng = np.random.default_rng(seed)
    draws = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    lo, hi = np.percentile(100.0 * draws / MAX_POINTS, [2.5, 97.5])
    return float(lo), float(hi)


def group_scores(outcomes: Sequence[ProblemOutcome], *, groups: Sequence[str] = (), seed: int = 0,
                 resamples: int = BOOTSTRAP_RESAMPLES) -> list[GroupScore]:
    """One score per group present (in ``groups`` order, then others), then ``all``."""
    present = list(dict.fromkeys([g for g in groups if any(o.split == g for o in outcomes)]
                                 + [o.split or "-" for o in outcomes]))
    out = []
    for name in present + ["all"]:
        members = [o for o in outcomes if name == "all" or (o.split or "-") == name]
        points = [o.score for o in members]
        out.append(GroupScore(group=name, problems=len(members), graded=sum(o.points is not None for o in members),
                              percent=percent_of_max(points),
                              ci=bootstrap_interval(points, seed=seed, resamples=resamples)))
    return out


@lru_cache(maxsize=1)
def _published() -> tuple[PublishedFigure, ...]:
    doc = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    return tuple(PublishedFigure.model_validate(f) for f in doc["figures"])


def published_figures(benchmark: str | None = None) -> list[PublishedFigure]:
    """The published figures shipped with prover (``prover/data/published.json``), each with
    its source; for one benchmark when named."""
    return [f for f in _published() if benchmark is None or f.benchmark == benchmark]


def compare_evaluations(a: EvalSummary, b: EvalSummary) -> EvalComparison:
    """Group scores and per-problem points of two evaluations side by side."""
    ga = {g.group: g.percent for g in a.groups}
    gb = {g.group: g.percent for g in b.groups}
    names = list(dict.fromkeys([*ga, *gb]))
    pb = {o.problem: o.points for o in b.outcomes}
    problems = [(o.problem, o.points, pb[o.problem]) for o in a.outcomes if o.problem in pb]
    return EvalComparison(a=a, b=b, groups=[(n, ga.get(n), gb.get(n)) for n in names], problems=problems)

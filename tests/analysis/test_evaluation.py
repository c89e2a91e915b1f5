"""Benchmark scores (percent of the maximum, problem-level bootstrap), published figures and the
comparison of evaluations."""

from __future__ import annotations

import pytest

from prover.analysis.evaluation import bootstrap_interval, compare_evaluations, group_scores, percent_of_max, \
    published_figures
from prover.core.eval_records import EvalSummary, ProblemOutcome


def _outcome(name, split, points):
    return ProblemOutcome(problem_id=0, problem=name, split=split, search_status="solved", points=points,
                          grade_status="ok" if points is not None else "no-proof")


def test_percent_and_interval():
    assert percent_of_max([7, 0, 7, 0]) == 50.0 and percent_of_max([]) is None
    assert bootstrap_interval([7]) is None
    assert bootstrap_interval([7, 7, 7]) == (100.0, 100.0)
    lo, hi = bootstrap_interval([7, 0] * 10, seed=1)
    assert lo < 50.0 < hi and bootstrap_interval([7, 0] * 10, seed=1) == (lo, hi)  # seeded


def test_group_scores_count_missing_grades_as_zero():
    outcomes = [_outcome("a", "basic", 7), _outcome("b", "basic", None), _outcome("c", "advanced", 6)]
    groups = group_scores(outcomes, groups=("basic", "advanced"), resamples=100)
    assert [(g.group, g.problems, g.graded) for g in groups] == [("basic", 2, 1), ("advanced", 1, 1), ("all", 3, 2)]
    assert [g.percent for g in groups] == pytest.approx([50.0, 600 / 7, 100 * 13 / 21])
    assert groups[1].ci is None  # one problem: no interval


def test_published_figures_name_their_sources():
    figures = published_figures()
    assert figures and all(f.source and f.metric for f in figures)
    pb = {(f.system, f.group): f for f in published_figures("imo-proofbench")}
    assert pb[("DeepSeekMath-V2 (Heavy)", "basic")].value == 99.0
    assert pb[("DeepSeekMath-V2 (Heavy)", "advanced")].value == 61.9
    assert pb[("Gemini Deep Think (IMO gold)", "basic")].approximate
    assert pb[("Gemini Deep Think (IMO gold)", "advanced")].value == 65.7
    assert {f.arxiv for f in pb.values()} == {"2511.22570", "2511.01846"}
    minif2f = {f.system: (f.value, f.metric, f.arxiv) for f in published_figures("minif2f")}
    assert minif2f["DeepSeek-Prover-V2-671B"] == (88.9, "pass@8192", "2504.21801")
    assert minif2f["Goedel-Prover-V2-32B"] == (88.1, "pass@32", "2508.03613")
    assert minif2f["Kimina-Prover Preview (72B)"] == (80.7, "pass@8192", "2504.11354")


def test_compare():
    a = EvalSummary(eval_id=1, benchmark="b", split="all", run_id=1,
                    outcomes=[_outcome("p", "basic", 7), _outcome("q", "basic", 0)])
    b = EvalSummary(eval_id=2, benchmark="b", split="all", run_id=2, outcomes=[_outcome("q", "basic", 6)])
    a = a.model_copy(update={"groups": group_scores(a.outcomes, resamples=10)})
    b = b.model_copy(update={"groups": group_scores(b.outcomes, resamples=10)})
    cmp = compare_evaluations(a, b)
    assert cmp.groups == [("basic", 50.0, pytest.approx(600 / 7)), ("all", 50.0, pytest.approx(600 / 7))]
    assert cmp.problems == [("q", 0, 6)]

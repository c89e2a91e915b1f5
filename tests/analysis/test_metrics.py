"""Every cross-check metric against values worked out by hand on small tables."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from prover.analysis.metrics import average_ranks, compute_metrics, parse_number
from prover.core.crosscheck_records import METRIC_NAMES, PairedValue
from prover.core.errors import UsageError


def table(rows):
    return [PairedValue(problem=p, proof_id=i, reference=r, candidate=c, excerpt=f"proof {i}")
            for p, i, r, c in rows]


# Reference: Lean-like 1/0. Candidate: mean verifier score in {0, 0.5, 1}. Both thresholds 1.
TABLE_A = table([
    ("p1", "a", 1, 1.0),
    ("p1", "b", 1, 0.5),
    ("p2", "c", 0, 1.0),
    ("p2", "d", 0, 0.0),
    ("p3", "e", 1, 1.0),
    ("p3", "f", 0, 0.5),
    ("p4", "g", 0, 0.0),
    ("p4", "h", 1, 0.0),
])


def test_table_a_by_hand():
    m = compute_metrics(TABLE_A, bootstrap=0)
    # candidate passes a, c, e; reference passes a, b, e, h
    assert (m.tp, m.fp, m.tn, m.fn) == (2, 1, 3, 2)
    assert m.n == 8 and m.problems == 4
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 4)
    assert m.f1 == pytest.approx(4 / 7)  # 2*2 / (2*2 + 1 + 2)
    assert m.accuracy == pytest.approx(5 / 8)
    # p_o = 5/8; p_e = (3*4 + 5*4) / 64 = 1/2; kappa = (5/8 - 1/2) / (1/2)
    assert m.kappa == pytest.approx(0.25)
    # deviations: ref ±1/2 each (sum sq 2), cand (.5,0,.5,-.5,.5,0,-.5,-.5) (sum sq 1.5),
    # cross sum 0.5 -> r = 0.5 / sqrt(3)
    assert m.pearson == pytest.approx(0.5 / math.sqrt(3))
    # average ranks: cand 0 -> 2, 0.5 -> 4.5, 1 -> 7: evenly spaced like the raw values
    assert m.spearman == pytest.approx(0.5 / math.sqrt(3))
    # positives a=1, b=.5, e=1, h=0 vs negatives c=1, d=0, f=.5, g=0:
    # a 3.5 + e 3.5 + b 2.5 + h 1 (two ties) = 10.5 of 16 pairs
    assert m.auc == pytest.approx(10.5 / 16)
    # bins: 1.0 -> {a,c,e} pass rate 2/3; 0.5 -> {b,f} 1/2; 0 -> {d,g,h} 1/3
    # ece = 3/8 * 1/3 + 2/8 * 0 + 3/8 * 1/3
    assert m.ece == pytest.approx(0.25)
    filled = {b.lo: (b.count, b.mean_candidate, b.reference_pass_rate)
              for b in m.reliability if b.count}
    assert filled == {0.0: (3, 0.0, pytest.approx(1 / 3)), 0.5: (2, 0.5, 0.5),
                      0.9: (3, 1.0, pytest.approx(2 / 3))}
    assert sum(b.count for b in m.reliability) == 8 and len(m.reliability) == 10
    assert m.disagreements == {"candidate_pass_reference_fail": ["c"],
                               "candidate_fail_reference_pass": ["b", "h"]}
    assert m.excerpts == {"b": "proof b", "c": "proof c", "h": "proof h"}
    assert m.notes == []


def test_thresholds_move_the_confusion_matrix():
    # Candidate threshold 0.5: b and f now pass too.
    m = compute_metrics(TABLE_A, candidate_threshold=0.5, bootstrap=0)
    assert (m.tp, m.fp, m.tn, m.fn) == (3, 2, 2, 1)
    assert m.precision == pytest.approx(3 / 5)
    # correlations and AUC use raw values, so thresholds leave them alone
    assert m.auc == pytest.approx(10.5 / 16)


def test_fraction_threshold_matches_divided_grade():
    # Grades 6/7 and 5/7 (a human score out of 7); threshold "6/7" passes exactly the 6s.
    rows = table([("p1", "x", 6 / 7, 1.0), ("p2", "y", 5 / 7, 1.0), ("p3", "z", 1.0, 0.0)])
    m = compute_metrics(rows, reference_threshold=parse_number("6/7"), bootstrap=0)
    assert (m.tp, m.fp, m.tn, m.fn) == (1, 1, 0, 1)


def test_parse_number():
    assert parse_number("6/7") == pytest.approx(6 / 7)
    assert parse_number(" 0.5 ") == 0.5
    assert parse_number("1") == 1.0
    for bad in ("abc", "1/0", ""):
        with pytest.raises(UsageError):
            parse_number(bad, what="--reference-threshold")


def test_average_ranks_with_ties():
    assert average_ranks(np.array([3.0, 1.0, 2.0, 2.0])).tolist() == [4.0, 1.0, 2.5, 2.5]
    assert average_ranks(np.array([5.0, 5.0, 5.0])).tolist() == [2.0, 2.0, 2.0]
    assert average_ranks(np.array([0.0, 0.5, 0.5, 1.0, 0.0])).tolist() == [1.5, 3.5, 3.5, 5.0, 1.5]


def test_spearman_with_ties_differs_from_pearson():
    rows = table([("p", str(i), r, c) for i, (r, c) in enumerate([(1, 1), (2, 2), (2, 3), (10, 4)])])
    m = compute_metrics(rows, reference_threshold=2, candidate_threshold=3, bootstrap=0)
    # ranks of reference 1, 2.5, 2.5, 4 against 1..4: 4.5 / sqrt(4.5 * 5)
    assert m.spearman == pytest.approx(math.sqrt(0.9))
    # raw: mean 3.75, deviations (-2.75, -1.75, -1.75, 6.25): 13.5 / sqrt(52.75 * 5)
    assert m.pearson == pytest.approx(13.5 / math.sqrt(52.75 * 5))


def test_perfect_and_inverted_auc():
    rows = table([("p", "1", 1, 0.9), ("p", "2", 1, 0.8), ("p", "3", 0, 0.1), ("p", "4", 0, 0.2)])
    assert compute_metrics(rows, bootstrap=0).auc == 1.0
    flipped = [r.model_copy(update={"reference": 1 - r.reference}) for r in rows]
    assert compute_metrics(flipped, bootstrap=0).auc == 0.0


def test_one_reference_class():
    rows = table([("p1", "a", 1, 1.0), ("p2", "b", 1, 0.0), ("p3", "c", 1, 1.0)])
    m = compute_metrics(rows, bootstrap=0)
    assert (m.tp, m.fp, m.tn, m.fn) == (2, 0, 0, 1)
    assert m.precision == 1.0 and m.recall == pytest.approx(2 / 3)
    # p_o = 2/3, p_e = (2*3 + 1*0) / 9 = 2/3 -> kappa 0
    assert m.kappa == pytest.approx(0.0)
    assert m.auc is None and m.pearson is None and m.spearman is None
    # bins: 1.0 -> pass rate 1 (gap 0); 0.0 -> pass rate 1 (gap 1): ece = 1/3
    assert m.ece == pytest.approx(1 / 3)
    assert any(n.startswith("auc undefined") and "pass" in n for n in m.notes)
    assert any("reference values are constant" in n for n in m.notes)


def test_both_raters_one_class():
    rows = table([("p1", "a", 1, 1.0), ("p2", "b", 1, 1.0)])
    m = compute_metrics(rows, bootstrap=0)
    assert (m.precision, m.recall, m.f1, m.accuracy) == (1.0, 1.0, 1.0, 1.0)
    assert m.kappa is None and any(n.startswith("kappa undefined") for n in m.notes)


def test_constant_candidate():
    rows = table([("p1", "a", 1, 0.5), ("p2", "b", 0, 0.5), ("p3", "c", 1, 0.5)])
    m = compute_metrics(rows, bootstrap=0)
    assert m.precision is None and m.recall == 0.0 and m.f1 == 0.0
    assert m.pearson is None and m.spearman is None
    assert m.auc == 0.5  # every pair tied
    assert m.ece == pytest.approx(abs(0.5 - 2 / 3))
    assert any("candidate values are constant" in n for n in m.notes)
    assert any(n.startswith("precision undefined") for n in m.notes)


def test_empty_selection_is_all_null_and_valid_json():
    m = compute_metrics([], bootstrap=100)
    assert (m.n, m.tp, m.fp, m.tn, m.fn) == (0, 0, 0, 0, 0)
    for name in METRIC_NAMES:
        assert getattr(m, name) is None
        assert m.ci[name] is None
    assert m.bootstrap.degenerate["auc"] == 100
    text = json.dumps(m.to_json_dict(), allow_nan=False)
    assert "NaN" not in text
    assert m.notes[0].startswith("no proof has both")


def test_candidate_outside_unit_interval_has_no_ece():
    rows = table([("p1", "a", 1, 7.0), ("p2", "b", 0, 3.0)])
    m = compute_metrics(rows, candidate_threshold=5, bootstrap=0)
    assert m.ece is None and m.reliability == []
    assert m.auc == 1.0
    assert any(n.startswith("ece undefined") for n in m.notes)


def test_nan_input_rejected():
    with pytest.raises(UsageError):
        compute_metrics(table([("p", "a", float("nan"), 1.0)]), bootstrap=0)


def _clustered(problem_of):
    """100 proofs, 10 per problem; every proof of a problem has the same values.
    Problems 0-5 agree on pass, 6-7 agree on fail, 8 is a false negative, 9 a false positive."""
    kinds = [(1, 1)] * 6 + [(0, 0)] * 2 + [(1, 0), (0, 1)]
    return [PairedValue(problem=problem_of(p, k), proof_id=f"{p}-{k}", reference=r, candidate=c)
            for p, (r, c) in enumerate(kinds) for k in range(10)]


def test_bootstrap_resamples_problems_not_proofs():
    by_problem = compute_metrics(_clustered(lambda p, k: f"P{p}"), bootstrap=1000, seed=0)
    by_proof = compute_metrics(_clustered(lambda p, k: f"P{p}-{k}"), bootstrap=1000, seed=0)
    assert by_problem.accuracy == by_proof.accuracy == pytest.approx(0.8)
    assert by_problem.bootstrap.problems == 10 and by_proof.bootstrap.problems == 100
    lo, hi = by_problem.ci["accuracy"]
    plo, phi = by_proof.ci["accuracy"]
    assert lo <= 0.8 <= hi and plo <= 0.8 <= phi
    # 10 independent units instead of 100: roughly sqrt(10) times wider
    assert (hi - lo) > 2 * (phi - plo)
    # resampling whole problems, accuracy moves in steps of one problem (1/10)
    assert round(lo * 10, 9) == int(round(lo * 10)) and round(hi * 10, 9) == int(round(hi * 10))


def test_bootstrap_is_seeded():
    a = compute_metrics(TABLE_A, bootstrap=300, seed=7)
    b = compute_metrics(TABLE_A, bootstrap=300, seed=7)
    c = compute_metrics(TABLE_A, bootstrap=300, seed=8)
    assert a.ci == b.ci
    assert a.bootstrap.degenerate == b.bootstrap.degenerate
    assert a.ci != c.ci or a.bootstrap.degenerate != c.bootstrap.degenerate


def test_degenerate_resamples_counted():
    # Two problems: one all reference-pass, one all reference-fail. A resample that draws the
    # same problem twice has one reference class, so AUC and recall-or-precision are undefined.
    rows = table([("A", "a1", 1, 1.0), ("A", "a2", 1, 0.5), ("B", "b1", 0, 0.0), ("B", "b2", 0, 0.5)])
    m = compute_metrics(rows, bootstrap=400, seed=3)
    rng = np.random.default_rng(3)
    same = sum(len(set(rng.integers(0, 2, size=2).tolist())) == 1 for _ in range(400))
    assert m.bootstrap.degenerate["auc"] == same
    assert 100 < same < 300
    assert m.bootstrap.degenerate["accuracy"] == 0
    # whenever defined the resample is the original table doubled: (1 + 1 + 1 + 0.5 tie) / 4
    assert m.ci["auc"] == [0.875, 0.875]


def test_single_problem_has_no_interval():
    m = compute_metrics(table([("p", "a", 1, 1.0), ("p", "b", 0, 0.0)]), bootstrap=50)
    assert m.accuracy == 1.0
    assert all(v is None for v in m.ci.values())
    assert any("fewer than two problems" in n for n in m.notes)

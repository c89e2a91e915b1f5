"""Final-answer extraction and comparison: normalised exact match, then math-verify, then (in
the search) a judge."""

from __future__ import annotations

import pytest

from prover.informal import answers as answers_module
from prover.informal.answers import answers_match, compare_answers, extract_answer, normalize_answer


@pytest.mark.parametrize("proof,answer", [
    ("... so $n = 1$. Hence \\boxed{n = 1}.", "n = 1"),
    ("\\boxed{3} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("Therefore the final answer is $2$. Done.", "$2$"),
    ("Answer: 17\nQED", "17"),
    ("We prove it for all n.", None),
    ("\\boxed{ }", None),
])
def test_extract_answer(proof, answer):
    assert extract_answer(proof) == answer


@pytest.mark.parametrize("a,b", [
    ("n = 1", "1"), ("$2$", "2"), ("\\dfrac{1}{2}", "\\frac{1}{2}"), ("\\left(1, 2\\right)", "(1,2)"),
    ("\\text{Yes}", "yes"), ("x=\\frac{3}{4}", "0.75"), ("4.", "4"),
])
def test_normalised_matches(a, b):
    assert answers_match(a, b) is True


def test_mismatches_and_undecided():
    assert answers_match("3", "2") is False
    assert answers_match(None, "2") is False
    assert answers_match("  ", "2") is False
    assert normalize_answer("$ n = 1 $") == "1"
    assert compare_answers(None, "2").method == "no-answer"
    assert compare_answers("$2$", "2").method == "exact"
    assert compare_answers("0.5", "\\frac{1}{2}").method == "number"


@pytest.mark.parametrize("answer,reference", [
    ("\\sqrt{2}", "2^{1/2}"),                      # radicals
    ("\\{1, 2, 3\\}", "\\{3, 2, 1\\}"),            # sets, any order
    ("(0, 1]", "0 < x \\leq 1"),                  # intervals
    ("\\frac{2}{4}", "0.5 + 0"),                   # fractions
    ("2\\sqrt{2}", "\\sqrt{8}"),
])
def test_math_verify_decides_equivalence(answer, reference):
    pytest.importorskip("math_verify")
    assert compare_answers(answer, reference) == answers_module.AnswerComparison(True, "math-verify")


@pytest.mark.parametrize("answer,reference", [
    ("\\{1, 2\\}", "\\{1, 2, 3\\}"),
    ("(0, 1)", "[0, 1]"),
    ("\\sqrt{3}", "\\sqrt{2}"),
])
def test_math_verify_decides_mismatch(answer, reference):
    pytest.importorskip("math_verify")
    assert compare_answers(answer, reference) == answers_module.AnswerComparison(False, "math-verify")


def test_answers_math_verify_cannot_read_go_to_the_judge():
    pytest.importorskip("math_verify")
    # Words are not mathematics to math-verify: it must not call them a mismatch.
    assert compare_answers("all odd primes", "every odd prime number") == answers_module.AnswerComparison(
        None, "undecided")


def test_without_math_verify_the_judge_decides(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "math_verify", None)  # what an environment without it imports
    monkeypatch.setattr(answers_module, "_warned", False)
    assert not answers_module.math_verify_available()
    with pytest.warns(RuntimeWarning, match="math-verify is not installed"):
        assert compare_answers("\\sqrt{2}", "2^{1/2}") == answers_module.AnswerComparison(None, "undecided")
    # Exact and numeric comparison need nothing.
    assert compare_answers("4048", "2112") == answers_module.AnswerComparison(False, "number")

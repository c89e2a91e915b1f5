"""Final-answer extraction and normalised comparison."""

from __future__ import annotations

import pytest

from prover.informal.answers import answers_match, extract_answer, normalize_answer


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
    assert answers_match("\\sqrt{2}", "2^{1/2}") is None  # a judge decides
    assert normalize_answer("$ n = 1 $") == "1"

"""Parsers never raise: every malformed output gives a typed result with a status."""

from __future__ import annotations

import pytest

from prover.informal.parsers import (
    boxed_contents, parse_generation, parse_judgement, parse_meta, parse_verdict, score_value, strip_thinking)

GOOD_VERDICT = """Here is my evaluation of the solution:
Step 1 is fine. Step 2 assumes $\\boxed{x}$ without proof.

Based on my evaluation, the final overall score should be:
\\boxed{0.5}"""


def test_strip_thinking():
    assert strip_thinking("<think>a \\boxed{1}</think>\nanswer") == "answer"
    assert strip_thinking("x</think>y</think> z ") == "z"
    assert strip_thinking("<think>still thinking") == ""
    assert strip_thinking(None) == ""
    assert strip_thinking("  plain ") == "plain"


def test_boxed_contents_nested_and_unclosed():
    assert boxed_contents(r"\boxed{\frac{1}{2}} and \boxed{1} \fbox{0}") == [r"\frac{1}{2}", "1", "0"]
    assert boxed_contents(r"\boxed {a\}b}") == [r"a\}b"]
    assert boxed_contents(r"\boxed{1} \boxed{unclosed") == ["1"]


@pytest.mark.parametrize("raw,value", [
    ("1", 1.0), ("1.0", 1.0), (" 0 ", 0.0), ("0.5", 0.5), (".5", 0.5), ("1/2", 0.5), (r"\frac{1}{2}", 0.5),
    (r"\dfrac12", 0.5), (r"\text{1}", 1.0), ("$0$", 0.0), (r"\textbf{0.5}", 0.5),
    ("2", None), ("0.7", None), ("yes", None), ("", None), ("1/0", None), ("-1", None),
])
def test_score_value(raw, value):
    assert score_value(raw) == value


def test_verdict_ok_and_last_box_counts():
    v = parse_verdict(GOOD_VERDICT)
    assert (v.score, v.status, v.parsed, v.reports_issues) == (0.5, "ok", True, True)
    # Several boxes after the phrase: the last counts.
    v = parse_verdict("Here is my evaluation of the solution: ok.\nthe final overall score should be: "
                      "\\boxed{0} no wait \\boxed{1}")
    assert (v.score, v.status) == (1.0, "ok")


def test_verdict_quoting_the_proofs_box_is_lenient():
    # The verifier quotes the proof's answer and its self-score, and never states its own score.
    text = ("Here is my evaluation of the solution:\nThe proof concludes $\\boxed{4048}$ and grades itself "
            "\\boxed{1}. I could not finish checking step 3.")
    v = parse_verdict(text)
    assert (v.score, v.lenient_score, v.status, v.parsed, v.reports_issues) == (None, 1.0, "lenient", False, False)
    # A box before the phrase does not count either: only what follows the last phrase.
    v = parse_verdict("It says \\boxed{1}. Based on my evaluation, the final overall score should be: "
                      "\\boxed{0}")
    assert (v.score, v.status) == (0.0, "missing_marker")
    # The phrase with nothing readable after it is not rescued by an earlier box.
    v = parse_verdict("Here is my evaluation of the solution: \\boxed{1}. The final overall score should be: ...")
    assert (v.score, v.lenient_score, v.status) == (None, 1.0, "lenient")


def test_verdict_drops_thinking():
    v = parse_verdict("<think>the final overall score should be \\boxed{0}</think>" + GOOD_VERDICT)
    assert v.score == 0.5 and not v.analysis.startswith("<think>")


def test_verdict_misspelling_and_bare_number():
    v = parse_verdict("Here is my evaluation of the solution: fine.\n"
                      "Based on my evaluation, the final overal score should be: \\boxed{1}")
    assert (v.score, v.status) == (1.0, "ok")
    v = parse_verdict("Here is my evaluation of the solution: fine.\n"
                      "Based on my evaluation, the final overall score should be: **1**")
    assert (v.score, v.status) == (1.0, "missing_marker")


def test_verdict_missing_parts():
    # Without the score phrase the last box is only a lenient reading: it never counts.
    v = parse_verdict("Looks right. \\boxed{1}")
    assert (v.score, v.lenient_score, v.status, v.parsed) == (None, 1.0, "lenient", False)
    v = parse_verdict("Here is my evaluation of the solution: no score at all")
    assert (v.score, v.status, v.parsed) == (None, "no_score", False)
    v = parse_verdict("Here is my evaluation... the final overall score should be: \\boxed{7}")
    assert (v.score, v.status) == (None, "bad_score")
    v = parse_verdict("Here is my evaluation of the solution: the final overall score should be: \\boxed{yes}")
    assert (v.score, v.status) == (None, "bad_score")
    assert parse_verdict("").status == "empty"
    assert parse_verdict(None).status == "empty"
    assert parse_verdict("<think>long thought, never closed").status == "empty"
    v = parse_verdict(GOOD_VERDICT, truncated=True)
    assert (v.score, v.status) == (None, "truncated")
    # A box cut off mid-way gives no score.
    assert parse_verdict("the final overall score should be: \\boxed{0.").status == "no_score"


@pytest.mark.parametrize("text", [
    "## Solution\nP.\n## Self Evaluation\nHere is my evaluation of the solution: good.\n"
    "Based on my evaluation, the final overall score should be: \\boxed{1}",
    "**Solution**\nP.\n\n**Self Evaluation**\nHere is my evaluation of the solution: good.\n"
    "Based on my evaluation, the final overall score should be: \\boxed{1}",
    "### Solution:\nP.\n### Self-Evaluation:\nHere is my evaluation of the solution: good. "
    "the final overall score should be \\boxed{1}",
    "<think>## Solution\nwrong\n## Self Evaluation\n\\boxed{0}</think>\n## Solution\nP.\n"
    "__Self Evaluation__\nHere is my evaluation of the solution: good. the final overall score should be \\boxed{1}",
])
def test_generation_headings(text):
    p = parse_generation(text)
    assert (p.proof, p.self_score, p.status, p.verifiable) == ("P.", 1.0, "ok", True)
    assert p.self_evaluation.startswith("Here is my evaluation")


def test_generation_malformed():
    p = parse_generation("Just a proof, no sections.")
    assert (p.proof, p.self_evaluation, p.status, p.verifiable) == ("Just a proof, no sections.", None,
                                                                     "missing_section", True)
    p = parse_generation("## Solution\nP.\n")
    assert (p.proof, p.status) == ("P.", "missing_section")
    # No headings but the evaluation sentence: the proof ends where it starts.
    p = parse_generation("P.\nHere is my evaluation of the solution: ok. final overall score should be \\boxed{0.5}")
    assert (p.proof, p.self_score, p.status) == ("P.", 0.5, "missing_section")
    p = parse_generation("## Solution\nP.\n## Self Evaluation\nI think it's fine.")
    assert (p.self_score, p.status) == (None, "no_score")
    p = parse_generation("## Solution\nP.\n## Self Evaluation\nthe final overall score should be \\boxed{3}")
    assert (p.self_score, p.status) == (None, "bad_score")
    p = parse_generation("## Solution\nP. halfway thr", truncated=True)
    assert (p.proof, p.status, p.verifiable) == ("P. halfway thr", "truncated", False)
    assert parse_generation("").status == "empty"
    assert parse_generation("## Solution\n\n## Self Evaluation\n\\boxed{1}").status == "empty"
    assert not parse_generation("<think>no end").verifiable


def test_meta():
    m = parse_meta('Here is my analysis of the "solution evaluation":\nThe issue is real.\n'
                   'Based on my analysis, I will rate the "solution evaluation" as: \\boxed{1}')
    assert (m.score, m.status) == (1.0, "ok")
    m = parse_meta("Here is my analysis of the “solution evaluation”: bogus. \\boxed{0}")
    assert (m.score, m.status) == (0.0, "ok")
    m = parse_meta("rating \\boxed{0.5}")
    assert (m.score, m.lenient_score, m.status) == (None, 0.5, "lenient")
    assert parse_meta("Here is my analysis of the \"solution evaluation\": \\boxed{2}").status == "bad_score"
    assert parse_meta("no box").status == "no_score"
    assert parse_meta("x", truncated=True).status == "truncated"
    assert parse_meta("").status == "empty"


def test_judgement():
    assert parse_judgement("They agree. \\boxed{yes}") is True
    assert parse_judgement("\\boxed{\\text{No}}") is False
    assert parse_judgement("\\boxed{maybe}") is None
    assert parse_judgement("yes") is None

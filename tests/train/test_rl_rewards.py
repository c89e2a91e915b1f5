"""The rewards of the reinforcement-learning methods against values computed by hand: format
failures, every (score, label) pair, the meta factor, and the generator's α/β mix."""

from __future__ import annotations

import pytest

from prover.train.rl_rewards import (ALPHA, BETA, RL_PRECEDENCE, choose_label, generator_format, generator_reward,
                                     meta_verifier_reward, score_reward, verifier_reward)

MARKER = "Here is my evaluation of the solution:"
PHRASE = "Based on my evaluation, the final overall score should be:"


def analysis(score: str, *, marker: bool = True, phrase: bool = True) -> str:
    text = (MARKER + "\n" if marker else "") + "Step 2 divides by zero.\n"
    return text + (PHRASE + " " if phrase else "The score is ") + f"\\boxed{{{score}}}"


def generation(self_score: str, **kw) -> str:
    proof = "Both numbers are even, so the sum is even."
    return f"## Solution\n{proof}\n\n## Self Evaluation\n{analysis(self_score, **kw)}"


META = 'Here is my analysis of the "solution evaluation":\nThe issue is real.\n' \
       'Based on my analysis, I will rate the "solution evaluation" as: \\boxed{%s}'


@pytest.mark.parametrize("predicted,label,expected", [
    (1.0, 1.0, 1.0), (1.0, 0.5, 0.5), (1.0, 0.0, 0.0),
    (0.5, 1.0, 0.5), (0.5, 0.5, 1.0), (0.5, 0.0, 0.5),
    (0.0, 1.0, 0.0), (0.0, 0.5, 0.5), (0.0, 0.0, 1.0),
    (None, 1.0, 0.0), (None, 0.0, 0.0),
])
def test_score_reward_is_one_minus_the_distance(predicted, label, expected):
    assert score_reward(predicted, label) == expected


@pytest.mark.parametrize("box,label,expected", [
    ("1", 1.0, 1.0), ("0.5", 1.0, 0.5), ("0", 1.0, 0.0), ("1", 0.0, 0.0), ("0", 0.0, 1.0),
    ("\\frac{1}{2}", 0.0, 0.5), ("0.5", 0.5, 1.0)])
def test_verifier_reward_of_well_formed_analyses(box, label, expected):
    r = verifier_reward(analysis(box), label)
    assert (r.total, r.format, r.score, r.meta) == (expected, 1.0, expected, 1.0)


@pytest.mark.parametrize("text,why", [
    (analysis("1", marker=False), "no 'Here is my evaluation' sentence"),
    (analysis("1", phrase=False), "a box, but not after the score phrase (lenient)"),
    (f"{MARKER}\nFine.\n{PHRASE} 1", "a bare score, no box"),
    (analysis("0.7"), "a score off the 0 / 0.5 / 1 scale"),
    (analysis("yes"), "not a score"),
    (f"{MARKER}\nFine.\n{PHRASE} \\boxed{{1", "the box is cut off"),
    ("<think>I should check step 2", "reasoning never closed"),
    ("", "empty"),
    (None, "no output"),
])
def test_verifier_format_failures_earn_nothing(text, why):
    r = verifier_reward(text, 1.0)
    assert (r.total, r.format) == (0.0, 0.0), why


def test_a_truncated_analysis_earns_nothing_however_well_it_reads():
    assert verifier_reward(analysis("1"), 1.0, truncated=True).total == 0.0


def test_reasoning_before_the_analysis_is_dropped():
    assert verifier_reward("<think>maybe \\boxed{0}</think>" + analysis("1"), 1.0).total == 1.0


@pytest.mark.parametrize("meta,used,expected", [(1.0, True, 1.0), (0.5, True, 0.5), (0.0, True, 0.0),
                                                (None, True, 0.0), (None, False, 1.0), (0.0, False, 1.0)])
def test_the_meta_factor_multiplies(meta, used, expected):
    # s' = 0.5 against label 1: R_score 0.5
    r = verifier_reward(analysis("0.5"), 1.0, meta=meta, meta_used=used)
    assert r.meta == expected and r.total == 0.5 * expected


def test_meta_verifier_reward():
    assert meta_verifier_reward(META % "1", 1.0).total == 1.0
    assert meta_verifier_reward(META % "0.5", 1.0).total == 0.5
    assert meta_verifier_reward(META % "0", 0.5).total == 0.5
    assert meta_verifier_reward(META % "0", 0.0).total == 1.0
    no_marker = "The issue is real. \\boxed{1}"
    r = meta_verifier_reward(no_marker, 1.0)
    assert (r.total, r.format) == (0.0, 0.0)
    assert meta_verifier_reward(META % "1", 1.0, truncated=True).total == 0.0


def test_alpha_and_beta_are_the_papers():
    assert (ALPHA, BETA) == (0.76, 0.24)


@pytest.mark.parametrize("self_box,s,meta,used,expected", [
    # R = 0.76 * s + 0.24 * (1 - |s' - s|) * R_meta
    ("1", 1.0, None, False, 1.0),
    ("1", 0.0, None, False, 0.0),                    # claims 1, verifier says 0: 0.76*0 + 0.24*0
    ("0", 0.0, None, False, 0.24),                   # honest about a wrong proof
    ("0.5", 1.0, None, False, 0.76 + 0.24 * 0.5),
    ("0.5", 0.5, None, False, 0.76 * 0.5 + 0.24),
    ("0", 1.0, None, False, 0.76),                   # too modest
    ("1", 1.0, 0.5, True, 0.76 + 0.24 * 0.5),        # the meta-verifier half-trusts the self-evaluation
    ("0", 0.0, 0.0, True, 0.0),
    ("1", 1.0, None, True, 0.76),                    # meta-verification unparsed: R_meta 0
])
def test_generator_reward(self_box, s, meta, used, expected):
    r = generator_reward(generation(self_box), s, meta=meta, meta_used=used)
    assert r.format == 1.0
    assert r.total == pytest.approx(expected, abs=1e-12)


def test_generator_format_failures_and_missing_verdicts():
    assert generator_format(generation("1")) == (1.0, 1.0)
    no_sections = "Both numbers are even, so the sum is even."
    no_self_marker = generation("1", marker=False)
    lenient_self = generation("1", phrase=False)
    only_solution = "## Solution\nBoth numbers are even."
    for text in (no_sections, no_self_marker, lenient_self, only_solution, "", None):
        r = generator_reward(text, 1.0)
        assert (r.total, r.format) == (0.0, 0.0), text
    assert generator_reward(generation("1"), 1.0, truncated=True).total == 0.0
    # no parsed verdict on the proof: neither R_Y nor R_Z
    r = generator_reward(generation("1"), None)
    assert (r.total, r.score, r.self_score) == (0.0, 0.0, 0.0)
    # custom weights
    assert generator_reward(generation("0"), 0.0, alpha=0.5, beta=0.5).total == 0.5


def test_labels_are_chosen_formal_then_human_then_informal():
    assert RL_PRECEDENCE == ("formal", "human", "informal")
    assert choose_label({"informal": 1.0, "human": 0.0, "formal": 1.0}) == ("formal", 1.0)
    assert choose_label({"informal": 1.0, "human": 6 / 7}) == ("human", 0.5)  # minor issues
    assert choose_label({"informal": 0.0, "formal": None}) == ("informal", 0.0)
    assert choose_label({}) is None
    assert choose_label({"informal": 1.0, "human": 0.0}, ("informal", "human")) == ("informal", 1.0)

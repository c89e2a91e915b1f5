"""Selection, analysis pairing, pass rule, result choice and the informal label."""

from __future__ import annotations

import random

from prover.core.informal_records import LabelPolicy
from prover.informal.pool import (
    PoolProof, PoolVerdict, best_proof, informal_label, meta_valid, pair_analyses, select_for_refinement)
from prover.informal.seeds import derive_seed, search_rng


def proof(round_, slot, scores, self_score=None, metas=None):
    metas = metas or {}
    return PoolProof(round=round_, slot=slot, text=f"p{round_}.{slot}", self_score=self_score, id=round_ * 100 + slot,
                     verdicts=[PoolVerdict(index=i, score=s, status="ok" if s is not None else "no_score",
                                           analysis=f"a{i}", id=1000 * slot + i, metas=metas.get(i, []))
                               for i, s in enumerate(scores)])


def test_selection_by_mean_then_self_score_and_seeded_ties():
    pool = [proof(0, 0, [1, 0]), proof(0, 1, [1, 1, 0.5], self_score=0), proof(0, 2, [1, 1, 0.5], self_score=1),
            proof(0, 3, [None, None]), proof(1, 0, [0, 0])]
    top = select_for_refinement(pool, 3, random.Random(1))
    assert [(p.round, p.slot) for p in top] == [(0, 2), (0, 1), (0, 0)]
    # proofs with no parsed verdict are never selected
    assert all(p.slot != 3 for p in select_for_refinement(pool, 10, random.Random(1)))
    # exact ties: the order depends on the seeded RNG only, and is reproducible
    ties = [proof(0, i, [0.5]) for i in range(6)]
    orders = {tuple(p.slot for p in select_for_refinement(ties, 6, random.Random(s))) for s in range(10)}
    assert len(orders) > 1
    assert select_for_refinement(ties, 3, search_rng(0, "c/x/h", "select", 1)) == \
        select_for_refinement(list(reversed(ties)), 3, search_rng(0, "c/x/h", "select", 1))


def test_pairing_puts_upheld_issues_first():
    p = proof(0, 0, [1, 0, 0.5, None, 0, 1], metas={1: [1.0], 2: [0.0], 4: [1.0]})
    chosen = pair_analyses(p, 6, random.Random(0), m=1, tau=1.0)
    indices = [v.index for v in chosen]
    assert set(indices[:2]) == {1, 4}  # upheld issue-reporting
    assert set(indices[2:4]) == {0, 5}  # no issues
    assert indices[4:] == [2]  # rejected by meta-verification; unparsed never chosen
    assert len(pair_analyses(p, 3, random.Random(0), m=1, tau=1.0)) == 3
    # without meta-verification every issue-reporting analysis counts as upheld
    assert {v.index for v in pair_analyses(p, 3, random.Random(0), m=0, tau=1.0)} == {1, 2, 4}


def test_meta_valid_majority():
    v = PoolVerdict(index=0, score=0, status="ok", analysis="", metas=[1.0, 0.5, None])
    assert meta_valid(v, 3, 1.0) is False
    assert meta_valid(v, 3, 0.5) is True
    assert meta_valid(v, 4, 0.5) is None
    assert meta_valid(v, 0, 1.0) is True


def test_pass_and_best():
    a, b = proof(0, 0, [1, 1, None, 1]), proof(0, 1, [1, 1])
    assert a.passed(3) and not b.passed(3) and b.passed(2)
    assert best_proof([b, a], 3) is a
    assert best_proof([proof(0, 0, [None])], 1) is None
    # equal on every key: the earliest wins
    c, d = proof(1, 0, [0.5]), proof(0, 5, [0.5])
    assert best_proof([c, d], 1) is d


def test_informal_label():
    policy = LabelPolicy(n=3, k=1, tau=1.0)
    lab = informal_label(proof(0, 0, [1, 1, 1, 0]), policy, m_verifications=4, m_meta=1)
    assert (lab.value, lab.reason) == (1.0, "no-issues")  # only the first n=3 count
    lab = informal_label(proof(0, 0, [1, 0.5, 0], metas={1: [1.0], 2: [1.0]}), policy, m_verifications=3, m_meta=1)
    assert (lab.value, lab.reason, lab.valid) == (0.0, "k-valid-lowest", 1)
    lab = informal_label(proof(0, 0, [1, 0.5, 0], metas={1: [1.0], 2: [0.0]}), policy, m_verifications=3, m_meta=1)
    assert (lab.value, lab.reason) == (None, "too-few-valid")
    lab = informal_label(proof(0, 0, [0, 0, 1], metas={0: [1.0], 1: [1.0]}), LabelPolicy(k=2), m_verifications=3,
                         m_meta=1)
    assert lab.value == 0.0 and lab.valid == 2
    lab = informal_label(proof(0, 0, [1, None]), policy, m_verifications=3, m_meta=1)
    assert (lab.value, lab.reason) == (None, "too-few-analyses")
    lab = informal_label(proof(0, 0, [1, 1, 0.5]), policy, m_verifications=3, m_meta=0)
    assert lab.value == 0.5  # no meta-verification: analyses are taken as they are


def test_derive_seed_is_stable_and_distinct():
    assert derive_seed(0, "c/x/h", "gen", 0, 1) == derive_seed(0, "c/x/h", "gen", 0, 1)
    assert len({derive_seed(s, "c/x/h", "gen", 0, i) for s in range(3) for i in range(50)}) == 150
    assert 0 <= derive_seed(7, "k", "verify") < 2 ** 31


def test_answer_mismatch_gives_zero_whatever_the_analyses_say():
    policy = LabelPolicy(n=3, k=1, tau=1.0)
    clean = proof(0, 0, [1, 1, 1])
    clean.answer, clean.answer_match = "4048", False
    lab = informal_label(clean, policy, m_verifications=3, m_meta=1)
    assert (lab.value, lab.reason, lab.analyses, lab.issue_reporting) == (0.0, "answer-mismatch", 3, 0)
    # ... even when the analyses alone give no label
    few = proof(0, 0, [1])
    few.answer, few.answer_match = "4048", False
    assert informal_label(few, policy, m_verifications=3, m_meta=1).reason == "answer-mismatch"
    # a matching or undecided answer leaves the consensus rule alone; so does a proof with no answer
    for answer, match in (("2112", True), ("2^{11}+64", None), (None, False), (None, None)):
        p = proof(0, 0, [1, 1, 1])
        p.answer, p.answer_match = answer, match
        assert informal_label(p, policy, m_verifications=3, m_meta=1).reason == "no-issues"


def _asked(scores_by_index, *, m, retries, size):
    """Drive a VerificationWaves plan with fixed answers (index -> score, None unparsed,
    'T' transient); returns the waves it asks."""
    from prover.informal.pool import VerificationWaves

    plan, waves = VerificationWaves(m=m, cap=m + retries, size=size), []
    while wave := plan.next_wave():
        waves.append(wave)
        for i in wave:
            s = scores_by_index.get(i, 1.0)
            plan.record(None if s == "T" else s, transient=s == "T")
    return waves


def test_verification_waves_stop_once_the_proof_cannot_pass():
    # full schedule: all M, then one retry per unparsed verdict
    assert _asked({1: None}, m=4, retries=2, size=None) == [[0, 1, 2, 3], [4]]
    # a parsed 0.5 in the first wave decides the proof: no second wave
    assert _asked({1: 0.5}, m=4, retries=2, size=2) == [[0, 1]]
    assert _asked({2: 0}, m=4, retries=2, size=2) == [[0, 1], [2, 3]]
    # the full schedule still asks every sample of a failing proof
    assert _asked({1: 0.5}, m=4, retries=2, size=None) == [[0, 1, 2, 3]]
    # an unparsed verdict is replaced by the next index, and waves never exceed M parsed
    assert _asked({0: None, 1: None}, m=3, retries=4, size=2) == [[0, 1], [2, 3], [4]]
    assert _asked({0: None, 1: None, 2: None}, m=2, retries=1, size=2) == [[0, 1], [2]]
    # a passing proof is asked exactly what the full schedule asks
    assert sum(_asked({}, m=8, retries=4, size=3), []) == sum(_asked({}, m=8, retries=4, size=None), [])
    # a transient failure ends the proof's verification (the rerun continues it)
    assert _asked({0: "T"}, m=4, retries=2, size=2) == [[0, 1]]


def test_waves_ask_a_prefix_of_the_full_schedule_with_the_same_outcome():
    rng = random.Random(7)
    for _ in range(300):
        m, retries, size = rng.randint(1, 6), rng.randint(0, 3), rng.randint(1, 4)
        answers = {i: rng.choice([1.0, 1.0, 1.0, 0.5, 0.0, None]) for i in range(m + retries)}
        full = sum(_asked(answers, m=m, retries=retries, size=None), [])
        waves = sum(_asked(answers, m=m, retries=retries, size=size), [])
        assert waves == full[:len(waves)]

        def passes(asked):
            parsed = [answers[i] for i in asked if answers[i] is not None][:m]
            return len(parsed) == m and all(s == 1.0 for s in parsed)

        assert passes(waves) == passes(full)

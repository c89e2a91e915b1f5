"""Lean check records: the verdict set, documented reason codes, the cache key, definitiveness."""

from __future__ import annotations

import pytest

from prover.core.lean_records import (DEFINITIVE_VERDICTS, LeanCheckRequest, LeanCheckResult, LeanLimits,
                                      LeanMessage, ReasonCode, Verdict, is_definitive, lean_cache_key)


def test_verdict_set_is_the_designed_one():
    assert {v.value for v in Verdict} == {
        "verified", "verified-answer-unchecked", "wrong-answer", "statement-mismatch", "rejected", "failed",
        "incomplete", "unsound-axioms", "timeout", "crashed", "unavailable", "incompatible"}
    assert Verdict("unsound-axioms") is Verdict.UNSOUND_AXIOMS and str(Verdict.FAILED) == "failed"


def test_reason_codes_are_unique_documented_strings():
    values = [c.value for c in ReasonCode]
    assert len(values) == len(set(values))
    for code in ReasonCode:
        assert code.__doc__ and code.__doc__ != ReasonCode.__doc__
        assert ReasonCode(code.value) is code and code == code.value


def test_definitive_verdicts():
    assert DEFINITIVE_VERDICTS == {Verdict.VERIFIED, Verdict.VERIFIED_ANSWER_UNCHECKED, Verdict.WRONG_ANSWER,
                                   Verdict.STATEMENT_MISMATCH, Verdict.REJECTED, Verdict.FAILED, Verdict.INCOMPLETE,
                                   Verdict.UNSOUND_AXIOMS, Verdict.INCOMPATIBLE}
    for v in (Verdict.TIMEOUT, Verdict.CRASHED, Verdict.UNAVAILABLE):
        assert not is_definitive(v)
    assert is_definitive(Verdict.INCOMPLETE, [ReasonCode.SORRY_WARNING])
    assert not is_definitive(Verdict.INCOMPLETE, [ReasonCode.AXIOMS_REPORT_MISSING])
    assert not is_definitive(Verdict.INCOMPLETE, [ReasonCode.CHECK_REPORT_MISSING])
    assert not is_definitive(Verdict.INCOMPLETE, ["tactic-mode-only"])


def _request(**kw) -> LeanCheckRequest:
    base = dict(assembled="theorem t : True := trivial\n\n#print axioms t\n", target="t", axioms_line=3,
                toolchain="leanprover/lean4:v4.27.0", mathlib_rev="a3a10db", repl_rev="8948401",
                screen_rules_version=1)
    return LeanCheckRequest(**(base | kw))


@pytest.mark.parametrize("change", [
    {"assembled": "theorem t : True := by trivial\n\n#print axioms t\n"},
    {"toolchain": "leanprover/lean4:v4.28.0"},
    {"mathlib_rev": "f897ebc"},
    {"repl_rev": None},
    {"screen_rules_version": 2},
    {"limits": LeanLimits(heartbeats=200_000)},
    {"limits": LeanLimits(time_s=60)},
    {"limits": LeanLimits(memory_mb=None)},
])
def test_cache_key_changes_with_everything_that_changes_a_verdict(change):
    assert _request().cache_key != _request(**change).cache_key


def test_cache_key_ignores_what_does_not():
    assert _request().cache_key == _request(target="other", axioms_line=99).cache_key
    r = _request()
    assert r.cache_key == lean_cache_key(r.file_hash, toolchain=r.toolchain, mathlib_rev=r.mathlib_rev,
                                         repl_rev=r.repl_rev, screen_rules_version=1, limits=LeanLimits())


def test_result_for_request_and_messages_on_the_wire():
    msg = LeanMessage.model_validate({"severity": "info", "pos": {"line": 3, "column": 0},
                                      "endPos": {"line": 3, "column": 13}, "data": "'t' does not depend on any axioms"})
    assert msg.to_wire() == {"severity": "info", "pos": {"line": 3, "column": 0}, "endPos": {"line": 3, "column": 13},
                             "data": "'t' does not depend on any axioms"}
    result = LeanCheckResult.for_request(_request(), verdict=Verdict.VERIFIED, backend="replay", messages=[msg],
                                         axioms=[], wall_time_s=1.5)
    assert result.cache_key == _request().cache_key and result.definitive and result.axioms == ()
    assert LeanCheckResult.model_validate_json(result.model_dump_json()) == result

"""Verdicts from recorded Lean output: every recorded response in the fixtures (the derived
message table, the REPL transcripts of v4.9 → v4.33, the Kimina `/verify` responses) goes
through the verdict logic, with expected verdicts written here.

Recorded responses never contain the `#prover_check` report of an assembled file (nobody ran
our files: ProverCheck was never compiled), so a recorded response alone is never `verified`.
The tests marked "synthetic" add an information message in the recorded shape of a REPL info
message (severity, pos at column 0, endPos) whose text is the report ProverCheck's source says it
logs, at the line where the assembled file puts its epilogue, to exercise the positive path.
`#print axioms` messages (the `guard_msgs` templates) no longer count for anything."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lean_replay import transcript

from prover.core.lean_records import ReasonCode as R
from prover.core.lean_records import Verdict as V
from prover.lean.epilogue import NONCE_PLACEHOLDER
from prover.lean.verdict import (is_heartbeat_error, is_sorry_warning, normalize_response, statement_verdict,
                                 verdict_from_outcome, verdict_from_response)

VENDORED = Path(__file__).parent.parent / "fixtures" / "lean"
GUARD = [json.loads(line) for line in (VENDORED / "guard_msgs.jsonl").read_text().splitlines()]


def guard(topic: str) -> str:
    return next(r["messages"] for r in GUARD if r["topic"] == topic)[0]["data"]


def v(response, **kw):
    kw.setdefault("axioms_line", None)
    return verdict_from_response(response, **kw)


# -- the derived message table ----------------------------------------------------------------

@pytest.fixture(scope="module")
def message_rows(fixtures_dir):
    rows = [json.loads(line) for line in (fixtures_dir / "lean-messages" / "lean_messages.jsonl").read_text()
            .splitlines()]
    assert len(rows) == 1034
    return rows


def row_key(r):
    m = re.search(r":(test/\S+)\.in .*request #(\d+)", r["source"])
    if m:
        return r["lean_toolchain"].split(":")[-1], m.group(1), int(m.group(2))
    m = re.search(r"(goedel-lean_workbook_\d+)\.json", r["source"])
    return ("kimina", m.group(1)) if m else None


EXPECTED = {
    ("v4.33.0-rc2", "test/Mathlib/test/20240209", 0): (V.INCOMPLETE, {R.SORRY_WARNING, R.SORRY_REPORTED,
                                                                       R.CHECK_REPORT_MISSING}),
    ("v4.33.0-rc2", "test/Mathlib/test/20240209", 1): (V.FAILED, {R.LEAN_ERROR, R.SORRY_REPORTED}),
    ("v4.33.0-rc2", "test/Mathlib/test/H20231020", 0): (V.INCOMPLETE, {R.CHECK_REPORT_MISSING}),
    ("v4.33.0-rc2", "test/Mathlib/test/H20231115", 2): (V.FAILED, {R.PROOF_INCOMPLETE}),
    ("v4.33.0-rc2", "test/Mathlib/test/exact", 2): (V.INCOMPLETE, {R.TACTIC_MODE_ONLY}),
    ("v4.33.0-rc2", "test/Mathlib/test/exact", 4): (V.FAILED, {R.LEAN_ERROR}),
    ("v4.33.0-rc2", "test/Mathlib/test/induction", 4): (V.INCOMPLETE, {R.SORRY_REPORTED}),
    ("v4.33.0-rc2", "test/have_by_sorry", 0): (V.FAILED, {R.LEAN_ERROR, R.SORRY_REPORTED, R.CHECK_REPORT_MISSING}),
    ("v4.33.0-rc2", "test/app_type_mismatch2", 4): (V.FAILED, {R.PROOF_INCOMPLETE}),
    ("v4.33.0-rc2", "test/Mathlib/test/placeholder_synthesis", 4): (V.FAILED, {R.PROOF_INCOMPLETE}),
    ("v4.33.0-rc2", "test/unknown_environment", 0): (V.CRASHED, {R.BACKEND_ERROR}),
    ("v4.33.0-rc2", "test/variables", 1): (V.INCOMPLETE, {R.CHECK_REPORT_MISSING}),
    ("v4.26.0", "test/Mathlib/test/20240209", 0): (V.INCOMPLETE, {R.SORRY_WARNING, R.SORRY_REPORTED,
                                                                   R.CHECK_REPORT_MISSING}),
    ("v4.19.0", "test/Mathlib/test/exact", 2): (V.INCOMPLETE, {R.TACTIC_MODE_ONLY}),
    ("v4.19.0", "test/assumption_proof", 1): (V.INCOMPLETE, {R.TACTIC_MODE_ONLY}),
    ("v4.15.0", "test/Mathlib/test/exact", 4): (V.FAILED, {R.LEAN_ERROR}),
    ("v4.9.0", "test/Mathlib/test/20240209", 0): (V.INCOMPLETE, {R.SORRY_WARNING, R.SORRY_REPORTED,
                                                                  R.CHECK_REPORT_MISSING}),
    ("v4.9.0", "test/Mathlib/test/20240209", 1): (V.FAILED, {R.LEAN_ERROR, R.TACTIC_MODE_ONLY}),
    ("v4.9.0", "test/Mathlib/test/H20231115", 2): (V.FAILED, {R.PROOF_INCOMPLETE}),
    ("v4.9.0", "test/def_eval", 1): (V.INCOMPLETE, {R.CHECK_REPORT_MISSING}),
    ("kimina", "goedel-lean_workbook_10009"): (V.INCOMPLETE, {R.CHECK_REPORT_MISSING}),
    ("kimina", "goedel-lean_workbook_1001"): (V.INCOMPLETE, {R.CHECK_REPORT_MISSING}),
    ("kimina", "goedel-lean_workbook_10036"): (V.TIMEOUT, {R.WALL_TIMEOUT}),
}


def test_selected_recorded_responses_give_the_expected_verdicts(message_rows):
    by_key = {row_key(r): r for r in message_rows if r["response"] is not None}
    for key, (verdict, reasons) in EXPECTED.items():
        result = v(by_key[key]["response"])
        assert (result.verdict, set(result.reasons)) == (verdict, reasons), key


def test_every_recorded_response_obeys_the_rules(message_rows):
    seen = {V.FAILED: 0, V.INCOMPLETE: 0, V.CRASHED: 0, V.TIMEOUT: 0}
    for r in message_rows:
        resp = r["response"]
        if resp is None:
            continue
        result = v(resp)
        norm = normalize_response(resp)
        assert "unrecognised" not in (norm.detail or ""), r["source"]
        assert result.verdict not in (V.VERIFIED, V.VERIFIED_ANSWER_UNCHECKED), r["source"]
        assert not result.definitive or result.verdict is V.FAILED or R.SORRY_REPORTED in result.reasons \
            or R.SORRY_WARNING in result.reasons, r["source"]
        errors = [m for m in r["messages"] if m["severity"] == "error"]
        if "message" in resp and "messages" not in resp:
            want = V.FAILED if resp["message"].startswith("Lean error") else V.CRASHED
            assert result.verdict is want, r["source"]
        elif r["origin"] == "kimina-verify-response":
            want = V.TIMEOUT if resp["error"] else V.INCOMPLETE
            assert result.verdict is want, r["source"]
        elif errors:
            assert result.verdict is V.FAILED and R.LEAN_ERROR in result.reasons, r["source"]
        elif "proofStatus" in resp or "goals" in resp:
            # tactic mode: open goals, metavariables or a kernel failure fail; the rest is incomplete
            done = resp.get("proofStatus") in (None, "Completed", "Incomplete: contains sorry")
            assert result.verdict is (V.INCOMPLETE if done and not resp.get("goals") else V.FAILED), r["source"]
        elif any(is_sorry_warning(m["data"]) for m in r["messages"]) or resp.get("sorries"):
            assert result.verdict is V.INCOMPLETE, r["source"]
        else:
            assert result.reasons == [R.CHECK_REPORT_MISSING], r["source"]
        seen[result.verdict] += 1
    assert all(seen.values()), seen


def test_sorry_warning_in_every_recorded_wording(message_rows):
    wordings = {m["data"] for r in message_rows for m in r["messages"] if "declaration uses" in m["data"]}
    assert wordings == {"declaration uses 'sorry'", "declaration uses `sorry`"}
    assert all(is_sorry_warning(w) for w in wordings)
    assert not is_sorry_warning("this declaration uses no sorry at all")


# -- REPL transcripts, every snapshot ----------------------------------------------------------

def test_repl_transcripts_of_every_version(fixtures_dir):
    root = fixtures_dir / "lean-repl"
    ins = sorted(root.glob("test/**/*.in")) + sorted(root.glob("older-toolchains/*/test/**/*.in"))
    versions, pairs = set(), 0
    for path in ins:
        if not path.with_suffix(".expected.out").exists():
            continue
        version = path.relative_to(root).parts[1] if path.relative_to(root).parts[0] == "older-toolchains" \
            else "v4.33.0-rc2"
        versions.add(version)
        for request, response in transcript(path):
            pairs += 1
            result = v(response)
            assert result.verdict not in (V.VERIFIED, V.VERIFIED_ANSWER_UNCHECKED), path
            if isinstance(response, dict) and any(m.get("severity") == "error" for m in response.get("messages", [])):
                assert result.verdict in (V.FAILED, V.TIMEOUT), path
    assert versions == {"v4.9.0", "v4.15.0", "v4.19.0", "v4.26.0", "v4.33.0-rc2"}
    assert pairs > 900


def test_vendored_transcripts_both_wordings():
    for version, wording in (("v4.9.0", "declaration uses 'sorry'"), ("v4.33.0-rc2", "declaration uses `sorry`")):
        pairs = transcript(VENDORED / "repl" / version / "20240209.in")
        first = pairs[0][1]
        assert first["messages"][0]["data"] == wording
        result = v(first)
        assert result.verdict is V.INCOMPLETE and R.SORRY_WARNING in result.reasons
        tactic = v(pairs[1][1])
        assert tactic.verdict is V.FAILED and R.LEAN_ERROR in tactic.reasons
        bad_premise = v(transcript(VENDORED / "repl" / version / "invalid_tactic.in")[1][1])
        assert bad_premise.verdict is V.FAILED


# -- the epilogue's report (synthetic responses: recorded message shapes, ProverCheck's text) -----

AXIOMS_LINE = 12
NONCE = "3f9a0c1d2e4b5a6978877665544332211"[:32]


def report(nonce: str = NONCE_PLACEHOLDER, status: str = "ok", type_: str = "match",
           axioms: str = "propext,Classical.choice,Quot.sound", sorry: int = 0, other: int = 0, used: str = "-") -> str:
    """The text ProverCheck.lean's `Outcome.render` produces."""
    return (f"prover_check 1 nonce={nonce} status={status} type={type_} axioms={axioms} sorry={sorry} "
            f"other={other} used={used}")


GOOD = report()


def with_report(data: str | None, *, line: int | None = AXIOMS_LINE, base: dict | None = None) -> dict:
    """Synthetic: a recorded clean command response plus one info message in the recorded shape."""
    resp = json.loads(json.dumps(base or {"env": 0}))
    if data is not None:
        msg = {"severity": "info", "data": data}
        if line is not None:
            msg |= {"pos": {"line": line, "column": 0}, "endPos": {"line": line, "column": 60}}
        resp.setdefault("messages", []).append(msg)
    return resp


@pytest.mark.parametrize("data, verdict, reasons", [
    (report(), V.VERIFIED, set()),
    (report(axioms="-"), V.VERIFIED, set()),
    (report(axioms="propext"), V.VERIFIED, set()),
    (report(axioms="propext", sorry=1), V.INCOMPLETE, {R.SORRY_AXIOM}),
    (report(axioms="-", other=2), V.UNSOUND_AXIOMS, {R.NONSTANDARD_AXIOMS}),
    (report(type_="mismatch"), V.STATEMENT_MISMATCH, {R.STATEMENT_MISMATCH}),
    (report(type_="mismatch", other=1), V.STATEMENT_MISMATCH, {R.STATEMENT_MISMATCH, R.NONSTANDARD_AXIOMS}),
    (report(status="not-theorem", type_="unchecked"), V.STATEMENT_MISMATCH, {R.TARGET_NOT_CHECKABLE}),
    (report(status="missing-target", type_="unchecked", axioms="-"), V.STATEMENT_MISMATCH,
     {R.TARGET_NOT_CHECKABLE}),
    (report(status="universes", type_="unchecked"), V.STATEMENT_MISMATCH, {R.TARGET_NOT_CHECKABLE}),
    # the report is compared whole: any other text at the epilogue's line is a forgery
    (report(nonce=NONCE), V.FAILED, {R.CHECK_REPORT_INVALID}),
    (report() + " ", V.FAILED, {R.CHECK_REPORT_INVALID}),
    (report() + "\nprover_check 1", V.FAILED, {R.CHECK_REPORT_INVALID}),
    (report(axioms="Quot.sound,propext"), V.FAILED, {R.CHECK_REPORT_INVALID}),
    (report(axioms="propext,propext"), V.FAILED, {R.CHECK_REPORT_INVALID}),
    (report(status="ok", type_="unchecked"), V.FAILED, {R.CHECK_REPORT_INVALID}),
    (report(status="bogus", type_="unchecked"), V.FAILED, {R.CHECK_REPORT_INVALID}),
    (report().replace("prover_check 1", "prover_check 2"), V.FAILED, {R.CHECK_REPORT_INVALID}),
    ("'two_add_two' depends on axioms: [propext]", V.FAILED, {R.CHECK_REPORT_INVALID}),
    ("Try this: exact foo", V.FAILED, {R.CHECK_REPORT_INVALID}),
])
def test_synthetic_check_reports(data, verdict, reasons):
    result = v(with_report(data), axioms_line=AXIOMS_LINE, target="two_add_two")
    assert (result.verdict, set(result.reasons)) == (verdict, reasons)
    assert result.definitive


def test_recorded_print_axioms_reports_no_longer_count():
    """The recorded `#print axioms` outputs (guard_msgs), even at the epilogue's line, are not a
    report: the old dotted-suffix matching is gone."""
    for topic in ("standard axioms", "native_decide", "custom axiom"):
        result = v(with_report(guard(topic)), axioms_line=AXIOMS_LINE, target="run'_refines")
        assert result.verdict is V.FAILED and result.reasons == [R.CHECK_REPORT_INVALID]
        assert v(with_report(guard(topic), line=3), axioms_line=AXIOMS_LINE).reasons == [R.CHECK_REPORT_MISSING]


def test_the_nonce_of_this_check_is_required():
    assert v(with_report(report(nonce=NONCE)), axioms_line=AXIOMS_LINE, nonce=NONCE).verdict is V.VERIFIED
    other = v(with_report(report()), axioms_line=AXIOMS_LINE, nonce=NONCE)
    assert other.verdict is V.FAILED and other.reasons == [R.CHECK_REPORT_INVALID]
    assert "another nonce" in other.notes[0]


def test_synthetic_report_only_counts_at_the_epilogue_line():
    # a proof can print this text with `trace`, but only at one of its own lines
    early = v(with_report(GOOD, line=AXIOMS_LINE - 3), axioms_line=AXIOMS_LINE)
    assert early.verdict is V.INCOMPLETE and early.reasons == [R.CHECK_REPORT_MISSING] and not early.definitive
    assert v(with_report(GOOD, line=None), axioms_line=AXIOMS_LINE).reasons == [R.CHECK_REPORT_MISSING]
    # a clean fake earlier does not hide a real sorryAx at the right line: it spoils the check
    fake_then_real = with_report(report(sorry=1), base=with_report(GOOD, line=AXIOMS_LINE - 1))
    assert v(fake_then_real, axioms_line=AXIOMS_LINE).verdict in (V.INCOMPLETE, V.FAILED)
    # two messages at the epilogue's line: never verified
    twice = with_report(GOOD, base=with_report(GOOD))
    assert v(twice, axioms_line=AXIOMS_LINE).reasons == [R.CHECK_REPORT_INVALID]
    # Kimina strips the import lines: positions move up by that many
    assert v(with_report(GOOD, line=AXIOMS_LINE - 3), axioms_line=AXIOMS_LINE, line_offset=3).verdict is V.VERIFIED


def test_synthetic_errors_and_warnings_beat_a_clean_report():
    good = GOOD
    base = {"messages": [{"severity": "warning", "pos": {"line": 3, "column": 0}, "data": "declaration uses 'sorry'"}]}
    assert v(with_report(good, base=base), axioms_line=AXIOMS_LINE).verdict is V.INCOMPLETE
    base = {"messages": [{"severity": "error", "pos": {"line": 3, "column": 0}, "data": "unsolved goals"}]}
    assert v(with_report(good, base=base), axioms_line=AXIOMS_LINE).verdict is V.FAILED
    base = {"messages": [], "sorries": [{"proofState": 0, "goal": "⊢ False"}]}
    assert v(with_report(good, base=base), axioms_line=AXIOMS_LINE).verdict is V.INCOMPLETE
    base = {"messages": [{"severity": "weird", "data": "?"}]}
    assert v(with_report(good, base=base), axioms_line=AXIOMS_LINE).verdict is V.FAILED
    # linter warnings and infos elsewhere are fine
    base = {"messages": [{"severity": "warning", "pos": {"line": 3, "column": 0}, "data": "unused variable `h`"},
                         {"severity": "info", "pos": {"line": 4, "column": 0}, "data": "Try this: simp"}]}
    assert v(with_report(good, base=base), axioms_line=AXIOMS_LINE).verdict is V.VERIFIED


def test_synthetic_answer_slots():
    good = with_report(GOOD)
    unchecked = v(good, axioms_line=AXIOMS_LINE, answer_filled=True)
    assert unchecked.verdict is V.VERIFIED_ANSWER_UNCHECKED and unchecked.reasons == [R.ANSWER_UNCHECKED]
    assert unchecked.definitive
    assert v(good, axioms_line=AXIOMS_LINE, answer_filled=True, answer_checked=True).verdict is V.VERIFIED


@pytest.mark.parametrize("topic, verdict, reason", [
    ("maxHeartbeats", V.TIMEOUT, R.HEARTBEAT_LIMIT),
    ("maxHeartbeats (older single-line format)", V.TIMEOUT, R.HEARTBEAT_LIMIT),
    ("maxHeartbeats nested in tactic error", V.TIMEOUT, R.HEARTBEAT_LIMIT),
    ("kernel heartbeat timeout", V.TIMEOUT, R.HEARTBEAT_LIMIT),
    ("maxRecDepth", V.FAILED, R.LEAN_ERROR),
    ("admit", V.INCOMPLETE, R.SORRY_WARNING),
])
def test_synthetic_guard_msgs_messages(topic, verdict, reason):
    """Synthetic: each recorded `#guard_msgs` output (severity and text) placed in a response."""
    row = next(r for r in GUARD if r["topic"] == topic)
    messages = [dict(m, pos={"line": 5, "column": 2}) for m in row["messages"]]
    result = v(with_report(GOOD, base={"messages": messages}), axioms_line=AXIOMS_LINE)
    assert result.verdict is verdict and reason in result.reasons
    if verdict is V.TIMEOUT:
        assert is_heartbeat_error(messages[0]["data"]) and not result.definitive


# -- outcomes and response shapes ---------------------------------------------------------------

def test_outcomes_without_a_response():
    assert verdict_from_outcome("timeout").verdict is V.TIMEOUT
    assert verdict_from_outcome("memory").verdict is V.CRASHED
    assert verdict_from_outcome("crashed", "segfault").notes == ["segfault"]
    assert verdict_from_outcome("unavailable").verdict is V.UNAVAILABLE
    for outcome in ("timeout", "memory", "crashed", "unavailable"):
        assert not verdict_from_outcome(outcome).definitive
    with pytest.raises(ValueError):
        verdict_from_outcome("bogus")
    assert v(None).verdict is V.CRASHED
    assert v("not json").verdict is V.CRASHED
    assert v({"unexpected": 1}).verdict is V.CRASHED


def test_kimina_shapes():
    timeout = {"results": [{"custom_id": "x", "error": "Lean process timed out", "response": None}]}
    assert v(timeout).verdict is V.TIMEOUT
    other = {"results": [{"custom_id": "x", "error": "REPL died", "response": None}]}
    assert v(other).verdict is V.CRASHED
    clean = {"results": [{"custom_id": "x", "error": None, "response": {"time": 1.0}}]}
    assert v(clean).reasons == [R.CHECK_REPORT_MISSING]
    api_check = {"results": [{"id": "x", "time": 0.1, "error": None,
                              "response": with_report(GOOD)}]}
    assert v(api_check, axioms_line=AXIOMS_LINE).verdict is V.VERIFIED
    assert v({"results": []}).verdict is V.CRASHED


def test_file_mode_json_lines():
    lines = [{"severity": "information", "pos": {"line": AXIOMS_LINE, "column": 0}, "fileName": "x.lean",
              "data": GOOD, "caption": "", "endPos": None}]
    result = v(lines, axioms_line=AXIOMS_LINE)
    assert result.verdict is V.VERIFIED and result.messages[0].severity == "info"


def test_statement_check():
    assert statement_verdict({"messages": [{"severity": "warning", "data": "declaration uses 'sorry'"}],
                              "env": 0}).verdict is V.VERIFIED
    bad = statement_verdict({"messages": [{"severity": "error", "data": "unknown identifier 'foo'"}], "env": 0})
    assert bad.verdict is V.INCOMPATIBLE and bad.reasons == [R.STATEMENT_DOES_NOT_ELABORATE] and bad.definitive
    assert statement_verdict({"results": [{"error": "Lean process timed out", "response": None}]}).verdict \
        is V.TIMEOUT


def test_malformed_messages_make_the_response_unusable():
    assert v({"messages": ["error: something"], "env": 0}).verdict is V.CRASHED
    assert v({"messages": {"severity": "error"}, "env": 0}).verdict is V.CRASHED
    assert v([{"severity": "info", "data": "x"}, "junk"]).verdict is V.CRASHED

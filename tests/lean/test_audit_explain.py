"""`audit` and `explain`, the two public functions the CLI calls, on recorded Kimina runs:
a real prover output, the problem its statement defines, and the server's recorded answer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from prover.core.errors import UsageError
from prover.core.lean_records import ReasonCode as R
from prover.core.lean_records import Verdict as V
from prover.lean import audit, explain
from prover.lean.epilogue import NONCE_PLACEHOLDER
from prover.lean.verdict import kimina_header_lines

VENDORED = Path(__file__).parent.parent / "fixtures" / "lean" / "kimina"


def problem_of(proof: str) -> str:
    m = re.search(r"^theorem .*?:=\s*by", proof, re.S | re.M)
    return proof[: m.end()] + " sorry\n"


def with_check_report(response: dict, line: int) -> dict:
    """Synthetic: the recorded response plus the epilogue's report for a clean proof — an info
    message in the recorded shape with the text ProverCheck logs (never produced by Lean here)."""
    response = json.loads(json.dumps(response))
    inner = response["results"][0]["response"]
    data = (f"prover_check 1 nonce={NONCE_PLACEHOLDER} status=ok type=match "
            "axioms=propext,Classical.choice,Quot.sound sorry=0 other=0 used=-")
    inner.setdefault("messages", []).append({"severity": "info", "pos": {"line": line, "column": 0},
                                             "endPos": {"line": line, "column": 70}, "data": data})
    return response


def kimina_cases(root: Path):
    for f in sorted((root / "input").glob("*.lean")):
        yield f.stem, f.read_text(), json.loads((root / "output" / f"{f.stem}.json").read_text())


def check_kimina(name, proof, response):
    problem = problem_of(proof)
    raw = explain(response, problem, proof)
    if response["results"][0]["error"]:
        assert raw.verdict is V.TIMEOUT and raw.reasons == [R.WALL_TIMEOUT], name
        return None
    assert raw.verdict is V.INCOMPLETE and raw.reasons == [R.CHECK_REPORT_MISSING], name
    # Kimina strips the leading import lines before checking: its positions are relative to the rest.
    assert raw.line_offset == kimina_header_lines(raw.assembled.text) > 0
    synthetic = with_check_report(response, raw.assembled.axioms_line - raw.line_offset)
    done = explain(synthetic, problem, proof)
    assert done.verdict is V.VERIFIED and done.axioms == ("propext", "Classical.choice", "Quot.sound"), name
    # without the offset the report sits at the wrong line: not verified
    assert explain(synthetic, problem, proof, line_offset=0).verdict is V.INCOMPLETE
    return done


def test_vendored_kimina_runs():
    verdicts = [check_kimina(*case) for case in kimina_cases(VENDORED)]
    assert sum(v is None for v in verdicts) == 1 and len(verdicts) == 3


def test_every_kimina_run(fixtures_dir):
    cases = list(kimina_cases(fixtures_dir / "kimina" / "tests" / "match"))
    assert len(cases) == 102
    timeouts = sum(check_kimina(*case) is None for case in cases)
    assert timeouts == 4


def test_explain_rejects_before_reading_the_response():
    name, proof, response = next(kimina_cases(VENDORED))
    cheat = proof.replace("nlinarith", "native_decide <;> nlinarith", 1)
    result = explain(response, problem_of(proof), cheat)
    assert result.verdict is V.REJECTED and result.reasons == [R.NATIVE] and result.assembled is None
    assert result.notes and result.notes[0].startswith("line ")


def test_audit_json_shape_and_problem_errors():
    result = audit("theorem t : True := by\n  sorry\n", "theorem t : True := sorry\n")
    assert result.to_json() == {"accepted": False, "reasons": [{"code": "sorry", "line": 2, "text": "`sorry`"}]}
    assert audit("theorem t : True := trivial\n", "theorem t : True := sorry\n").to_json() == \
        {"accepted": True, "reasons": []}
    with pytest.raises(UsageError):
        audit("theorem t : True := trivial\n", "theorem t : True := trivial\n")

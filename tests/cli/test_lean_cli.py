"""`prover lean audit` and `prover lean explain`: output and exit codes (0 accepted, 1 rejected,
2 usage or unreadable input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from prover.cli.main import cli

KIMINA = Path(__file__).parent.parent / "fixtures" / "lean" / "kimina"
PROBLEM = "import Mathlib\n\ntheorem t (x : ℕ) : x + 0 = x := by sorry\n"
PROOF = "import Mathlib\n\ntheorem t (x : ℕ) : x + 0 = x := by\n  simp -- no sorry needed\n"


@pytest.fixture
def files(tmp_path):
    def write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return str(path)
    return write


def invoke(*args):
    return CliRunner().invoke(cli, ["lean", *args], catch_exceptions=False)


def test_audit_accepts_with_exit_0(files):
    r = invoke("audit", files("p.lean", PROOF), "--statement-file", files("s.lean", PROBLEM), "--json")
    assert r.exit_code == 0
    assert json.loads(r.output) == {"accepted": True, "reasons": []}
    r = invoke("audit", files("p.lean", PROOF), "--statement-file", files("s.lean", PROBLEM))
    assert (r.exit_code, r.output) == (0, "accepted\n")


def test_audit_rejects_with_exit_1_and_reasons(files):
    cheat = PROOF.replace("simp", "native_decide")
    r = invoke("audit", files("p.lean", cheat), "--statement-file", files("s.lean", PROBLEM), "--json")
    assert r.exit_code == 1
    assert json.loads(r.output) == {"accepted": False, "reasons": [
        {"code": "native", "line": 4, "text": "`native_decide`"}]}
    r = invoke("audit", files("p.lean", cheat), "--statement-file", files("s.lean", PROBLEM))
    assert (r.exit_code, r.output) == (1, "rejected\n  line 4: native: `native_decide`\n")


def test_empty_proof_is_rejected(files):
    r = invoke("audit", files("p.lean", ""), "--statement-file", files("s.lean", PROBLEM), "--json")
    assert r.exit_code == 1 and json.loads(r.output)["reasons"][0]["code"] == "empty-proof"


def test_usage_errors_exit_2(files):
    problem = files("s.lean", PROBLEM)
    r = invoke("audit", files("p.lean", b"theorem t \xff\xfe"), "--statement-file", problem)
    assert r.exit_code == 2 and "not UTF-8" in r.output
    r = invoke("audit", files("p.lean", PROOF), "--statement-file", files("bad.lean", PROOF))
    assert r.exit_code == 2 and "exactly one target" in r.output
    r = invoke("audit", files("p.lean", PROOF), "--statement-file", files("two.lean", PROBLEM + PROBLEM.replace(
        "theorem t", "theorem u")))
    assert r.exit_code == 2
    r = invoke("audit", files("p.lean", PROOF))
    assert r.exit_code == 2  # --statement-file is required
    r = invoke("audit", "/nonexistent/proof.lean", "--statement-file", problem)
    assert r.exit_code == 2


def test_explain_kimina_timeout_and_verified(files):
    proof_path = KIMINA / "input" / "goedel-lean_workbook_10036.lean"
    proof = proof_path.read_text()
    problem = files("s.lean", proof[: proof.index(":= by") + len(":= by")] + " sorry\n")
    r = invoke("explain", str(KIMINA / "output" / "goedel-lean_workbook_10036.json"), "--statement-file", problem,
               "--proof", str(proof_path))
    assert r.exit_code == 0 and r.output.startswith("timeout\n")

    response = {"messages": [], "env": 0}
    r = invoke("explain", files("r.json", json.dumps(response)), "--statement-file", files("s2.lean", PROBLEM),
               "--proof", files("p.lean", PROOF), "--json", "--show-file")
    data = json.loads(r.output)
    assert data["verdict"] == "incomplete" and data["reasons"] == ["check-report-missing"]
    line = data["axioms_line"]
    assert data["assembled"].splitlines()[line - 1] == '#prover_check t _prover_fp "' + "0" * 32 + '"'
    # synthetic: the text ProverCheck logs, in the recorded shape of an info message
    response["messages"].append({"severity": "info", "pos": {"line": line, "column": 0},
                                 "data": f"prover_check 1 nonce={'0' * 32} status=ok type=match axioms=propext "
                                         "sorry=0 other=0 used=-"})
    r = invoke("explain", files("r.json", json.dumps(response)), "--statement-file", files("s2.lean", PROBLEM),
               "--proof", files("p.lean", PROOF))
    assert r.output == "verified\n  axioms: propext\n"
    # a response to the file sent with another nonce: the report is not this check's
    r = invoke("explain", files("r.json", json.dumps(response)), "--statement-file", files("s2.lean", PROBLEM),
               "--proof", files("p.lean", PROOF), "--nonce", "ab" * 16)
    assert r.output.startswith("failed\n") and "another nonce" in r.output
    nonced = json.dumps(response).replace("0" * 32, "ab" * 16)
    r = invoke("explain", files("r.json", nonced), "--statement-file", files("s2.lean", PROBLEM),
               "--proof", files("p.lean", PROOF), "--nonce", "ab" * 16)
    assert r.output == "verified\n  axioms: propext\n"


def test_explain_reads_json_lines_and_rejects_garbage(files):
    lines = '{"severity": "error", "pos": {"line": 4, "column": 2}, "data": "unsolved goals"}\n'
    r = invoke("explain", files("r.jsonl", lines), "--statement-file", files("s.lean", PROBLEM),
               "--proof", files("p.lean", PROOF))
    assert r.exit_code == 0 and r.output.startswith("failed\n")
    r = invoke("explain", files("r.json", "not json {"), "--statement-file", files("s.lean", PROBLEM),
               "--proof", files("p.lean", PROOF))
    assert r.exit_code == 2

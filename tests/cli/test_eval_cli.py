"""``prover eval`` on the command line with a scripted backend on a toy IMO-ProofBench: the score
table beside the published figures, a rerun that sends nothing, ``compare`` and ``list``. Wiring
only: no figure printed here is a result."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))
from eval_toy import write_script, write_toy_bench  # noqa: E402

from prover.cli.main import cli  # noqa: E402


@pytest.fixture
def prover(db_path, tmp_path, monkeypatch):
    monkeypatch.setenv("PROVER_SCRIPT", str(write_script(tmp_path)))
    monkeypatch.delenv("PROVER_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args] + ["--db", str(db_path)], catch_exceptions=False)

    return invoke


@pytest.fixture
def toy(tmp_path):
    return write_toy_bench(tmp_path)


def test_eval_table_beside_published_then_rerun_sends_nothing(prover, toy):
    out = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted")
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    at = lines.index("evaluation 1: imo-proofbench, % of max score (7 per problem)")
    assert lines[at + 1] == ("group\tproblems\tgraded\tours (scripted, not a result)\t95% CI\t"
                             "DeepSeekMath-V2 (Heavy)\tGemini Deep Think (IMO gold)")
    rows = [line.split("\t") for line in lines[at + 2:at + 5]]
    assert [r[:4] for r in rows] == [["basic", "2", "2", "92.9"], ["advanced", "2", "1", "7.1"],
                                     ["all", "4", "3", "50.0"]]
    assert [r[5:] for r in rows] == [["99.0", "~89.0"], ["61.9", "65.7"], ["-", "-"]]
    assert "arXiv:2511.22570" in out.stdout and "arXiv:2511.01846" in out.stdout
    assert "no figure below is a result" in out.stderr
    again = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted", "--json")
    data = json.loads(again.stdout)
    assert again.exit_code == 0 and data["sent"] == 0 and data["eval_id"] == 1 and data["calls"] > 0
    assert [g["percent"] for g in data["groups"]] == pytest.approx([100 * 13 / 14, 100 / 14, 50.0])


def test_compare_and_list(prover, toy):
    prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted")
    out = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted", "--split", "advanced",
                 "--per-problem")
    assert out.exit_code == 0, out.output
    assert "imo-proofbench/PB-Advanced-002\tadvanced\tsolved\tyes\t" in out.stdout
    cmp = prover("eval", "compare", "1", "2")
    assert cmp.exit_code == 0, cmp.output
    lines = cmp.stdout.splitlines()
    at = lines.index("imo-proofbench/all against imo-proofbench/advanced, % of max score")
    assert lines[at + 1:at + 5] == ["group\tA=1\tB=2\tB-A", "basic\t92.9\t-\t-", "advanced\t7.1\t7.1\t+0.0",
                                    "all\t50.0\t7.1\t-42.9"]
    assert "2 problem(s) in both, 0 graded differently" in cmp.stdout
    listed = prover("eval", "list")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[2].split("\t")[:4] == ["1", "imo-proofbench", "all", "completed"]
    assert prover("eval", "compare", "1", "9").exit_code == 2


def test_usage(prover, toy, tmp_path, monkeypatch, db_path):
    import shutil

    assert prover("eval", "no-such-bench", "--backend", "scripted").exit_code == 2
    from prover.core.paths import shared_dir

    has_statements = (shared_dir() / "data" / "imo-proofbench" / "lean_proof_bench.csv").exists()
    if has_statements and not (shutil.which("lean") or shutil.which("lake")):
        monkeypatch.delenv("PROVER_LEAN_REPL", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        out = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted", "--formal")
        assert out.exit_code == 3 and "prover lean doctor" in out.output  # before any model call
        assert json.loads(prover("db", "stats", "--json").stdout)["tables"]["model_calls"] == 0
    helped = CliRunner().invoke(cli, ["eval", "--help"])
    assert helped.exit_code == 0 and "compare" in helped.stdout


def test_grader_agreement_without_human_grades_says_so(prover, toy):
    out = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted", "--grader-agreement")
    assert out.exit_code == 0, out.output
    assert "grader agreement: no human-graded proof of these problems is stored" in out.stdout


def test_search_knobs_override_the_budget(prover, toy):
    out = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted", "--proofs", "1",
                 "--verifications", "1", "--rounds", "0", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    # Per problem: one proof, one verification (it passes, so no meta-verification), one grading call.
    assert data["calls"] == data["sent"] == 4 * 3 and data["budget"] == "small"
    assert [o["calls"] for o in data["outcomes"]] == [3, 3, 3, 3]


def test_dry_run_counts_grading_and_makes_no_call(prover, toy, db_path):
    out = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted", "--proofs", "1",
                 "--verifications", "1", "--rounds", "0", "--meta-verifications", "0", "--max-tokens", "10",
                 "--dry-run", "--json")
    assert out.exit_code == 0, out.output
    est = json.loads(out.stdout)
    # Per problem: 1 proof, 1 + 4 verdict retries, no meta-verification, 1 grading call (no answer to judge).
    assert est["calls_by_role"] == {"generator": 4, "verifier": 20, "meta_verifier": 0, "judge": 4}
    assert est["completion_tokens"] == 10 * est["calls"]
    text = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted", "--dry-run")
    assert "no call made" in text.stdout
    assert not db_path.exists()  # not even opened


def test_show_and_incomplete_exit(prover, toy, tmp_path, monkeypatch):
    failing = tmp_path / "failing.jsonl"
    failing.write_text(json.dumps({"role": "judge", "match": "proof of TOYB1", "error": "503", "transient": True})
                       + "\n" + (tmp_path / "script.jsonl").read_text())
    monkeypatch.setenv("PROVER_SCRIPT", str(failing))
    out = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted", "--split", "basic",
                 "--role", "judge.max_retries=0")
    assert out.exit_code == 3 and "1 problem(s) incomplete" in out.output
    assert "basic\t2\t1\t" in out.stdout  # the table is printed first
    shown = prover("eval", "show", "1", "--per-problem")
    assert shown.exit_code == 0
    assert "imo-proofbench/PB-Basic-001\tbasic\tsolved\tyes\t" in shown.stdout and "\terror\t" in shown.stdout
    assert "evaluation 1: imo-proofbench, % of max score (7 per problem)" in shown.stdout
    assert json.loads(prover("eval", "show", "1", "--json").stdout)["status"] == "incomplete"
    assert prover("eval", "show", "7").exit_code == 2
    # A call the backend refuses for good is never re-sent: the grade is missing, the evaluation complete.
    refused = tmp_path / "refused.jsonl"
    refused.write_text(json.dumps({"role": "judge", "match": "proof of TOYA1", "error": "bad request"}) + "\n"
                       + (tmp_path / "script.jsonl").read_text())
    monkeypatch.setenv("PROVER_SCRIPT", str(refused))
    out = prover("eval", "imo-proofbench", "--data", toy, "--backend", "scripted", "--split", "advanced",
                 "--per-problem")
    assert out.exit_code == 0, out.output
    assert "imo-proofbench/PB-Advanced-001\tadvanced\tsolved\tyes\t" in out.stdout and "\t-\tfailed\t" in out.stdout
    assert "advanced\t2\t0\t0.0\t" in out.stdout and "completed;" in out.stdout

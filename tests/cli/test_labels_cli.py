"""``prover labels build|export|resample``, ``prover report`` and ``prover export proofs`` end to
end through the command line, on a real SQLite database."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from prover.cli.main import cli
from prover.store import ProofStore

sys.path.insert(0, str(Path(__file__).parents[1] / "analysis"))
from labeldb import add_analyses, add_grade, add_problem, add_proof  # noqa: E402


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "cli.db"
    with ProofStore.open(path) as store:
        for i in range(3):
            pid = add_problem(store, "bench", f"P{i}", f"Prove statement {i}.")
            good = add_proof(store, pid, f"Good proof {i}.")
            add_analyses(store, good, [1, 1])
            bad = add_proof(store, pid, f"Bad proof {i}.")
            add_analyses(store, bad, [0, 1], metas={0: [1]})
        add_grade(store, good, 0.0)  # the last good proof: human says 0, every analysis says 1
    return str(path)


def run(*args):
    r = CliRunner().invoke(cli, list(args))
    return r


def test_labels_build_twice(db):
    r = run("labels", "build", "--db", db, "--n", "2", "--m", "1", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)["sources"]
    assert s["informal"]["added"] == 6 and s["informal"]["values"] == {"1": 3, "0": 3}
    assert s["human"]["added"] == 1 and "no finished formal attempt" in s["formal"]["note"]
    r = run("labels", "build", "--db", db, "--n", "2", "--m", "1")
    assert r.exit_code == 0, r.output
    assert "informal\t6\t0\t6\t0\t1: 3, 0: 3\t-" in r.output
    assert "formal: no finished formal attempt on an NL proof in this database; no formal label" in r.output


def test_labels_build_errors(db, tmp_path):
    r = run("labels", "build", "--db", db, "--source", "lean")
    assert r.exit_code == 2 and r.output.startswith("Error: --source: unknown label source 'lean'")
    r = run("labels", "build", "--db", str(tmp_path / "missing.db"))
    assert r.exit_code == 2 and "no database at" in r.output


def test_labels_export_and_resample(db, tmp_path):
    assert run("labels", "build", "--db", db, "--n", "2", "--m", "1").exit_code == 0
    out = tmp_path / "exp"
    r = run("labels", "export", "--db", db, "--out", str(out), "--splits", "train=100")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "6 labelled proofs (human: 1, informal: 5); precedence human,formal,informal; problems by split: train: 3"
    assert "sft\t5" in lines and "pointwise\t6" in lines and "pairs\t2" in lines
    assert any(line.startswith("1 proof(s) with conflicting labels (precedence human,formal,informal): "
                               "human=0,informal=1: 1") for line in lines)
    assert any("1 labelled proof(s) have no stored analysis agreeing with the label" in line for line in lines)
    assert (out / "sft" / "train.jsonl").exists() and (out / "summary.json").exists()
    script = tmp_path / "verifier.jsonl"
    script.write_text(json.dumps({"role": "verifier", "text": "Here is my evaluation of the solution: wrong.\n"
                                  "Based on my evaluation, the final overall score should be: \\boxed{0}"}) + "\n")
    r = run("labels", "resample", "--db", db, "--max", "2", "--backend", "scripted", "--role",
            f"verifier.script={script}")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("1 labelled proof(s) without an agreeing analysis; 1 now have one (human: 1)")
    r = run("labels", "export", "--db", db, "--out", str(out), "--splits", "train=100", "--json")
    assert json.loads(r.output)["without_agreeing_analysis"] == []
    r = run("labels", "export", "--db", db, "--out", str(out), "--precedence", "formal,lean")
    assert r.exit_code == 2 and "unknown label source 'lean'" in r.output


def test_report_command(db, tmp_path):
    out = tmp_path / "rep"
    r = run("report", "--db", db, "--out", str(out), "--bootstrap", "0")
    assert r.exit_code == 0, r.output
    assert r.output.strip().endswith(f"wrote {out / 'report.html'}, {out / 'report.md'} and 6 image(s)")
    assert "## Per collection and split" in (out / "report.md").read_text()
    r = run("report", "--db", db, "--run", "99", "--out", str(out))
    assert r.exit_code == 2 and r.output == "Error: no run 99 in this database\n"


def test_export_proofs_command(db, tmp_path):
    out = tmp_path / "verified"
    r = run("export", "proofs", "--db", db, "--format", "lean-dir", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"0 verified proof file(s) written to {out} (none)")
    assert json.loads((out / "manifest.json").read_text())["proofs"] == []


def test_labels_build_top_up(tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1] / "informal"))
    from informal_support import PROBLEMS, Refiner, run_search, verdict_output

    def world(call):
        # The first verification of every proof reports an issue: waves of 1 stop there.
        if call.role == "verifier":
            return verdict_output("0", "gap")
        return Refiner()(call)

    path = tmp_path / "waves.db"
    with ProofStore.open(path) as store:
        store.add_problems(PROBLEMS)
        run_search(store, world, proofs=2, verifications=2, rounds=0, max_verdict_retries=0, verification_wave=1)
    script = tmp_path / "models.jsonl"
    script.write_text("\n".join(json.dumps(line) for line in [
        {"role": "verifier", "text": "Here is my evaluation of the solution: a gap.\n"
                                     "Based on my evaluation, the final overall score should be: \\boxed{0}"},
        {"role": "meta_verifier", "text": 'Here is my analysis of the "solution evaluation": right.\n'
                                          'Based on my analysis, I will rate the "solution evaluation" as: \\boxed{1}'},
    ]) + "\n")
    r = run("labels", "build", "--db", str(path), "--source", "informal", "--json")
    assert json.loads(r.output)["sources"]["informal"]["no_label"] == {"too-few-analyses": 2}
    r = run("labels", "build", "--db", str(path), "--source", "informal", "--top-up", "--backend", "scripted",
            "--role", f"verifier.script={script}", "--role", f"meta_verifier.script={script}")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("top-up (run ") and ("2 proof(s) short of n parsed analyses; 2 now complete, 0 still "
                                                   "short after their search's M + retries samples; 2 verifier and "
                                                   "2 meta-verifier call(s), 0 unparsed") in r.output
    assert "informal\t2\t2\t0\t0\t0: 2\t-" in r.output

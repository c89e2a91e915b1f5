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

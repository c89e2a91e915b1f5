"""``prover grades import`` end to end: output, exit codes, nothing written on error."""

from __future__ import annotations

import json

from click.testing import CliRunner

from prover.cli.main import cli

ARGS = ["--field", "id=problem_idx", "--field", "statement=question", "--field", "proof=model_prediction.proof",
        "--grade", "human=model_prediction.human_rating:7", "--grade",
        "auto=model_prediction.average_automatic_rating", "--human", "human"]


def _write(path, ratings):
    path.write_text("".join(json.dumps({"problem_idx": "P1", "question": "Show it.", "model_prediction": {
        "proof": f"proof {i}", "human_rating": r, "average_automatic_rating": 0.5}}) + "\n"
        for i, r in enumerate(ratings)))
    return path


def test_import_then_crosscheck(tmp_path):
    db = tmp_path / "g.db"
    f = _write(tmp_path / "preds.jsonl", [7, 3, None])
    runner = CliRunner()
    r = runner.invoke(cli, ["grades", "import", str(f), "--db", str(db), *ARGS])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "3 records in 1 file(s): 3 proofs stored; problems: 1 created, 2 matched.",
        "  grade human: 2 stored, 1 records without a value",
        "  grade auto: 3 stored",
    ]
    r = runner.invoke(cli, ["crosscheck", "--db", str(db), "--reference", "human", "--candidate", "auto",
                            "--candidate-threshold", "0.5", "--json", "--bootstrap", "0"])
    data = json.loads(r.output)
    assert (data["n"], data["tp"], data["fp"]) == (2, 1, 1)
    assert data["excluded"] == {"reference human: no human grade": 1}


def test_bad_value_exit_1_and_nothing_written(tmp_path):
    db = tmp_path / "g.db"
    f = _write(tmp_path / "preds.jsonl", [7, 9])
    runner = CliRunner()
    r = runner.invoke(cli, ["grades", "import", str(f), "--db", str(db), *ARGS])
    assert r.exit_code == 1 and r.output.startswith("Error: ") and f"{f}:2" in r.output
    assert "outside [0, 7]" in r.output and "Traceback" not in r.output
    stats = json.loads(runner.invoke(cli, ["db", "stats", "--json", "--db", str(db)]).output)
    assert stats["tables"]["proofs"] == 0 and stats["tables"]["problems"] == 0


def test_reserved_name_exit_2(tmp_path):
    f = _write(tmp_path / "preds.jsonl", [7])
    r = CliRunner().invoke(cli, ["grades", "import", str(f), "--db", str(tmp_path / "g.db"), "--field", "id=problem_idx",
                                 "--field", "proof=model_prediction.proof", "--grade",
                                 "lean=model_prediction.human_rating:7"])
    assert r.exit_code == 2 and "reserved" in r.output

"""`prover run --formal`, `prover formalize` and `prover show` on the command line.

Synthetic Lean responses: the fake REPL (started through $PROVER_LEAN_REPL, as a real REPL
would be) answers from recorded message templates (formal_support.py). The scripted model's
outputs are canned text: wiring only, never a result."""

from __future__ import annotations

import json
import shlex
import shutil

import pytest
from click.testing import CliRunner

from formal_support import NL_PROOF, SKETCH, TOY, lean_block, meta_output, proof_output, verdict_output, vote
from prover.cli.main import cli
from prover.core.paths import sample_problems
from prover.formal.sketch import parse_sketch
from prover.lean.problem import LeanProblem

pytestmark = pytest.mark.timeout(180)

KNOBS = ["--proofs", "1", "--verifications", "1", "--rounds", "0", "--refine-top", "1",
         "--analyses-per-refinement", "1", "--meta-verifications", "0"]
LEAN = ["--lean-processes", "4"]
"""A pool of four fake REPL processes, whatever the machine's cores (Lean is tested with several)."""


def node(key: str, body: str | None = None) -> str:
    sk = parse_sketch(SKETCH.strip(), LeanProblem.parse(TOY))
    text = sk.node_problem(next(s for s in sk.holes if s.key == key))
    return text if body is None else LeanProblem.parse(text).with_proof(body)


@pytest.fixture
def prover(tmp_path, monkeypatch):
    db = tmp_path / "cli.db"
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args] + ["--db", str(db)], catch_exceptions=False)

    return invoke


def test_run_formal_without_lean_exits_3_before_any_model_call(prover, monkeypatch, tmp_path):
    if shutil.which("lean") or shutil.which("lake"):
        pytest.skip("a Lean toolchain is installed here")
    monkeypatch.delenv("PROVER_LEAN_REPL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.elan either
    monkeypatch.setenv("PROVER_SCRIPT", str(tmp_path / "never-read.jsonl"))
    out = prover("run", sample_problems(), "--formal", "--backend", "scripted", *KNOBS)
    assert out.exit_code == 3, out.output
    assert "prover lean doctor" in out.output and "no model was called" in out.output
    assert "lean" in out.output and "not found" in out.output
    calls = prover("db", "stats", "--json")
    assert '"model_calls": 0' in calls.output or json.loads(calls.output).get("model_calls", 0) == 0
    out = prover("formalize", "1")
    assert out.exit_code == 3 and "prover lean doctor" in out.output


@pytest.fixture
def lean_env(world, monkeypatch, tmp_path):
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.proves(node("prover_node_1"), node("prover_node_1", "by\n  omega")).write()
    monkeypatch.setenv("PROVER_LEAN_REPL", shlex.join(world.command))
    monkeypatch.setenv("FAKE_REPL_LOG", str(world.log_path))
    rules = [
        {"role": "generator", "text": proof_output(NL_PROOF)},
        {"role": "verifier", "text": verdict_output("0.5")},
        {"role": "meta_verifier", "text": meta_output("1")},
        {"role": "prover", "match": "It is one step", "text": lean_block(node("prover_node_2", "by\n  linarith"))},
        {"role": "prover", "match": "does not check", "text": lean_block(node("prover_node_2", "by\n  simp"))},
        {"role": "prover", "text": lean_block("theorem nope : True := trivial")},
        {"role": "formalizer", "match": "Write a Lean 4 proof sketch", "text": lean_block(SKETCH)},
        {"role": "formalizer", "text": "<think>.</think>The claim."},
        {"role": "judge", "text": vote(True)},
    ]
    script = tmp_path / "script.jsonl"
    script.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rules) + "\n", encoding="utf-8")
    monkeypatch.setenv("PROVER_SCRIPT", str(script))
    problems = tmp_path / "toy.jsonl"
    # Goedel-Prover's layout: name, header, formal_statement, informal_statement.
    problems.write_text(json.dumps({"name": "toy", "header": "import Mathlib\n\n",
                                    "formal_statement": TOY.removeprefix("import Mathlib\n\n"),
                                    "informal_statement": "Let a and b be natural numbers with a = 2 and b = 3. "
                                                          "Prove that a + b = 5."}, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return problems


def test_run_formal_then_show_then_formalize(prover, lean_env):
    args = ["--backend", "scripted", "--trusted", "toy", "--direct-attempts", "1", "--repairs-per-node", "1",
            "--no-refute", *KNOBS, *LEAN]
    out = prover("run", lean_env, "--formal", "--formal-sample", "1", "--json", *args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    [attempt] = data["formal"]
    assert attempt["status"] == "unsolved" and attempt["statement_source"] == "given"
    assert attempt["statement_faithful"] is True and attempt["feedback"] == 1
    table = prover("run", lean_env, "--formal", "--formal-sample", "1", *args)
    assert table.exit_code == 0 and "formal attempts" in table.stdout and "unsolved" in table.stdout
    show = prover("show", "toy/toy")
    assert "formal attempts" in show.stdout and "unsolved" in show.stdout
    detail = prover("show", "toy/toy", "--proof", attempt["proof_id"])
    text = detail.stdout
    assert "=== formal attempt" in text and "sketch steps beside the NL proof" in text
    assert "have h2 : a + b = 2 + 3" in text and "portfolio:omega" in text
    assert "could not be established formally (possibly a prover limitation)" in text
    data = json.loads(prover("show", "toy/toy", "--proof", attempt["proof_id"], "--json").stdout)
    ev = data["formal"][0]["evidence"]
    assert ev["statement"]["trusted"] and ev["steps_aligned"] is True and ev["population"] == "selected"
    again = prover("formalize", attempt["proof_id"], "--json", *LEAN, "--backend", "scripted", "--trusted", "toy",
                   "--direct-attempts", "1", "--repairs-per-node", "1", "--no-refute")
    assert again.exit_code == 0, again.output
    [res] = json.loads(again.stdout)
    assert res["reused"] and res["attempt_id"] == attempt["attempt_id"]
    fresh = prover("formalize", attempt["proof_id"], *LEAN, "--backend", "scripted", "--trusted", "toy",
                   "--direct-attempts", "0", "--repairs-per-node", "0", "--no-refute")
    assert fresh.exit_code == 0, fresh.output
    assert "unsolved" in fresh.stdout and "(stored result)" not in fresh.stdout


def test_run_formal_says_an_attempt_failed_and_exits_3(prover, lean_env, monkeypatch):
    from prover.formal.engine import Attempt

    async def broken(self, st):
        raise RuntimeError("a bug in one attempt")

    monkeypatch.setattr(Attempt, "sketch_stage", broken)
    out = prover("run", lean_env, "--formal", *LEAN, "--backend", "scripted", "--trusted", "toy",
                 "--direct-attempts", "1", "--no-refute", *KNOBS)
    assert out.exit_code == 3, out.output
    assert "problem(s) incomplete" not in out.output
    assert "1 formal attempt(s) ended in an unexpected exception" in out.output
    assert "RuntimeError: a bug in one attempt" in out.output and "error" in out.stdout


def test_dry_run_estimates_the_formal_stage_without_lean(prover, tmp_path, monkeypatch):
    """Upper bounds, worked by hand for one attempt (R = 0: the final proof only), portfolio of 2,
    2 direct attempts, negations with 1 prover sample, 1 repair per node, 6 assumed steps:
    prover 2 + 1 (root) + 6 x (1 + 1) + 6 (repairs) = 21; formalizer 2 x 2 (autoformalization
    and back-translation, twice) + 2 sketches + 6 alignments = 12; judge 3 x 2 + 6 x 3 = 24;
    Lean 3 (statement) + 7 (root) + 2 + 6 x 6 + 6 + 1 = 55. No Lean is opened."""
    monkeypatch.delenv("PROVER_LEAN_REPL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    problems = tmp_path / "p.jsonl"
    problems.write_text(json.dumps({"problem_idx": "toy", "question": "Prove that 1 + 1 = 2.", "answer": None,
                                    "contest": "mini"}) + "\n",
                        encoding="utf-8")
    args = ["run", problems, "--dry-run", "--json", "--backend", "scripted", *KNOBS]
    plain = json.loads(prover(*args).stdout)
    assert plain["formal"] is None
    out = prover(*args, "--formal", "--direct-attempts", "2", "--portfolio", "omega,simp", "--repairs-per-node", "1")
    assert out.exit_code == 0, out.output
    f = json.loads(out.stdout)["formal"]
    assert (f["attempts_per_problem"], f["assumed_steps"]) == (1, 6)
    assert f["calls_by_role"] == {"prover": 21, "formalizer": 12, "judge": 24}
    assert (f["calls_per_problem"], f["lean_checks"], f["lean_checks_per_problem"]) == (57, 55, 55)
    text = prover(*[a for a in args if a != "--json"], "--formal", "--formal-sample", "2").stdout
    assert "formal stage (not in the figures above): up to 3 attempt(s) per problem" in text
    assert "Lean not opened" in text

"""`prover run --formal --workers 2`: the formal stage runs inside the workers (each with its own
Lean pool over the fake REPL, started through $PROVER_LEAN_REPL) and gives the same attempts as
one process, each attempt once.

The fake REPL answers from recorded message templates and the scripted model writes canned text:
wiring only, never a result."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "formal"))

from formal_support import (NL_PROOF, SKETCH, TOY, LeanWorld, lean_block, meta_output, proof_output,  # noqa: E402
                            verdict_output, vote)

pytestmark = pytest.mark.timeout(300)

KNOBS = ["--proofs", "1", "--verifications", "1", "--rounds", "0", "--refine-top", "1",
         "--analyses-per-refinement", "1", "--meta-verifications", "0"]
FORMAL = ["--formal", "--trusted", "toy", "--direct-attempts", "1", "--repairs-per-node", "0", "--no-refute",
          "--final-check", "none", "--lean-processes", "2"]


def test_formal_stage_in_workers_matches_one_process(tmp_path):
    from prover.formal.sketch import parse_sketch
    from prover.lean.problem import LeanProblem

    sk = parse_sketch(SKETCH.strip(), LeanProblem.parse(TOY))
    node1 = sk.node_problem(next(s for s in sk.holes if s.key == "prover_node_1"))
    world = LeanWorld(tmp_path)
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.proves(node1, LeanProblem.parse(node1).with_proof("by\n  omega")).write()
    rules = [{"role": "generator", "text": proof_output(NL_PROOF)},
             {"role": "verifier", "text": verdict_output("0.5")},
             {"role": "meta_verifier", "text": meta_output("1")},
             {"role": "prover", "text": lean_block("theorem nope : True := trivial")},
             {"role": "formalizer", "match": "Write a Lean 4 proof sketch", "text": lean_block(SKETCH)},
             {"role": "formalizer", "text": "<think>.</think>The claim."},
             {"role": "judge", "text": vote(True)}]
    script = tmp_path / "script.jsonl"
    script.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rules) + "\n", encoding="utf-8")
    problems = tmp_path / "toy.jsonl"
    problems.write_text("\n".join(json.dumps({
        "name": f"toy{i}", "header": "import Mathlib\n\n", "formal_statement": TOY.removeprefix("import Mathlib\n\n"),
        "informal_statement": f"Let a and b be natural numbers with a = 2 and b = 3 (variant {i}). "
                              "Prove that a + b = 5."}) for i in range(4)) + "\n", encoding="utf-8")
    env = {**os.environ, "PROVER_SCRIPT": str(script), "PROVER_LEAN_REPL": shlex.join(world.command),
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("PROVER_DB", None)
    outs = []
    for name, extra in (("one.db", []), ("workers.db", ["--workers", "2", "--lease-s", "20", "--poll-s", "0.2",
                                                        "--problems-at-once", "1"])):
        cmd = [sys.executable, "-m", "prover.cli.main", "run", str(problems), "--backend", "scripted",
               "--db", str(tmp_path / name), "--json", *KNOBS, *FORMAL, *extra]
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(json.loads(proc.stdout))
    one, workers = outs

    def attempts(out):
        return sorted((a["problem_id"], a["status"], a["statement_source"], a["nodes"], a["feedback"])
                      for a in out["formal"])

    assert len(one["formal"]) == 4 and attempts(workers) == attempts(one)
    assert {a["status"] for a in one["formal"]} == {"unsolved"}
    from prover.store import ProofStore

    with ProofStore.open(tmp_path / "workers.db") as store:
        with store.engine.connect() as conn:
            from sqlalchemy import text

            assert conn.execute(text("SELECT count(*) FROM formal_attempts")).scalar_one() == 4
        assert store.lease_counts(1).done == 4

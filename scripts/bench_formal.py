"""Benchmark of the formal stage's wiring: prover calls and Lean checks per problem in
``prover run --formal``, and wall time, with the scripted model and the fake REPL.

No Lean and no model run here. Each problem is a toy sum (`a + b = c` from `a = i`, `b = i + 1`);
the scripted model writes the same NL proof, a direct whole proof that fails, a two-step sketch,
node proofs that fail; the fake REPL (tests/lean/fake_repl.py) answers from SYNTHETIC responses
assembled from recorded message templates (tests/formal/formal_support.py): statements and
sketches elaborate, the first node closes with `omega`, everything else fails, so every formal
attempt ends `unsolved`. The figures count what the stage asks — wiring and bookkeeping, never
proving skill; no figure here is a result about proofs.

    python scripts/bench_formal.py [--problems 5] [--budget small] [--processes 4] [--time-scale 0]

Prints JSON: problems, attempts, prover (and formalizer, judge) calls sent, Lean checks run (fake
REPL requests other than header imports), per problem, and seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "formal")]  # this checkout's prover, not an installed one


def toy(i: int) -> tuple[str, str, str]:
    """(formal statement, informal statement, sketch) of problem i."""
    header = f"theorem toy_{i} (a b : ℕ) (h₀ : a = {i}) (h₁ : b = {i + 1}) : a + b = {2 * i + 1}"
    sketch = (f"{header} := by\n  -- Step 1: substitute the hypotheses\n  have h2 : a + b = {i} + {i + 1} := by sorry\n"
              f"  -- Step 2: compute\n  have h3 : ({i} : ℕ) + {i + 1} = {2 * i + 1} := by sorry\n  rw [h2, h3]\n")
    return (f"import Mathlib\n\n{header} := by sorry\n",
            f"Let a and b be natural numbers with a = {i} and b = {i + 1}. Prove that a + b = {2 * i + 1}.", sketch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=5)
    ap.add_argument("--budget", default="small")
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--time-scale", type=float, default=0.0,
                    help="Multiply the fake REPL's cost model (import 10 s, check 0.5-5 s); 0: no sleeps.")
    args = ap.parse_args()

    import formal_support as fs
    from prover.core.formal_records import FormalConfig
    from prover.core.informal_records import SearchConfig, SearchKnobs
    from prover.core.records import FormalStatementRecord, ProblemRecord
    from prover.formal.sketch import parse_sketch
    from prover.lean.pool import PoolConfig, ReplPool
    from prover.lean.problem import LeanProblem
    from prover.llm import ScriptedBackend
    from prover.pipeline.formal_run import FormalSettings
    from prover.pipeline.run import run_informal
    from prover.store import ProofStore

    tmp = Path(tempfile.mkdtemp(prefix="bench-formal-"))
    world = fs.LeanWorld(tmp)
    problems, sketches = [], {}
    for i in range(1, args.problems + 1):
        formal, informal, sketch = toy(i)
        problems.append(ProblemRecord(collection="bench", external_id=f"toy{i}", informal_statement=informal,
                                      formal_statements=[FormalStatementRecord(
                                          toolchain="leanprover/lean4:v4.27.0", preamble="import Mathlib\n\n",
                                          statement=formal.removeprefix("import Mathlib\n\n"))]))
        sk = parse_sketch(sketch.strip(), LeanProblem.parse(formal))
        sketches[f"a = {i}) (h₁"] = sketch
        world.statement_elaborates(formal).sketch_elaborates(formal, sketch)
        node1 = sk.node_problem(next(s for s in sk.holes if s.key == "prover_node_1"))
        world.proves(node1, LeanProblem.parse(node1).with_proof("by\n  omega"))
    world.write()
    if args.time_scale:
        table = json.loads(world.table_path.read_text(encoding="utf-8"))
        table["cost"] = {"import_s": 10, "check_s": [0.5, 5], "scale": args.time_scale}
        world.table_path.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")

    def sketch_for(call):
        prompt = call.messages[-1].content
        return fs.lean_block(next(s for k, s in sketches.items() if k in prompt))

    def generator(call):
        refined = "--- Solution 0 ---" in call.messages[-1].content
        return fs.proof_output("Step 1. Substitute.\n\nStep 2. Compute." + ("\n\nRefined." if refined else ""))

    script = fs.Script([
        ("generator", "", generator), ("verifier", "", fs.verdict_output("0.5")),
        ("meta_verifier", "", fs.meta_output("1")),
        ("formalizer", "Write a Lean 4 proof sketch", sketch_for),
        ("formalizer", "proof sketch below does not elaborate", sketch_for),
        ("formalizer", "", "<think>.</think>The claim."),
        ("judge", "", fs.vote(True)),
        ("prover", "", fs.lean_block("theorem nope : True := trivial")),
    ])
    backend = ScriptedBackend(script)
    store = ProofStore.open(tmp / "bench.db")
    store.add_problems(problems)
    config = SearchConfig(knobs=SearchKnobs.preset(args.budget))
    formal = FormalSettings(config=FormalConfig(trusted_collections=("bench",)))
    pool = ReplPool(PoolConfig(command=world.command, env={**os.environ, "FAKE_REPL_LOG": str(world.log_path)},
                               memory_cap_bytes=None, max_processes=args.processes, import_timeout_s=60))
    t0 = time.perf_counter()
    with pool:
        summary = run_informal(store, [f"bench/toy{i}" for i in range(1, args.problems + 1)], config=config,
                               model_config=fs.model_config(), backends={r: backend for r in fs.ROLES},
                               progress=False, formal=formal, lean=(pool, fs.pin()), commit_window_s=0.001)
    seconds = time.perf_counter() - t0
    calls = Counter(c.role for c in backend.calls)
    lean = [e for e in world.requests() if "env" in e["request"]]
    n = args.problems
    print(json.dumps({
        "note": "scripted model and fake REPL (synthetic responses): wiring figures, not results",
        "problems": n, "budget": args.budget, "processes": args.processes, "time_scale": args.time_scale,
        "formal_attempts": len(summary.formal),
        "formal_statuses": dict(Counter(f["status"] for f in summary.formal)),
        "prover_calls_per_problem": calls["prover"] / n, "formalizer_calls_per_problem": calls["formalizer"] / n,
        "judge_calls_per_problem": calls["judge"] / n, "lean_checks_per_problem": len(lean) / n,
        "lean_checks_distinct_per_problem": len({e["request"]["cmd"] for e in lean}) / n,
        "seconds": round(seconds, 2)}, indent=1))
    store.close()


if __name__ == "__main__":
    main()

"""Benchmark of the formal stage's wiring: prover calls and Lean checks per problem in
``prover run --formal`` with statement-level work shared (``after``) and not shared (``before``),
and wall time at several Lean pool sizes, with the scripted model and the fake REPL.

No Lean and no model run here. Each problem is a toy sum (`a + b = c` from `a = i`, `b = i + 1`);
the scripted model writes the same NL proof, a direct whole proof that fails, a two-step sketch,
node proofs that fail; the fake REPL (tests/lean/fake_repl.py) answers from SYNTHETIC responses
assembled from recorded message templates (tests/formal/formal_support.py): statements and
sketches elaborate, the first node closes with `omega`, everything else fails the way Lean fails
it (the error, then the epilogue's report of the target admitted with `sorry`: a definitive
failure, which the check cache serves again), so every formal attempt ends `unsolved`. The
scripted prover answers each request with the target's statement and a proof that depends on the
request seed and fails in Lean, as a real prover's wrong proofs differ by seed: direct attempts,
node fills and repairs reach Lean. The figures count what the stage asks — wiring and bookkeeping, never
proving skill; no figure here is a result about proofs.

``before`` keys the statement-level work (the root's portfolio, direct attempts and negation) by
the proof as well as the statement, as the stage did before it was shared (issue 17, item 2),
and seeds node requests (fills, repairs, refutations) by the proof: each attempt runs them again
with its own request seeds. ``after`` seeds a node's requests by the node lemma and its hint. ``after`` is the stage as it is.

Latencies: each fake check sleeps one of the 98 Kimina ``/verify`` times recorded in
shared/fixtures/lean-messages (``--latencies recorded``: drawn by request text, the same for
every arm), or the uniform cost model of bench_lean_pool.py (``uniform``: 0.5-5 s), times
``--time-scale``; a header import costs 10 s times the scale. 0: no sleeps.

    python scripts/bench_formal.py [--problems 50] [--budget medium] [--arms before,after]
                                   [--pools 1,4] [--time-scale 0.02] [--latencies recorded]

Prints JSON: per arm and pool size (``before`` runs at the largest only: what the stage asks does
not depend on the pool), attempts and their statuses, prover (and formalizer, judge)
calls sent and Lean checks run (fake REPL requests other than header imports) per problem, and
seconds; and the change of prover calls and Lean checks from ``before`` to ``after``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
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


SHARED = Path(os.environ.get("PROVER_SHARED", ROOT.parent / "shared"))


def recorded_latencies() -> list[float]:
    """The check times of the recorded Kimina ``/verify`` responses (seconds)."""
    out: list[float] = []

    def walk(o) -> None:
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "time" and isinstance(v, (int, float)):
                    out.append(float(v))
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    path = SHARED / "fixtures" / "lean-messages" / "lean_messages.jsonl"
    with open(path, encoding="utf-8") as f:
        for line in f:
            walk(json.loads(line))
    return out


@contextlib.contextmanager
def statement_work_per_proof():
    """The ``before`` arm: the root's key (and so its seeds and its sharing) includes the proof, and
    node requests are seeded by the proof (the default scope), as before node work was shared."""
    from prover.core.hashing import hash_json
    from prover.formal import nodes, root

    real_key, real_scope = root.root_key, nodes.node_scope

    def root_key(ctx, st):
        return hash_json([real_key(ctx, st), ctx.proof.id])

    root.root_key = root_key
    nodes.node_scope = lambda ctx, text, hint: None
    try:
        yield
    finally:
        root.root_key, nodes.node_scope = real_key, real_scope


def bench(args, *, share: bool, processes: int, cost: dict | None) -> dict:
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
    if cost:
        table = json.loads(world.table_path.read_text(encoding="utf-8"))
        table["cost"] = cost
        world.table_path.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")

    def sketch_for(call):
        prompt = call.messages[-1].content
        return fs.lean_block(next(s for k, s in sketches.items() if k in prompt))

    def generator(call):
        refined = "--- Solution 0 ---" in call.messages[-1].content
        return fs.proof_output("Step 1. Substitute.\n\nStep 2. Compute." + ("\n\nRefined." if refined else ""))

    def prover_answer(call):
        # A real prover writes a different proof for each request seed; these keep the target's
        # statement (so they pass the screen and reach Lean) and fail there, as a wrong proof does.
        code = re.findall(r"```lean4\n(.*?)```", call.messages[-1].content, re.S)[0]
        head = code.rsplit(":= by", 1)[0].rstrip()
        seed = call.seed or 0
        return fs.lean_block(f"{head} := by\n  nlinarith [sq_nonneg ({seed % 9973} : ℤ)]")

    script = fs.Script([
        ("generator", "", generator), ("verifier", "", fs.verdict_output("0.5")),
        ("meta_verifier", "", fs.meta_output("1")),
        ("formalizer", "Write a Lean 4 proof sketch", sketch_for),
        ("formalizer", "proof sketch below does not elaborate", sketch_for),
        ("formalizer", "", "<think>.</think>The claim."),
        ("judge", "", fs.vote(True)),
        ("prover", "", prover_answer),
    ])
    backend = ScriptedBackend(script)
    store = ProofStore.open(tmp / "bench.db")
    store.add_problems(problems)
    config = SearchConfig(knobs=SearchKnobs.preset(args.budget))
    formal = FormalSettings(config=FormalConfig(trusted_collections=("bench",)))
    pool = ReplPool(PoolConfig(command=world.command, env={**os.environ, "FAKE_REPL_LOG": str(world.log_path)},
                               memory_cap_bytes=None, max_processes=processes, import_timeout_s=120))
    t0 = time.perf_counter()
    with contextlib.nullcontext() if share else statement_work_per_proof(), pool:
        summary = run_informal(store, [f"bench/toy{i}" for i in range(1, args.problems + 1)], config=config,
                               model_config=fs.model_config(), backends={r: backend for r in fs.ROLES},
                               progress=False, formal=formal, lean=(pool, fs.pin()), commit_window_s=0.001)
    seconds = time.perf_counter() - t0
    calls = Counter(c.role for c in backend.calls)
    lean = [e for e in world.requests() if "env" in e["request"]]
    n = args.problems
    store.close()
    return {
        "arm": "after" if share else "before", "processes": processes,
        "formal_attempts": len(summary.formal),
        "formal_statuses": dict(sorted(Counter(f["status"] for f in summary.formal).items())),
        "prover_calls_per_problem": calls["prover"] / n, "formalizer_calls_per_problem": calls["formalizer"] / n,
        "judge_calls_per_problem": calls["judge"] / n, "lean_checks_per_problem": len(lean) / n,
        "lean_checks_distinct_per_problem": len({e["request"]["cmd"] for e in lean}) / n,
        "seconds": round(seconds, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=50)
    ap.add_argument("--budget", default="medium")
    ap.add_argument("--arms", default="before,after", help="before: statement-level work per proof; after: shared")
    ap.add_argument("--pools", default="1,4", help="Lean pool sizes of the after arm (before: the largest)")
    ap.add_argument("--time-scale", type=float, default=0.02,
                    help="Multiplies every fake check's latency and the 10 s import; 0: no sleeps.")
    ap.add_argument("--latencies", choices=("recorded", "uniform"), default="recorded")
    args = ap.parse_args()

    cost = None
    if args.time_scale:
        cost = {"import_s": 10, "scale": args.time_scale}
        if args.latencies == "recorded":
            cost["check_samples"] = recorded_latencies()
        else:
            cost["check_s"] = [0.5, 5]
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    pools = [int(p) for p in args.pools.split(",") if p.strip()]
    # What the stage asks does not depend on the pool: ``before`` runs once, at the largest.
    runs = [bench(args, share=arm == "after", processes=p, cost=cost)
            for arm in arms for p in (pools if arm == "after" else [max(pools)])]
    out: dict = {"note": "scripted model and fake REPL (synthetic responses, sleeping recorded or modelled "
                         "latencies): wiring figures, not results",
                 "problems": args.problems, "budget": args.budget, "time_scale": args.time_scale,
                 "latencies": args.latencies if args.time_scale else None, "runs": runs}
    by_arm = {r["arm"]: r for r in runs}
    if {"before", "after"} <= set(by_arm):
        b, a = by_arm["before"], by_arm["after"]
        out["after_vs_before"] = {
            "equal_outcomes": b["formal_statuses"] == a["formal_statuses"],
            "prover_calls_change": round(a["prover_calls_per_problem"] / b["prover_calls_per_problem"] - 1, 3)
            if b["prover_calls_per_problem"] else None,
            "lean_checks_change": round(a["lean_checks_per_problem"] / b["lean_checks_per_problem"] - 1, 3)
            if b["lean_checks_per_problem"] else None}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

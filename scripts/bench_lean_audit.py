"""Speed of the Lean soundness core (pure Python, no Lean): parsing every problem of the shared
data, auditing each with a plausible proof, and lexing a large file.

    python scripts/bench_lean_audit.py [--shared ../shared] [--repeat 3]

Prints per-item percentiles (50/90/99th) and totals. The screen must stay linear: the large-file
figure is tokens per second on a 1 MB proof."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from prover.lean.audit import audit
from prover.lean.lexer import lex
from prover.lean.problem import LeanProblem

BODY = "by\n  intro x\n  nlinarith [sq_nonneg (x - 1), sq_nonneg (x + 1)]"


def problems(data: Path) -> list[str]:
    out = [f.read_text() for f in sorted((data / "putnambench/trishullab-PutnamBench/lean4/src").glob("*.lean"))]
    out += [f.read_text() for f in sorted((data / "minif2f/yangky11-miniF2F-lean4/MiniF2F").glob("*/*.lean"))]
    for rel in ("minif2f/deepseek-prover-v1.5/minif2f.jsonl", "proofnet/deepseek-prover-v1.5/proofnet.jsonl",
                "putnambench/goedel-prover/putnam.jsonl"):
        for line in (data / rel).read_text().splitlines():
            r = json.loads(line)
            out.append(r["header"] + r["formal_statement"])
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def report(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(f"{name:<28} n={len(ms):>5}  p50 {pct(ms, 50):7.3f} ms  p90 {pct(ms, 90):7.3f} ms  "
          f"p99 {pct(ms, 99):7.3f} ms  total {sum(seconds):6.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default="../shared", help="Shared data folder.")
    ap.add_argument("--repeat", type=int, default=3, help="Passes over the data (best pass reported).")
    args = ap.parse_args()
    texts = problems(Path(args.shared) / "data")
    best_parse, best_audit = None, None
    for _ in range(args.repeat):
        parse_t, audit_t, parsed = [], [], []
        for text in texts:
            t0 = time.perf_counter()
            p = LeanProblem.parse(text)
            parse_t.append(time.perf_counter() - t0)
            parsed.append(p)
        for p in parsed:
            proof = p.with_proof(BODY, {s.full_name: (s.reference_comment or "default") for s in p.answer_slots})
            t0 = time.perf_counter()
            result = audit(proof, p)
            audit_t.append(time.perf_counter() - t0)
            assert result.accepted, result.reasons
        if best_parse is None or sum(parse_t) < sum(best_parse):
            best_parse = parse_t
        if best_audit is None or sum(audit_t) < sum(best_audit):
            best_audit = audit_t
    print(f"{len(texts)} problems (miniF2F x2, ProofNet, PutnamBench x2), best of {args.repeat} passes")
    report("parse problem", best_parse)
    report("audit proof (0 rejected)", best_audit)
    big = ("theorem t (x : ℝ) (h : 0 < x) : x / x = 1 := by\n  -- a comment\n  field_simp [h.ne'] /- c -/\n"
           * 12000)
    t0 = time.perf_counter()
    n = len(lex(big).tokens)
    dt = time.perf_counter() - t0
    print(f"lex {len(big.encode()) / 1e6:.1f} MB: {n} tokens in {dt:.2f} s ({n / dt / 1e6:.2f} M tokens/s)")


if __name__ == "__main__":
    main()

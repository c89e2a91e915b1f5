"""Benchmark labels, training exports and the report on a synthetic proof database.

Default workload: 2,000 problems × 8 proofs (2 KB each) × 4 verifier analyses (1 KB each), a
meta-verification for every issue-reporting analysis, a human grade on one proof in ten. Times
`prover labels build` (all sources), a second build (must add nothing), `labels export` to JSONL
and Parquet, and `prover report` (bootstrap 200), and prints rows/s and peak memory (max RSS).
Scores are random: no figure here is a proving result.

    python scripts/bench_labels.py [--problems N] [--proofs-per-problem K] [--analyses M] [--db URL]
"""

from __future__ import annotations

import argparse
import random
import resource
import string
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select

from prover.core.label_records import InformalPolicy
from prover.core.records import ProblemRecord, ProofRecord, VerificationRecord
from prover.store import ProofStore
from prover.store.schema import GradeRow, MetaVerification, Verification, utcnow


def text_of(size: int, rng: random.Random) -> str:
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(200)]
    return " ".join(rng.choice(words) for _ in range(size // 5))[:size]


def verdict(score: float, body: str) -> str:
    return (f"Here is my evaluation of the solution:\n{body}\n\n"
            f"Based on my evaluation, the final overall score should be: \\boxed{{{score:g}}}")


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn, rows: int | None = None):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rate = f", {rows / wall:,.0f} proofs/s" if rows else ""
    print(f"{label:34} {wall:7.2f} s wall, {cpu:7.2f} s CPU{rate}; max RSS {max_rss_mb():,.0f} MB")
    return out


def populate(store, args, rng: random.Random) -> int:
    store.add_problems([ProblemRecord(collection=f"c{i % 3}", external_id=f"p{i}",
                                      informal_statement=f"Prove statement number {i}.")
                        for i in range(args.problems)])
    pids = [p.id for p in store.list_problems()]
    proof_texts = [text_of(2048, rng) for _ in range(32)]
    bodies = [text_of(1024, rng) for _ in range(32)]
    proofs = 0
    for start in range(0, len(pids), 200):
        chunk = pids[start:start + 200]
        ids = store.add_proofs([ProofRecord(problem_id=pid, text=proof_texts[(pid + k) % 32], sample_index=k)
                                for pid in chunk for k in range(args.proofs_per_problem)])
        proofs += len(ids)
        recs = []
        for pid in ids:
            quality = rng.random()
            for j in range(args.analyses):
                score = 1.0 if rng.random() < quality else rng.choice((0.0, 0.5))
                recs.append(VerificationRecord(proof_id=pid, analysis=verdict(score, bodies[(pid + j) % 32]),
                                               score=score, verifier_model="bench", sample_index=j))
        store.add_verifications(recs)
        now = utcnow()
        with store.engine.begin() as conn:
            rows = conn.execute(select(Verification.id, Verification.score).where(
                Verification.proof_id.in_(ids), Verification.score < 1)).all()
            if rows:
                conn.execute(insert(MetaVerification.__table__), [
                    {"verification_id": vid, "sample_index": 0, "text": "Checked.", "score": rng.choice((1.0, 1.0, 0.0)),
                     "parse_status": "ok", "metadata": {}, "created_at": now} for vid, _ in rows])
            graded = ids[::10]
            conn.execute(insert(GradeRow.__table__), [
                {"proof_id": pid, "name": "human", "value": rng.choice((0.0, 3 / 7, 1.0)), "raw": 0.0, "max": 7.0,
                 "human": True, "source": "bench", "created_at": now} for pid in graded])
    return proofs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=2_000)
    ap.add_argument("--proofs-per-problem", type=int, default=8)
    ap.add_argument("--analyses", type=int, default=4)
    ap.add_argument("--db", help="database URL or path (default: a temporary SQLite file)")
    args = ap.parse_args()

    from prover.analysis.exports import export_labels
    from prover.analysis.labels import build_labels
    from prover.analysis.report import write_report

    rng = random.Random(0)
    tmp = tempfile.TemporaryDirectory(prefix="bench_labels_")
    store = ProofStore.open(args.db or Path(tmp.name) / "bench.db")
    proofs = timed("populate", lambda: populate(store, args, rng))
    print(f"{proofs:,} proofs, {proofs * args.analyses:,} analyses")
    policy = InformalPolicy(n=args.analyses, m=1)
    first = timed("labels build", lambda: build_labels(store, informal=policy), proofs)
    print("  added:", {k: v.added for k, v in first.sources.items()})
    second = timed("labels build again", lambda: build_labels(store, informal=policy), proofs)
    added = sum(v.added for v in second.sources.values())
    print(f"  added the second time: {added} (must be 0)")
    for fmt in ("jsonl", "parquet"):
        s = timed(f"labels export --format {fmt}", lambda: export_labels(store, Path(tmp.name) / fmt, fmt=fmt), proofs)
        print("  records:", {k: sum(v.values()) for k, v in s.files.items()}, f"conflicts {s.conflicts.count}")
    timed("report (bootstrap 200)", lambda: write_report(store, Path(tmp.name) / "report", bootstrap=200), proofs)
    store.close()


if __name__ == "__main__":
    main()

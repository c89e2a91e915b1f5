"""Benchmark the proof database: bulk inserts through ProofStore, then exports.

Default workload: 100,000 proofs (4 KB each) with 8 verifications each (2 KB analysis each),
inserted in batches, then the verifications exported to Parquet and JSONL.
Targets on a 2-core machine: >= 50,000 rows/s inserted; the 800,000 verifications exported in < 30 s.

    python scripts/bench_store.py [--proofs N] [--verifications-per-proof M] [--db URL]
"""

from __future__ import annotations

import argparse
import os
import random
import string
import tempfile
import time
from pathlib import Path

from prover.core.records import ProblemRecord, ProofRecord, VerificationRecord
from prover.store import ProofStore


def text_of(size: int, rng: random.Random) -> str:
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(200)]
    out, n = [], 0
    while n < size:
        w = rng.choice(words)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:size]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proofs", type=int, default=100_000)
    ap.add_argument("--verifications-per-proof", type=int, default=8)
    ap.add_argument("--batch", type=int, default=2_000, help="proofs per transaction")
    ap.add_argument("--db", help="database URL or path (default: a temporary SQLite file)")
    args = ap.parse_args()

    rng = random.Random(0)
    # A pool of texts reused round-robin: generating 2 GB of random text would dominate the run.
    proof_texts = [text_of(4096, rng) for _ in range(64)]
    analysis_texts = [text_of(2048, rng) for _ in range(64)]

    tmp = tempfile.TemporaryDirectory(prefix="bench_store_")
    db = args.db or str(Path(tmp.name) / "bench.db")
    store = ProofStore.open(db)
    store.add_problems([ProblemRecord(collection="bench", external_id=f"p{i}", informal_statement=f"Problem {i}.")
                        for i in range(100)])
    problem_ids = [p.id for p in store.list_problems(collection="bench")]

    m = args.verifications_per_proof
    rows = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for start in range(0, args.proofs, args.batch):
        n = min(args.batch, args.proofs - start)
        proofs = [ProofRecord(problem_id=problem_ids[(start + i) % len(problem_ids)],
                              text=proof_texts[(start + i) % 64], self_score=1.0, round=0, sample_index=i)
                  for i in range(n)]
        ids = store.add_proofs(proofs)
        store.add_verifications([VerificationRecord(proof_id=pid, analysis=analysis_texts[(pid + j) % 64],
                                                    score=(pid + j) % 3 / 2, sample_index=j, verifier_model="bench")
                                 for pid in ids for j in range(m)])
        rows += n + n * m
    insert_s, insert_cpu = time.perf_counter() - t0, time.process_time() - c0

    out = Path(tmp.name)
    t0 = time.perf_counter()
    n_parquet = store.export_table("verifications", "parquet", out / "verifications.parquet")
    parquet_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_jsonl = store.export_table("verifications", "jsonl", out / "verifications.jsonl")
    jsonl_s = time.perf_counter() - t0

    size = store.stats().get("size_bytes")
    print(f"database: {store.url.split('/')[0]} ({'SQLite' if store.url.startswith('sqlite') else store.url.split(':')[0]})")
    print(f"inserted rows: {rows:,} ({args.proofs:,} proofs of 4 KB + {args.proofs * m:,} verifications of 2 KB)")
    print(f"insert: {insert_s:.1f} s, {rows / insert_s:,.0f} rows/s (target >= 50,000); "
          f"process CPU {insert_cpu:.1f} s = {rows / insert_cpu:,.0f} rows per CPU-second")
    print(f"load average while running: {os.getloadavg()[0]:.1f} (figures are only comparable on an idle machine)")
    print(f"export verifications to parquet: {n_parquet:,} rows in {parquet_s:.1f} s (target < 30 s)")
    print(f"export verifications to jsonl:   {n_jsonl:,} rows in {jsonl_s:.1f} s")
    if size:
        print(f"database size: {size / 1e9:.2f} GB")
    store.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()

"""Benchmark of scale-out: run throughput at 1, 2 and 4 workers, and the store's insert rate under
concurrent writers.

**Throughput.** One workload — 48 problems, N = 2 proofs, M = 2 verifications, no refinement,
no meta-verification (6 calls per problem) — queued as a run and done by 1, 2 and 4 ``prover
worker`` processes, each on a fresh database. The servers are the scripted backend inside each
worker, answering every call after a fixed latency (``--latency``, 0.5 s): they never run out of
capacity, so a worker is limited by its own concurrency (``--concurrency`` calls in flight, 4) and
the speed-up shows what the leases and the shared database cost. The workers are processes that
import prover and open the store, then wait at a barrier: the clock starts when all are ready
(Python's start-up is not what is measured) and stops when the last one leaves. Printed: that
window, calls per second over it, and the speed-up over 1 worker (target ≥ 3× at 4 workers
while the servers are not the bottleneck).

**Insert rate.** W processes (1 and 4) each write call records and the proofs those calls made
through their process's store writer (``prover.store.writer``), on PostgreSQL, as a run does (a
call's record committed before the row it made is queued; ``--streams`` batches in flight, like
the many calls of a run): rows per second summed over writers.

The scripted backend is a test double: these are wiring figures (what the machinery costs), not
results about proving.

Run: ``python scripts/bench_workers.py`` (SQLite file for the throughput part; ``--db URL`` for
another database) with ``--pg-url postgresql://…`` (or ``$PROVER_TEST_PG_URL``) for the insert
rate — a scratch database is created there and dropped afterwards."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GENERATED = ("## Solution\n[scripted] step one, step two.\n\n## Self Evaluation\nchecked.\n"
             "Based on my evaluation, the final overall score should be: \\boxed{1}")
VERDICT = ("Here is my evaluation of the solution:\n[scripted] No issues found.\n\n"
           "Based on my evaluation, the final overall score should be: \\boxed{1}")


def throughput(workers: int, args, tmp: Path) -> dict:
    from prover.core.informal_records import SearchConfig, SearchKnobs
    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.pipeline.run import queue_run
    from prover.store import ProofStore

    script = tmp / "script.jsonl"
    script.write_text("\n".join(json.dumps({"role": r, "text": t, "delay_s": args.latency})
                                for r, t in (("generator", GENERATED), ("verifier", VERDICT))) + "\n")
    problems = tmp / "problems.jsonl"
    problems.write_text("\n".join(json.dumps({"collection": "bench", "id": f"p{i}",
                                              "statement": f"Prove that {i} + 0 = {i}."})
                                  for i in range(args.problems)) + "\n")
    db = args.db or f"sqlite:///{tmp / f'workers{workers}.db'}"
    knobs = SearchKnobs(proofs=2, verifications=2, rounds=0, refine_top=1, analyses_per_refinement=1,
                        meta_verifications=0, proofs_per_refinement=1)
    models = ModelConfig(defaults=RoleSettings(backend="scripted", concurrency=args.concurrency, max_retries=0,
                                               backoff_s=0, script=str(script)))
    with ProofStore.open(db) as store:
        run_id = queue_run(store, [str(problems)], config=SearchConfig(knobs=knobs), model_config=models)
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=_worker_process, args=(db, run_id, args.concurrency, barrier, out))
             for _ in range(workers)]
    for p in procs:
        p.start()
    barrier.wait()  # every worker has imported prover and opened the store: start the clock
    t0 = time.time()
    reports = [out.get() for _ in procs]
    for p in procs:
        p.join()
    if any(isinstance(r, str) for r in reports):
        raise SystemExit(f"a worker failed: {next(r for r in reports if isinstance(r, str))}")
    window = max(r["ended"] for r in reports) - t0
    sent = sum(r["client"]["sent"] for r in reports)
    return {"workers": workers, "window_s": window, "calls": sent, "calls_per_s": sent / window,
            "problems": sum(r["problems"] for r in reports)}


def _worker_process(db: str, run_id: int, concurrency: int, barrier, out) -> None:
    """One ``prover worker``, started by the benchmark after a barrier (Python's start-up is not
    what is measured)."""
    import traceback

    from prover.pipeline.workers import WorkerSettings, work
    from prover.store import ProofStore

    try:
        with ProofStore.open(db) as store:
            barrier.wait()
            report = work(store, run_id, settings=WorkerSettings(problems_at_once=concurrency, poll_s=0.2))
        out.put({**report.model_dump(), "ended": time.time()})
    except BaseException:  # noqa: BLE001 - said by the parent
        out.put(traceback.format_exc()[-2000:])


def _writer_process(url: str, rows: int, batch: int, streams: int, tag: str, out) -> None:
    from prover.core.llm_records import CallRecord
    from prover.informal.worker import StoreWorker
    from prover.llm.calls import CallWriter
    from prover.store import ProofStore

    store = ProofStore.open(url)
    pid = store.list_problems()[0].id
    text = "proof text " * 200  # ~2 KB

    async def main() -> float:
        calls, worker = CallWriter(store, window_s=0.02), StoreWorker(store, linger_s=0.02)

        async def stream(first: int) -> None:
            # As a run does: a call's record is committed, then the row it made is queued.
            for start in range(first, rows, batch * streams):
                keys = [f"{tag}-{i}" for i in range(start, min(rows, start + batch))]
                now = datetime.now(timezone.utc)
                await calls.put([CallRecord(call_key=k, role="generator", backend="bench", model="m", request={},
                                            status="ok", response_text=text, created_at=now) for k in keys])
                await asyncio.gather(*(worker.add("proofs", {
                    "problem_id": pid, "run_id": None, "source": "generated", "round": 0, "sample_index": 0,
                    "parent_ids": [], "text": text, "self_evaluation": None, "self_score": 1.0,
                    "parse_status": "ok", "answer": None, "answer_match": None, "extra": {}}, k) for k in keys))

        t0 = time.perf_counter()
        await asyncio.gather(*(stream(i * batch) for i in range(streams)))
        elapsed = time.perf_counter() - t0
        await worker.aclose()
        await calls.aclose()
        return elapsed

    out.put(asyncio.run(main()))
    store.close()


def insert_rate(url: str, writers: int, rows: int, batch: int, streams: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    tag = uuid.uuid4().hex[:6]
    procs = [ctx.Process(target=_writer_process, args=(url, rows, batch, streams, f"{tag}-{w}", out)) for w in range(writers)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    times = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    total = 2 * rows * writers  # a call record and its proof per row
    return {"writers": writers, "rows": total, "slowest_s": max(times), "rows_per_s": total / max(times),
            "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=48)
    ap.add_argument("--latency", type=float, default=0.5, help="Seconds the simulated server takes per call.")
    ap.add_argument("--concurrency", type=int, default=4, help="Calls in flight per worker.")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--db", help="Database for the throughput part [default: a SQLite file per worker count].")
    ap.add_argument("--pg-url", default=os.environ.get("PROVER_TEST_PG_URL"),
                    help="PostgreSQL server for the insert rate (a scratch database is created).")
    ap.add_argument("--rows", type=int, default=2000, help="Rows per writer (each: a call record and its proof).")
    ap.add_argument("--batch", type=int, default=50, help="Calls per batch.")
    ap.add_argument("--streams", type=int, default=8, help="Batches in flight per writer.")
    args = ap.parse_args()

    print("scripted backend with a fixed latency (a test double): wiring figures, not results")
    print(f"throughput: {args.problems} problems x 6 calls, latency {args.latency}s, {args.concurrency} calls "
          f"in flight per worker, database {'SQLite' if not args.db else args.db.split(':')[0]}")
    base = None
    for n in [int(x) for x in args.workers.split(",")]:
        with tempfile.TemporaryDirectory(prefix="bench_workers_") as tmp:
            r = throughput(n, args, Path(tmp))
        base = base or r["calls_per_s"]
        print(f"  {n} worker(s): {r['window_s']:.1f}s from the start signal to the last worker's exit, "
              f"{r['calls']} calls, {r['calls_per_s']:.1f} calls/s, speed-up {r['calls_per_s'] / base:.2f}x"
              + (" (target >= 3x)" if n == 4 else ""))

    if not args.pg_url:
        print("insert rate: skipped (no --pg-url / PROVER_TEST_PG_URL)")
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from prover.core.records import ProblemRecord
    from prover.store import ProofStore

    name = f"bench_workers_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
    try:
        with ProofStore.open(url) as store:
            store.add_problems([ProblemRecord(collection="bench", external_id="p", informal_statement="P.")])
        print(f"insert rate on PostgreSQL: {args.rows} call records + {args.rows} proofs (~2 KB) per writer, "
              f"batches of {args.batch}, {args.streams} batches in flight, through each process's store writer")
        for w in (1, 4):
            r = insert_rate(url, w, args.rows, args.batch, args.streams)
            print(f"  {w} writer(s): {r['rows']} rows, {r['rows_per_s']:,.0f} rows/s summed "
                  f"(slowest writer {r['slowest_s']:.1f}s)")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()

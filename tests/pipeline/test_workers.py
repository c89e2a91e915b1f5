"""Workers sharing a run through leases, one of them SIGKILLed mid-run: every problem finishes
exactly once, no row is written twice, and at most the killed worker's calls in flight (its
concurrency limit) are sent again. 4 workers on PostgreSQL (when PROVER_TEST_PG_URL is set), 2
local workers on SQLite.

The model is the scripted backend (canned text with delays): wiring and bookkeeping only, never
a result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from prover.core.informal_records import SearchConfig, SearchKnobs
from prover.core.llm_records import ModelConfig, RoleSettings
from prover.store import ProofStore
from prover.store._informal import InformalSearch
from prover.store._leases import ProblemLease
from prover.store.schema import ModelCall, Proof, Verification

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 2
BAIT = "BAIT-PROBLEM"
"""The statement of the problem whose generation is slow: the worker holding it is killed while
that call is in flight."""

GENERATED = ("## Solution\n[scripted] step one, step two.\n\n## Self Evaluation\nchecked.\n"
             "Based on my evaluation, the final overall score should be: \\boxed{1}")
VERDICT = ("Here is my evaluation of the solution:\n[scripted] No issues found.\n\n"
           "Based on my evaluation, the final overall score should be: \\boxed{1}")


def _script(path: Path) -> Path:
    rules = [{"role": "generator", "match": BAIT, "text": GENERATED, "delay_s": 4.0},
             {"role": "generator", "text": GENERATED, "delay_s": 0.05},
             {"role": "verifier", "text": VERDICT, "delay_s": 0.05}]
    path.write_text("\n".join(json.dumps(r) for r in rules) + "\n", encoding="utf-8")
    return path


def _problems(path: Path, n: int, *, bait: bool = True) -> Path:
    lines = [{"collection": "w", "id": f"p{i:02d}",
              "statement": BAIT if bait and i == n // 4 else f"Prove that {i} + 0 = {i}."} for i in range(n)]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def _queue(store, tmp_path, n):
    from prover.pipeline.run import queue_run

    knobs = SearchKnobs(proofs=1, verifications=1, rounds=0, refine_top=1, analyses_per_refinement=1,
                        meta_verifications=0, proofs_per_refinement=1)
    models = ModelConfig(defaults=RoleSettings(backend="scripted", concurrency=CONCURRENCY, max_retries=0,
                                               backoff_s=0, script=str(_script(tmp_path / "script.jsonl"))))
    return queue_run(store, [str(_problems(tmp_path / "problems.jsonl", n))], config=SearchConfig(knobs=knobs),
                     model_config=models)


def _worker(db_url: str, run_id: int) -> subprocess.Popen:
    env = {**os.environ, "PROVER_DB": db_url, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, "-m", "prover.cli.main", "worker", "--run", str(run_id), "--json", "--lease-s", "2",
           "--problems-at-once", "2", "--poll-s", "0.2"]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _bait_holder(store, run_id, deadline_s=120.0) -> str:
    bait = store.resolve_problem(f"w/p{40 // 4:02d}").id
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with store.engine.connect() as conn:
            row = conn.execute(select(ProblemLease.holder, ProblemLease.status)
                               .where(ProblemLease.run_id == run_id, ProblemLease.problem_id == bait)).first()
            pending = conn.execute(select(ModelCall.request).where(ModelCall.status == "pending")).scalars().all()
        # The bait's generation is in flight (its pending row is committed) in the lease holder.
        if row is not None and row.status == "leased" and any(BAIT in json.dumps(r) for r in pending):
            return row.holder
        time.sleep(0.05)
    raise AssertionError("no worker took the bait problem")


def _count(conn, table, *where):
    return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_workers_share_a_run_and_survive_a_killed_one(db_url, tmp_path):
    n_workers = 4 if db_url.startswith("postgresql") else 2
    n = 40
    store = ProofStore.open(db_url)
    try:
        run_id = _queue(store, tmp_path, n)
        procs = [_worker(db_url, run_id) for _ in range(n_workers)]
        holder = _bait_holder(store, run_id)
        victim = next(p for p in procs if f":{p.pid}:" in holder)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        reports = []
        for proc in procs:
            if proc is victim:
                continue
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err[-2000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))

        counts = store.lease_counts(run_id)
        assert (counts.done, counts.open) == (n, 0)
        assert counts.takeovers >= 1  # the bait problem, at least
        results = store.lease_results(run_id)
        problem_ids = [r["problem"]["problem_id"] for r in results]
        assert len(problem_ids) == n and len(set(problem_ids)) == n  # each problem finished once
        assert all(r["problem"]["status"] != "running" for r in results)
        assert sum(r["problems"] for r in reports) <= n
        # Sent again: only what the killed worker had in flight (the bait call at least).
        resent = sum(r["client"]["resent"] for r in reports)
        assert 1 <= resent <= CONCURRENCY
        with store.engine.connect() as conn:
            assert _count(conn, Proof.__table__) == n  # one proof per problem: none written twice
            assert _count(conn, Verification.__table__) == n
            assert conn.execute(select(func.count(func.distinct(Proof.model_call_id)))).scalar_one() == n
            assert _count(conn, ModelCall.__table__, ModelCall.status == "pending") == 0
            assert _count(conn, ModelCall.__table__) == 2 * n
            searches = conn.execute(select(InformalSearch.problem_id, InformalSearch.status)).all()
        assert len(searches) == n and len({pid for pid, _ in searches}) == n
        assert all(status != "running" for _, status in searches)
    finally:
        store.close()


def test_prover_run_with_local_workers_matches_one_process(tmp_path):
    """`prover run --workers 2` gives the same results as the same run in one process."""
    script = _script(tmp_path / "script.jsonl")
    problems = _problems(tmp_path / "problems.jsonl", 8, bait=False)
    env = {**os.environ, "PROVER_SCRIPT": str(script),
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("PROVER_DB", None)
    knobs = ["--proofs", "1", "--verifications", "1", "--rounds", "0", "--meta-verifications", "0"]
    outs = []
    for name, extra in (("one.db", []), ("workers.db", ["--workers", "2", "--lease-s", "5", "--poll-s", "0.2"])):
        cmd = [sys.executable, "-m", "prover.cli.main", "run", str(problems), "--backend", "scripted",
               "--db", str(tmp_path / name), "--json", *knobs, *extra]
        proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(json.loads(proc.stdout))
    fields = ("problem", "status", "proofs", "passed", "calls", "tokens", "mean_score")
    one, workers = ([tuple(r[f] for f in fields) for r in o["results"]] for o in outs)
    assert workers == one and len(one) == 8
    assert outs[1]["sent"] == outs[0]["sent"] == 16 and outs[1]["status"] == "completed"
    with ProofStore.open(tmp_path / "workers.db") as store:
        [run] = [r for r in [store.get_run(1)] if r is not None]
        assert run.status == "completed" and len(run.summary["workers"]) == 2


def test_worker_without_a_queued_run_says_how_to_start_one(tmp_path):
    from click.testing import CliRunner

    from prover.cli.main import cli

    out = CliRunner().invoke(cli, ["worker", "--db", str(tmp_path / "x.db")])
    assert out.exit_code != 0 and "prover run … --workers N" in out.output

"""Workers sharing a run through leases, one of them SIGKILLed mid-run: every problem finishes
exactly once, no row is written twice, and at most the killed worker's calls in flight (its
concurrency limit) are sent again. 4 workers on PostgreSQL (when PROVER_TEST_PG_URL is set), 2
local workers on SQLite; informal only, and with the formal stage on the fake REPL (the worker is
killed inside a formal attempt, which the next holder of the problem redoes).

The model is the scripted backend (canned text with delays) and Lean the fake REPL answering from
recorded message templates: wiring and bookkeeping only, never a result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from prover.core.informal_records import SearchConfig, SearchKnobs
from prover.core.llm_records import ModelConfig, RoleSettings
from prover.store import ProofStore
from prover.store.schema import InformalSearch, ModelCall, ProblemLease, Proof, Verification

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "formal"))

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


def _problems(path: Path, n: int, *, bait: bool = True, formal: bool = False) -> Path:
    lines = [{"collection": "w", "id": f"p{i:02d}",
              "statement": BAIT if bait and i == n // 4 else f"Prove that {i} + 0 = {i}."} for i in range(n)]
    if formal:
        for i, line in enumerate(lines):
            line.update(header="import Mathlib\n\n", formal_statement=_toy(i)[0].removeprefix("import Mathlib\n\n"))
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


BAIT_PROOF = "BAIT-PROOF"
"""In the formal variant: the bait problem's NL proof, whose sketch is slow to come."""


def _toy(i: int) -> tuple[str, str]:
    """Problem i's own Lean statement and sketch: statement-level work (shared by the proofs of a
    statement, and so by problems with the same statement) stays the problem's own."""
    from formal_support import SKETCH, TOY

    return TOY.replace("toy_sum", f"toy_sum_{i}"), SKETCH.replace("toy_sum", f"toy_sum_{i}")


def _formal_script(path: Path, n: int) -> Path:
    from formal_support import NL_PROOF, lean_block, proof_output, verdict_output, vote

    rules = [{"role": "generator", "match": BAIT, "text": proof_output(f"{BAIT_PROOF}. {NL_PROOF}")},
             {"role": "generator", "text": proof_output(NL_PROOF)},
             {"role": "verifier", "text": verdict_output("1")},
             {"role": "prover", "text": lean_block("theorem nope : True := trivial")},
             {"role": "formalizer", "match": BAIT_PROOF, "text": lean_block(_toy(n // 4)[1]), "delay_s": 4.0}]
    rules += [{"role": "formalizer", "match": f"toy_sum_{i} (a", "text": lean_block(_toy(i)[1])}
              for i in range(n)]
    rules += [{"role": "formalizer", "text": "<think>.</think>The claim."},
              {"role": "judge", "text": vote(True)}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rules) + "\n", encoding="utf-8")
    return path


def _queue(store, tmp_path, n, *, formal: bool = False):
    from prover.pipeline.run import queue_run

    knobs = SearchKnobs(proofs=1, verifications=1, rounds=0, refine_top=1, analyses_per_refinement=1,
                        meta_verifications=0, proofs_per_refinement=1)
    script = _formal_script(tmp_path / "script.jsonl", n) if formal else _script(tmp_path / "script.jsonl")
    models = ModelConfig(defaults=RoleSettings(backend="scripted", concurrency=CONCURRENCY, max_retries=0,
                                               backoff_s=0, script=str(script)))
    settings = None
    if formal:
        from prover.core.formal_records import FormalConfig
        from prover.pipeline.formal_run import FormalSettings

        settings = FormalSettings(config=FormalConfig(trusted_collections=("w",), direct_attempts=1,
                                                      repairs_per_node=0, refute=False),
                                  processes=2, memory_cap_bytes=None, final_check="none")
    return queue_run(store, [str(_problems(tmp_path / "problems.jsonl", n, formal=formal))],
                     config=SearchConfig(knobs=knobs), model_config=models, formal=settings)


def _lean_world(tmp_path: Path, n: int):
    from formal_support import LeanWorld

    world = LeanWorld(tmp_path)
    for i in range(n):
        toy, sketch = _toy(i)
        world.statement_elaborates(toy).sketch_elaborates(toy, sketch)
    return world.write()


def _worker(db_url: str, run_id: int, lean: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PROVER_DB": db_url, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if lean is not None:
        env["PROVER_LEAN_REPL"] = lean
    cmd = [sys.executable, "-m", "prover.cli.main", "worker", "--run", str(run_id), "--json", "--lease-s", "2",
           "--problems-at-once", "2", "--poll-s", "0.2"]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _bait_holder(store, run_id, n, marks=(BAIT,), deadline_s=120.0) -> str:
    bait = store.resolve_problem(f"w/p{n // 4:02d}").id
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        with store.engine.connect() as conn:
            row = conn.execute(select(ProblemLease.holder, ProblemLease.status)
                               .where(ProblemLease.run_id == run_id, ProblemLease.problem_id == bait)).first()
            pending = conn.execute(select(ModelCall.request).where(ModelCall.status == "pending")).scalars().all()
        # The bait's generation is in flight (its pending row is committed) in the lease holder.
        if row is not None and row.status == "leased" and \
                any(all(m in json.dumps(r) for m in marks) for r in pending):
            return row.holder
        time.sleep(0.05)
    raise AssertionError("no worker took the bait problem")


def _count(conn, table, *where):
    return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


@pytest.mark.parametrize("formal", [False, True], ids=["informal", "formal"])
def test_workers_share_a_run_and_survive_a_killed_one(db_url, tmp_path, formal):
    import shlex

    n_workers = 4 if db_url.startswith("postgresql") else 2
    # 40 problems; 20 for the formal stage on SQLite (2 cores in CI: the slowest variant)
    n = 20 if formal and n_workers == 2 else 40
    store = ProofStore.open(db_url)
    try:
        run_id = _queue(store, tmp_path, n, formal=formal)
        lean = shlex.join(_lean_world(tmp_path, n).command) if formal else None
        procs = [_worker(db_url, run_id, lean) for _ in range(n_workers)]
        # Killed while its bait call is in flight: the generation, or in the formal variant the
        # sketch of the bait's formal attempt (the attempt row is `running`).
        holder = _bait_holder(store, run_id, n, marks=(BAIT_PROOF, "proof sketch") if formal else (BAIT,))
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
            if not formal:
                assert _count(conn, ModelCall.__table__) == 2 * n
            searches = conn.execute(select(InformalSearch.problem_id, InformalSearch.status)).all()
            if formal:
                from prover.store.schema import FormalAttempt

                attempts = conn.execute(select(FormalAttempt.problem_id, FormalAttempt.status)).all()
        assert len(searches) == n and len({pid for pid, _ in searches}) == n
        assert all(status != "running" for _, status in searches)
        if formal:
            # one attempt per problem (the bait's redone by its new holder), none left running
            assert len(attempts) == n and len({pid for pid, _ in attempts}) == n
            assert {status for _, status in attempts} == {"unsolved"}, attempts  # as in one process
            assert sum(len(r["formal"]) for r in results) == n
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


def test_worker_status_shows_progress_and_holders(tmp_path):
    from click.testing import CliRunner

    from prover.cli.main import cli

    db = tmp_path / "s.db"
    with ProofStore.open(db) as store:
        run_id = _queue(store, tmp_path, 4)
        store.claim_problem(run_id, "hostA:1:abc", lease_s=60)
        lease = store.claim_problem(run_id, "hostB:2:def", lease_s=60)
        store.finish_lease(lease.id, "hostB:2:def", {"problem": {}})
    out = CliRunner().invoke(cli, ["worker", "--status", "--db", str(db), "--run", str(run_id)])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0] == f"run {run_id}: 1/4 problems done, 1 in progress"
    assert "hostA:1:abc\t1" in out.output and "hostB" not in out.output


def test_a_worker_that_loses_its_lease_stops_that_problem(tmp_path):
    """A worker too slow to renew (here: its lease is made to expire and another claims it) stops
    working on the problem and leaves its result to the new holder."""
    import threading

    from sqlalchemy import update

    from prover.llm import ScriptedBackend
    from prover.pipeline.workers import WorkerSettings, work

    db = tmp_path / "lost.db"
    with ProofStore.open(db) as store:
        run_id = _queue(store, tmp_path, 1)
    backend = ScriptedBackend([{"role": "generator", "text": GENERATED, "delay_s": 30.0},
                               {"role": "verifier", "text": VERDICT}])
    reports = []

    def run_worker():
        with ProofStore.open(db) as mine:
            reports.append(work(mine, run_id, settings=WorkerSettings(lease_s=0.6, problems_at_once=1, poll_s=0.1),
                                backends={r: backend for r in ("generator", "verifier", "judge")},
                                commit_window_s=0.002, holder="slow"))

    thread = threading.Thread(target=run_worker)
    thread.start()
    with ProofStore.open(db) as store:
        deadline = time.monotonic() + 60
        while not backend.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        assert backend.calls, "the worker never asked for the generation"
        with store.engine.begin() as conn:
            conn.execute(update(ProblemLease).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=5)))
        thief = store.claim_problem(run_id, "thief", lease_s=60)
        assert thief is not None and thief.claims == 2
        time.sleep(1.0)  # the slow worker's next renewal finds the lease gone
        assert store.finish_lease(thief.id, "thief", {"problem": {"by": "thief"}})
        thread.join(timeout=60)
        assert not thread.is_alive()
        [report] = reports
        assert (report.lost, report.problems) == (1, 0)
        assert store.lease_results(run_id) == [{"problem": {"by": "thief"}}]


def test_a_worker_opens_lean_with_its_own_machine_settings(tmp_path, monkeypatch):
    """`prover worker --project P --lean-processes N`: this machine's Lake project and REPL pool
    size replace the run's; without them the run's settings open Lean."""
    from prover.pipeline.workers import work

    opened = []

    class Opened(Exception):
        pass

    def open_lean(settings):
        opened.append(settings)
        raise Opened

    monkeypatch.setattr("prover.pipeline.formal_run.open_lean", open_lean)
    with ProofStore.open(tmp_path / "w.db") as store:
        run_id = _queue(store, tmp_path, 1, formal=True)
        with pytest.raises(Opened):
            work(store, run_id, lean_here={"project": str(tmp_path / "lake"), "processes": 7})
        with pytest.raises(Opened):
            work(store, run_id, lean_here={"project": None, "processes": None})
    here, run = opened
    assert (here.project, here.processes) == (str(tmp_path / "lake"), 7)
    assert (run.project, run.processes) == (None, 2)
    assert here.config == run.config and here.backend == run.backend


def test_the_same_command_joins_its_unfinished_run(tmp_path):
    """`prover run --workers` again after its process was killed continues that run (same run,
    running again under this process) instead of queueing every problem a second time beside it;
    once every problem is done the same command is a new run."""
    with ProofStore.open(tmp_path / "j.db") as store:
        first = _queue(store, tmp_path, 3)
        lease = store.claim_problem(first, "someone:1:x", lease_s=60)
        store.finish_run(first, "interrupted")
        assert _queue(store, tmp_path, 3) == first
        run = store.get_run(first)
        assert run.status == "running" and run.pid == os.getpid()
        assert store.lease_counts(first).open == 3  # nothing queued twice
        store.finish_lease(lease.id, "someone:1:x", {})
        for holder in ("a", "b"):
            done = store.claim_problem(first, holder, lease_s=60)
            store.finish_lease(done.id, holder, {})
        assert _queue(store, tmp_path, 3) != first


WORKERS_OF_A_KILLED_RUN = """
import sys
from prover.pipeline.workers import LocalWorkers, WorkerSettings
workers = LocalWorkers.start(sys.argv[1], int(sys.argv[2]), 2, WorkerSettings(poll_s=0.2))
print(" ".join(str(p.pid) for p in workers.procs), flush=True)
sys.stdin.read()
"""


def test_local_workers_die_with_the_run_that_started_them(tmp_path):
    """A SIGKILLed `prover run --workers` leaves no worker behind: a restart starts its N again
    instead of adding N to survivors."""
    from prover.store.runs import process_alive

    db = tmp_path / "k.db"
    with ProofStore.open(db) as store:
        run_id = _queue(store, tmp_path, 1)
        store.claim_problem(run_id, "elsewhere:1:x", lease_s=600)  # the workers wait for it, alive
    parent = subprocess.Popen([sys.executable, "-c", WORKERS_OF_A_KILLED_RUN, f"sqlite:///{db}", str(run_id)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    pids = [int(p) for p in parent.stdout.readline().split()]
    try:
        assert len(pids) == 2 and all(process_alive(p) for p in pids)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 60
        while any(process_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in pids if process_alive(p)]
    finally:
        for pid in pids:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)

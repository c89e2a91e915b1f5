"""Workers coordinating through the database beyond leases: a worker whose lease was taken over
drops the problem when a formal write is refused (before its renewal notices), and a run's summary
and ``prover worker --status`` count every worker's calls, local or not.

The model is the scripted backend (canned text): wiring and bookkeeping only, never a result."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from prover.core.informal_records import SearchConfig, SearchKnobs
from prover.core.llm_records import ModelConfig, RoleSettings
from prover.llm import ScriptedBackend
from prover.store import ProofStore
from prover.store.schema import ProblemLease

pytestmark = pytest.mark.timeout(180)

GENERATED = ("## Solution\n[scripted] step one, step two.\n\n## Self Evaluation\nchecked.\n"
             "Based on my evaluation, the final overall score should be: \\boxed{1}")
VERDICT = ("Here is my evaluation of the solution:\n[scripted] No issues found.\n\n"
           "Based on my evaluation, the final overall score should be: \\boxed{1}")


def _queue(store, tmp_path: Path, n: int) -> int:
    from prover.pipeline.run import queue_run

    problems = tmp_path / "problems.jsonl"
    problems.write_text("\n".join(json.dumps({"collection": "w", "id": f"p{i}", "statement": f"Prove {i} = {i}."})
                                  for i in range(n)) + "\n", encoding="utf-8")
    knobs = SearchKnobs(proofs=1, verifications=1, rounds=0, refine_top=1, analyses_per_refinement=1,
                        meta_verifications=0, proofs_per_refinement=1)
    models = ModelConfig(defaults=RoleSettings(backend="scripted", concurrency=2, max_retries=0, backoff_s=0))
    return queue_run(store, [str(problems)], config=SearchConfig(knobs=knobs), model_config=models)


def _backends():
    backend = ScriptedBackend([{"role": "generator", "text": GENERATED}, {"role": "verifier", "text": VERDICT}])
    return {role: backend for role in ("generator", "verifier", "judge")}


def test_a_worker_whose_formal_write_is_refused_drops_the_problem(tmp_path, monkeypatch):
    """The lease is taken over while the worker still believes it holds it (its renewal is far
    off): the first formal write finds out, raises LeaseLostError, and the worker drops the
    problem without finishing it; the new holder's result stands."""
    from prover.core.errors import LeaseLostError
    from prover.informal.search import ProblemSearch
    from prover.pipeline.workers import WorkerSettings, work

    db = tmp_path / "fenced.db"
    with ProofStore.open(db) as store:
        run_id = _queue(store, tmp_path, 1)
    refused: list[BaseException] = []

    async def taken_over_then_write(self):
        # Another worker takes the problem over behind this worker's back …
        with ProofStore.open(db) as thief:
            with thief.engine.begin() as conn:
                conn.execute(update(ProblemLease).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=5)))
            lease = thief.claim_problem(run_id, "thief", lease_s=60)
            assert lease is not None and lease.claims == 2
            thief.finish_lease(lease.id, "thief", {"problem": {"by": "thief"}})
        # … and this worker's next formal write is refused.
        try:
            await self.e.worker.run(self.e.store.begin_formal_attempt, "k", problem_id=self.p.id, proof_id=None,
                                    run_id=run_id)
        except LeaseLostError as exc:
            refused.append(exc)
            raise
        raise AssertionError("the write went through")

    monkeypatch.setattr(ProblemSearch, "run", taken_over_then_write)
    with ProofStore.open(db) as mine:
        report = work(mine, run_id, settings=WorkerSettings(lease_s=60, problems_at_once=1, poll_s=0.1),
                      backends=_backends(), commit_window_s=0.002, holder="slow")
        assert refused and (report.lost, report.problems) == (1, 0)
        assert mine.lease_results(run_id) == [{"problem": {"by": "thief"}}]
        assert mine.formal_attempts_of() == []  # nothing written


def test_the_summary_counts_the_calls_of_workers_that_are_not_local(tmp_path):
    """A worker joined from elsewhere (here a thread through ``work``, reporting to nobody): its
    calls are in the run's summary and in ``prover worker --status``."""
    from click.testing import CliRunner

    from prover.cli.main import cli
    from prover.pipeline.workers import WorkerSettings, summarize, work

    db = tmp_path / "summary.db"
    with ProofStore.open(db) as store:
        run_id = _queue(store, tmp_path, 3)
    reports = []

    def remote():
        with ProofStore.open(db) as theirs:
            reports.append(work(theirs, run_id, settings=WorkerSettings(lease_s=60, poll_s=0.1),
                                backends=_backends(), commit_window_s=0.002, holder="elsewhere"))

    t = threading.Thread(target=remote)
    t.start()
    t.join(timeout=120)
    [theirs] = reports
    assert theirs.problems == 3 and theirs.client["sent"] > 0
    with ProofStore.open(db) as store:
        summary = summarize(store, run_id, [], seconds=1.0)  # no local worker reported
        assert summary.sent == theirs.client["sent"] == sum(store.call_counts(run_id).values())
        assert len(summary.results) == 3 and summary.status == "completed"
    out = CliRunner().invoke(cli, ["worker", "--status", "--db", str(db), "--run", str(run_id)])
    assert out.exit_code == 0, out.output
    assert f"calls: {theirs.client['sent']} sent by all workers" in out.output

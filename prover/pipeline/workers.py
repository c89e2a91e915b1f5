"""Workers: a run's problems shared by processes on any number of machines, through the database.

``prover run … --workers N`` stores the run (its settings, and one lease row per problem), starts N
local ``prover worker`` processes and waits for them; ``prover worker --db URL [--run ID]`` joins
a run from any machine that reaches the database. A worker claims a problem (``claim_problem``),
runs its search (and formal stage) exactly as a single process would, renews its leases while it
works, and ends each lease with the problem's result. A worker that dies (SIGKILL, a lost machine)
stops renewing; once its leases expire another worker claims them and resumes from stored rows:
answered calls come from the call cache, stored rows are found by their calls, and only the calls
it had in flight (at most its concurrency limit) are sent again.

Everything a worker needs is in the run row (``config["plan"]``): the search settings, the
prompt templates, the model settings (API keys stay in each machine's environment; only the
variable's name is stored) and the formal stage's settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
import dataclasses
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from prover.core.errors import LeaseLostError, NotFoundError, UsageError
from prover.core.informal_records import ProblemResult, RunSummary, SearchConfig
from prover.core.llm_records import ModelConfig
from prover.informal.prompts import Templates

if TYPE_CHECKING:
    from prover.store import ProofStore


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker holds its problems."""

    lease_s: float = 120.0
    """How long a claim lasts without renewal: a dead worker's problems wait this long."""
    problems_at_once: int = 8
    """Problems a worker searches at the same time (the model client's limit gates the calls)."""
    poll_s: float = 2.0
    """While other workers hold every open problem: how often to look for an expired lease."""

    @property
    def renew_s(self) -> float:
        # A third of the lease: two renewals may be late (a busy writer, a slow database)
        # before another worker takes the problem over.
        return self.lease_s / 3


class RunPlan(BaseModel):
    """What a worker needs to run a run's problems, as stored on the run row."""

    model_config = ConfigDict(frozen=True)

    search: SearchConfig
    templates: Templates
    models: ModelConfig
    formal: dict[str, Any] | None = None
    """``FormalSettings`` fields (its ``config`` as FormalConfig's fields), or None."""

    def formal_settings(self) -> Any:
        if self.formal is None:
            return None
        from prover.core.formal_records import FormalConfig
        from prover.pipeline.formal_run import FormalSettings

        values = dict(self.formal)
        return FormalSettings(config=FormalConfig.model_validate(values.pop("config")), **values)

    @classmethod
    def of(cls, search: SearchConfig, templates: Templates, models: ModelConfig, formal: Any) -> "RunPlan":
        fdict = None
        if formal is not None:
            fdict = {**asdict(formal), "config": formal.config.model_dump(mode="json")}
        return cls(search=search, templates=templates, models=models, formal=fdict)


class WorkerReport(BaseModel):
    """What one worker did (``prover worker --json`` prints it)."""

    model_config = ConfigDict(frozen=True)

    run_id: int
    holder: str
    problems: int = 0
    """Problems this worker finished."""
    takeovers: int = 0
    """Of those, problems taken over from a worker whose lease expired."""
    lost: int = 0
    """Problems whose lease this worker lost while working on them (it stopped; another took over)."""
    client: dict[str, int] = {}
    """The model client's counts (``sent``, ``cached``, ``resent``…)."""
    seconds: float = 0.0


def new_holder() -> str:
    """A worker's name in lease rows: machine, process and a nonce (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def load_plan(store: ProofStore, run_id: int) -> RunPlan:
    run = store.get_run(run_id)
    if run is None:
        raise NotFoundError(f"no run {run_id}")
    plan = (run.config or {}).get("plan")
    if plan is None:
        raise UsageError(f"run {run_id} was not started for workers (start it with `prover run … --workers N`)")
    return RunPlan.model_validate(plan)


def pick_run(store: ProofStore, run_id: int | None) -> int:
    """``--run`` or else the newest run with problems left."""
    if run_id is not None:
        return run_id
    open_runs = store.runs_with_open_leases()
    if not open_runs:
        raise NotFoundError("no run has problems left for workers; start one with `prover run … --workers N`")
    return open_runs[0]


def work(store: ProofStore, run_id: int, *, settings: WorkerSettings = WorkerSettings(),
         backends: Mapping[str, Any] | None = None, commit_window_s: float | None = None,
         lean: tuple[Any, Any] | None = None, holder: str | None = None,
         lean_here: Mapping[str, Any] | None = None) -> WorkerReport:
    """Work on a run's problems until none is left (done by this worker or others). ``lean``
    gives a ready (backend, pin) for a formal run; else the run's formal settings open one, with
    ``lean_here`` (``project``, ``processes``: this machine's Lake project and REPL pool size)
    in place of the run's."""
    plan = load_plan(store, run_id)
    formal = plan.formal_settings()
    if formal is not None and lean_here:
        formal = dataclasses.replace(formal, **{k: v for k, v in lean_here.items() if v is not None})
    lean_backend = pin = None
    if formal is not None:
        from prover.pipeline.formal_run import open_lean

        lean_backend, pin = lean if lean is not None else open_lean(formal)
    holder = holder or new_holder()
    store.lease_holder = holder
    try:
        return asyncio.run(_work(store, run_id, plan, formal, settings, backends, commit_window_s, lean_backend,
                                 pin, holder))
    finally:
        store.lease_holder = None
        if lean_backend is not None and lean is None:
            lean_backend.close()


async def _work(store: ProofStore, run_id, plan: RunPlan, formal, settings: WorkerSettings, backends, commit_window_s,
                lean_backend, pin, holder: str) -> WorkerReport:
    from prover.informal.search import Engine, ProblemSearch
    from prover.llm import ModelClient
    from prover.pipeline.run import problem_info

    started = time.perf_counter()
    extra = {"commit_window_s": commit_window_s} if commit_window_s is not None else {}
    # A dead worker's claims on calls free up when its leases do.
    client = ModelClient(plan.models, store=store, run_id=run_id, backends=backends, claim_s=settings.lease_s,
                         **extra)
    engine = Engine(store=store, client=client, config=plan.search, templates=plan.templates, run_id=run_id)
    hooks = None
    if formal is not None:
        from prover.pipeline.formal_run import FormalHooks, make_engine

        hooks = FormalHooks(make_engine(store, client, lean_backend, pin, formal.config, run_id=run_id,
                                        worker=engine.worker, final_check=formal.final_check),
                            sample=formal.sample, seed=plan.search.seed)
        engine.hooks = hooks
    db = engine.worker.run
    held: dict[asyncio.Task, Any] = {}
    finished = takeovers = lost = 0

    async def renew() -> None:
        while True:
            await asyncio.sleep(settings.renew_s)
            by_id = {lease.id: task for task, lease in held.items()}
            try:
                gone = await db(store.renew_leases, list(by_id), holder, lease_s=settings.lease_s)
            except Exception as exc:  # noqa: BLE001 - SQLAlchemy's errors as well as ours
                # The database is unreachable for a moment: try again next time round (the
                # lease outlives two missed renewals).
                log.warning("cannot renew leases: %s", exc)
                continue
            for lease_id in gone:
                task = by_id[lease_id]
                lease = held.get(task)
                if lease is None or task.done():  # finished meanwhile: ended by this worker
                    continue
                task.cancel()
                drop(lease)

    def drop(lease: Any) -> None:
        # Another worker has the problem now: stop its formal attempts too; it resumes from
        # what is stored.
        nonlocal lost
        lost += 1
        if hooks is not None:
            # Forgotten too: should this worker hold the problem again, its attempts start afresh.
            for formal_task in hooks.tasks.pop(lease.problem_id, []):
                formal_task.cancel()
                for proof_id in [p for p, t in hooks.started.items() if t is formal_task]:
                    del hooks.started[proof_id]

    renewer = asyncio.ensure_future(renew())
    try:
        while True:
            while len(held) < settings.problems_at_once:
                lease = await db(store.claim_problem, run_id, holder, lease_s=settings.lease_s)
                if lease is None:
                    # Problems held by dead workers of this machine need not wait for expiry.
                    if await db(store.release_dead_local_leases, run_id):
                        continue
                    break
                info = problem_info(await db(store.get_problem, lease.problem_id))
                held[asyncio.ensure_future(ProblemSearch(engine, info).run())] = lease
            if not held:
                counts = await db(store.lease_counts, run_id)
                if counts.open == 0:
                    break
                await asyncio.sleep(settings.poll_s)  # others hold the rest; take over any that expire
                continue
            done, _ = await asyncio.wait(list(held), timeout=settings.poll_s, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                lease = held[task]
                if task.cancelled():
                    del held[task]
                    continue
                if _lease_lost(task.exception()):
                    # A write found the lease taken over before the renewal did: nothing was written.
                    # (Given back too, in case the refusal came from work this problem shared
                    # with one whose lease was lost: then it is still this worker's.)
                    log.warning("lost the lease of problem %s: leaving it to its new holder", lease.problem_id)
                    del held[task]
                    drop(lease)
                    await db(store.release_leases, [lease.id], holder)
                    continue
                result: ProblemResult = task.result()  # a search's unexpected error ends the worker
                del held[task]
                formal_results = [r.model_dump(mode="json") for r in hooks.results
                                  if r.problem_id == lease.problem_id] if hooks is not None else []
                if await db(store.finish_lease, lease.id, holder,
                            {"problem": result.model_dump(mode="json"), "formal": formal_results}):
                    finished += 1
                    takeovers += lease.claims > 1
    except BaseException:
        # Stopping on an error or Ctrl-C: give the problems back at once rather than after the
        # lease expires (what is stored stays; the next holder resumes from it).
        for task in held:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*held, return_exceptions=True)
            await db(store.release_leases, [lease.id for lease in held.values()], holder)
        raise
    finally:
        renewer.cancel()
        with contextlib.suppress(BaseException):
            await renewer
        await engine.worker.aclose()
        await client.aclose()
    return WorkerReport(run_id=run_id, holder=holder, problems=finished, takeovers=takeovers, lost=lost,
                        client=client.stats.as_dict(), seconds=time.perf_counter() - started)


def _lease_lost(exc: BaseException | None) -> bool:
    """Whether a search ended because a write found its lease lost (maybe inside a task group's
    exception group)."""
    if isinstance(exc, BaseExceptionGroup):
        return any(_lease_lost(e) for e in exc.exceptions)
    return isinstance(exc, LeaseLostError)


# -- the coordinator: `prover run … --workers N` ------------------------------------------------

def worker_command(run_id: int, settings: WorkerSettings) -> list[str]:
    """The command line of a local worker process (the database URL goes in $PROVER_DB: a
    password on a command line is visible to every user of the machine)."""
    return [sys.executable, "-m", "prover.cli.main", "worker", "--run", str(run_id), "--json",
            "--lease-s", str(settings.lease_s), "--problems-at-once", str(settings.problems_at_once),
            "--poll-s", str(settings.poll_s)]


@dataclass
class LocalWorkers:
    """N ``prover worker`` processes on this machine, owned by the ``prover run`` that starts them:
    they die with it (``PR_SET_PDEATHSIG``), so a restarted run starts N workers again instead of
    adding N to survivors, and takes their problems back at once (``release_dead_local_leases``).
    Their output goes to files, not pipes: a worker that says much (warnings, tracebacks) must
    never block on a full pipe."""

    procs: list[subprocess.Popen] = field(default_factory=list)
    outputs: list[tuple[Any, Any]] = field(default_factory=list)

    @classmethod
    def start(cls, db_url: str, run_id: int, n: int, settings: WorkerSettings) -> "LocalWorkers":
        from prover.lean.limits import deathsig_setter

        cmd = worker_command(run_id, settings)
        env = {**os.environ, "PROVER_DB": db_url}
        workers = cls()
        for _ in range(n):
            out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
            workers.outputs.append((out, err))
            # The death signal goes with the thread that forks: this is the run's main thread.
            workers.procs.append(subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env,
                                                  preexec_fn=deathsig_setter()))
        return workers

    def wait(self, tick: Callable[[], None] | None = None, every_s: float = 2.0
             ) -> tuple[list[WorkerReport], list[str]]:
        """Wait for every worker (calling ``tick`` every ``every_s`` meanwhile): the reports of
        those that finished, and what the others said when they failed."""
        while any(p.poll() is None for p in self.procs):
            if tick is not None:
                tick()
            time.sleep(every_s if tick is not None else 0.2)
        reports, failures = [], []
        for proc, (out, err) in zip(self.procs, self.outputs):
            out.seek(0)
            err.seek(0)
            text, said = out.read(), err.read()
            out.close()
            err.close()
            if proc.returncode == 0:
                reports.append(WorkerReport.model_validate_json(text.strip().splitlines()[-1]))
            else:
                failures.append(f"worker {proc.pid} exited {proc.returncode}: {(said or text).strip()[-500:]}")
        return reports, failures

    def stop(self) -> None:
        """Stop the workers as Ctrl-C would (each gives its problems back), then for good."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def progress_line(store: ProofStore, run_id: int) -> str:
    """One line on a run's leases (``prover run --workers`` prints it while it waits)."""
    c = store.lease_counts(run_id)
    total = c.todo + c.leased + c.expired + c.done
    return (f"run {run_id}: {c.done}/{total} problems done, {c.leased} in progress"
            + (f", {c.expired} with an expired lease" if c.expired else "")
            + (f", {c.takeovers} taken over" if c.takeovers else ""))


def calls_line(store: ProofStore, run_id: int) -> str:
    """One line on the calls every worker of a run sent, as stored (``prover worker --status``)."""
    by_status = store.call_counts(run_id)
    flying = by_status.get("pending", 0)
    return (f"calls: {sum(by_status.values())} sent by all workers" + (f" ({flying} in flight)" if flying else "")
            + f", {store.run_tokens([run_id])} tokens")


def summarize(store: ProofStore, run_id: int, reports: Sequence[WorkerReport], *, seconds: float) -> RunSummary:
    """The run's summary from its leases' results, the calls its workers stored (every worker's,
    local or not) and the local workers' reports (for what only a client knows: answers from the
    call cache, calls re-sent after an interruption)."""
    done = store.lease_results(run_id)
    results = [ProblemResult.model_validate(r["problem"]) for r in done]
    formal = [f for r in done for f in r.get("formal", [])]
    client = {k: sum(r.client.get(k, 0) for r in reports) for k in ("cached", "resent")}
    # Each call is stored once, with the run that sent it: every worker's, local or not (one
    # re-sent after a takeover counts once).
    client["sent"] = sum(store.call_counts(run_id).values())
    counts = store.lease_counts(run_id)
    formal_errors = any(f.get("status") == "error" for f in formal)
    status = "completed" if counts.open == 0 and not formal_errors and \
        not any(r.status == "incomplete" for r in results) else "incomplete"
    return RunSummary(run_id=run_id, results=results, calls=sum(r.calls for r in results), sent=client["sent"],
                      cached=client["cached"], resent=client["resent"], tokens=sum(r.tokens for r in results),
                      seconds=seconds, status=status, formal=formal)


def run_with_workers(store: ProofStore, run_id: int, n: int, settings: WorkerSettings, *,
                     progress: bool | None = None) -> RunSummary:
    """Start ``n`` local workers on a queued run, wait for every problem (remote workers may
    help), and end the run with its summary. ``progress`` (None: on a terminal) prints a line on
    the run's leases every few seconds."""
    started = time.perf_counter()
    workers = LocalWorkers.start(store.engine.url.render_as_string(hide_password=False), run_id, n, settings)
    show = sys.stderr.isatty() if progress is None else progress
    try:
        reports, failures = workers.wait(
            (lambda: print(progress_line(store, run_id), file=sys.stderr, flush=True)) if show else None)
    except BaseException as exc:
        workers.stop()
        store.abort_run(run_id, exc)
        raise
    # A worker leaves only when no problem is open, so one that reported means the run is done; a
    # worker that failed left its problems to the others.
    summary = summarize(store, run_id, reports, seconds=time.perf_counter() - started)
    if store.lease_counts(run_id).open:
        from prover.core.errors import BackendError

        why = "; ".join(failures) or "the workers stopped with problems left"
        store.finish_run(run_id, status="failed", summary={"error": why[:500], "workers": len(reports)})
        raise BackendError(why)
    counts = store.lease_counts(run_id)
    store.finish_run(run_id, status=summary.status, summary={
        "calls": summary.calls, "sent": summary.sent, "cached": summary.cached, "resent": summary.resent,
        "tokens": summary.tokens, "seconds": summary.seconds, "solved": sum(r.passed for r in summary.results),
        "tokens_sent": store.run_tokens([run_id]),
        "problems": len(summary.results), "workers": [json.loads(r.model_dump_json()) for r in reports],
        "takeovers": counts.takeovers, "worker_failures": failures})
    return summary

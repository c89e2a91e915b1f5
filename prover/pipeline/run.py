"""``prover run``: an informal search over problems named on the command line.

A token is a file (imported first) if that path exists, otherwise a problem id. The run is a row
in ``runs``; every search, proof, analysis and model call is a row too, so the same command
continues after Ctrl-C or a crash without asking any answered call again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prover.core.errors import NotFoundError, UsageError
from prover.core.hashing import hash_json
from prover.core.informal_records import BudgetEstimate, RunSummary, SearchConfig
from prover.core.llm_records import ModelConfig
from prover.informal.prompts import Templates, default_templates
from prover.informal.search import Engine, ProblemInfo, max_calls_per_proof, run_barrier, run_pipelined
from prover.pipeline.progress import RichProgress

if TYPE_CHECKING:
    from prover.store import ProofStore


SCHEDULES = {"pipelined": run_pipelined, "barrier": run_barrier}


def problem_info(p: Any) -> ProblemInfo:
    """A stored problem as a search sees it."""
    return ProblemInfo(id=p.id, label=f"{p.collection}/{p.external_id}",
                       key=f"{p.collection}/{p.external_id}/{p.statement_hash}",
                       statement=p.informal_statement, reference_answer=p.reference_answer)


def resolve_problems(store: ProofStore, tokens: Sequence[str], *, import_files: bool = True) -> list[ProblemInfo]:
    """The problems the tokens name, in order, each once. A token that is an existing path is a
    problem file (imported, unless ``import_files`` is False: then its problems are read but not
    stored, and carry id -1 when new); any other token is a problem id, ``COLLECTION/ID`` or
    row id (an ambiguous one is a UsageError)."""
    from prover.store.imports import parse_problem_file

    if not tokens:
        raise UsageError("name at least one problem file or problem id")
    out: dict[tuple[int, str], ProblemInfo] = {}
    for token in tokens:
        path = Path(token)
        if path.exists():
            records = parse_problem_file(path)
            if import_files:
                store.add_problems(records)
            ids = store.problem_ids([r.key for r in records])
            for rec in records:
                pid = ids.get(rec.key, -1)
                info = ProblemInfo(id=pid, label=f"{rec.collection}/{rec.external_id}",
                                   key="/".join(rec.key), statement=rec.informal_statement,
                                   reference_answer=rec.reference_answer)
                out.setdefault((pid, info.key), info)
        else:
            info = problem_info(_resolve_stored(store, token))
            out.setdefault((info.id, info.key), info)
    return list(out.values())


def _resolve_stored(store: ProofStore, token: str) -> Any:
    """The stored problem a token names; a token that names none and looks like a path is a
    missing file (a typo in a path should not read as an unknown problem id)."""
    from prover.store.imports import SUFFIXES

    try:
        return store.resolve_problem(token)
    except NotFoundError:
        if Path(token).suffix.lower() in SUFFIXES:
            raise NotFoundError(f"{token}: no such file") from None
        if "/" in token or "\\" in token:
            raise NotFoundError(f"{token}: no such file or directory, and no stored problem is named so "
                                "(COLLECTION/ID)") from None
        raise


def estimate_budget(problems: Sequence[ProblemInfo], config: SearchConfig, model_config: ModelConfig) -> BudgetEstimate:
    """The most calls (by role) and completion tokens a run of these problems may use."""
    k = config.knobs
    proofs = k.proofs + k.rounds * k.refine_top * k.proofs_per_refinement
    by_role = {"generator": 0, "verifier": 0, "meta_verifier": 0, "judge": 0}
    total = 0
    per_problem = 0
    for p in problems:
        has_ref = p.reference_answer is not None
        roles = {"generator": proofs, "verifier": proofs * (k.verifications + config.max_verdict_retries),
                 "meta_verifier": proofs * k.verifications * k.meta_verifications,
                 "judge": proofs if has_ref and config.answer_judge else 0}
        calls = proofs * max_calls_per_proof(config, has_ref)
        if config.call_budget is not None:
            calls = min(calls, config.call_budget)
            roles = {r: min(n, config.call_budget) for r, n in roles.items()}
        for r, n in roles.items():
            by_role[r] += n
        total += calls
        per_problem = max(per_problem, calls)
    limits = {r: model_config.role(r).max_tokens for r in by_role}
    tokens = None if any(limits[r] is None for r, n in by_role.items() if n) else \
        sum(n * (limits[r] or 0) for r, n in by_role.items())
    return BudgetEstimate(problems=len(problems), knobs=k, calls_per_problem=per_problem, calls_by_role=by_role,
                          calls=total, completion_tokens=tokens, max_tokens_by_role=limits)


def run_informal(store: ProofStore, tokens: Sequence[str], *, config: SearchConfig, model_config: ModelConfig,
                 templates: Templates | None = None, backends: Mapping[str, Any] | None = None,
                 progress: bool | None = None, command: Sequence[str] | None = None,
                 schedule: str = "pipelined", commit_window_s: float | None = None, formal: Any = None,
                 lean: tuple[Any, Any] | None = None, workers: int | None = None,
                 worker_settings: Any = None) -> RunSummary:
    """Run the informal search on every problem the tokens name; returns the summary (also
    stored on the run row). ``backends`` maps roles to ready backends (tests pass scripted
    ones); ``progress`` None shows bars on a terminal only; ``commit_window_s`` sets the model
    client's group-commit window (tests with instant scripted answers shorten it). ``formal`` (``FormalSettings``)
    adds the formal stage (``prover run --formal``): Lean is opened first — without a usable
    toolchain the run stops with PrerequisiteError before any model call — unless ``lean``
    gives a ready (backend, pin). ``workers`` N: the problems are queued as leases and N local
    ``prover worker`` processes (and any that join from other machines) do them
    (``prover.pipeline.workers``); ``backends`` and ``lean`` cannot cross into them."""
    if workers:
        return _run_with_workers(store, tokens, config=config, model_config=model_config, templates=templates,
                                 command=command, formal=formal, workers=workers, settings=worker_settings,
                                 progress=progress)
    lean_backend = pin = None
    if formal is not None:
        from prover.pipeline.formal_run import open_lean

        lean_backend, pin = lean if lean is not None else open_lean(formal)
    try:
        return _run_informal(store, tokens, config=config, model_config=model_config, templates=templates,
                             backends=backends, progress=progress, command=command, schedule=schedule,
                             commit_window_s=commit_window_s, formal=formal, lean_backend=lean_backend, pin=pin)
    finally:
        if lean_backend is not None and lean is None:
            lean_backend.close()


def _run_with_workers(store: ProofStore, tokens, *, config, model_config, templates, command, formal, workers,
                      settings, progress) -> RunSummary:
    from prover.pipeline.workers import WorkerSettings, run_with_workers

    if formal is not None:
        from prover.pipeline.formal_run import open_lean

        backend, _ = open_lean(formal)  # no usable Lean here: stop before any worker starts
        backend.close()
    run_id = queue_run(store, tokens, config=config, model_config=model_config, templates=templates,
                       command=command, formal=formal)
    return run_with_workers(store, run_id, workers, settings or WorkerSettings(), progress=progress)


def queue_run(store: ProofStore, tokens: Sequence[str], *, config: SearchConfig, model_config: ModelConfig,
              templates: Templates | None = None, command: Sequence[str] | None = None, formal: Any = None) -> int:
    """Store a run and queue its problems as leases, starting no worker: ``prover worker``
    processes (``prover.pipeline.workers.work``) do them. Returns the run's id. The same command
    again while that run's problems are not all done (its ``prover run`` was killed) joins that
    run instead of queueing the problems a second time beside it."""
    templates = templates or default_templates()
    problems = resolve_problems(store, tokens)
    unfinished = store.find_run(_run_key(problems, config, model_config, templates, formal))
    if unfinished is not None and store.lease_counts(unfinished.id).open > 0:
        store.resume_run(unfinished.id)
        return unfinished.id
    run_id = _open_run(store, problems, config=config, model_config=model_config, templates=templates,
                       command=command, schedule="pipelined", formal=formal)
    store.queue_problems(run_id, [p.id for p in problems])
    return run_id


def _run_key(problems, config, model_config, templates, formal) -> str:
    """The hash of what decides a run's work: its problems, settings, prompts and models."""
    key_parts = {"problems": [p.key for p in problems], "config": config.model_dump(mode="json"),
                 "templates": templates.fingerprint(), "models": model_config.model_dump(mode="json")}
    if formal is not None:
        key_parts["formal"] = [formal.config.model_dump(mode="json"), formal.sample]
    return hash_json(key_parts)


def _open_run(store: ProofStore, problems, *, config, model_config, templates, command, schedule, formal) -> int:
    """The run row: its settings, and all a worker needs to join it."""
    from prover.pipeline.workers import RunPlan

    run_key = _run_key(problems, config, model_config, templates, formal)
    run_config = {"search": config.model_dump(mode="json"), "templates": templates.source,
                  "schedule": schedule, "problems": [p.label for p in problems],
                  "plan": RunPlan.of(config, templates, model_config, formal).model_dump(mode="json")}
    if formal is not None:
        run_config["formal"] = {"config": formal.config.model_dump(mode="json"), "sample": formal.sample,
                                "backend": formal.backend}
    return store.start_run("informal" if formal is None else "informal+formal", command=list(command or []),
                           seed=config.seed, run_key=run_key, config=run_config)


def _run_informal(store: ProofStore, tokens, *, config, model_config, templates, backends, progress, command, schedule,
                  commit_window_s, formal, lean_backend, pin) -> RunSummary:
    from prover.llm import ModelClient

    templates = templates or default_templates()
    problems = resolve_problems(store, tokens)
    run_id = _open_run(store, problems, config=config, model_config=model_config, templates=templates,
                       command=command, schedule=schedule, formal=formal)
    started = time.perf_counter()
    extra = {"commit_window_s": commit_window_s} if commit_window_s is not None else {}
    client = ModelClient(model_config, store=store, run_id=run_id, backends=backends, **extra)
    try:
        with RichProgress(len(problems), enabled=progress) as bars:
            engine = Engine(store=store, client=client, config=config, templates=templates, run_id=run_id,
                            progress=bars)
            hooks = None
            if formal is not None:
                from prover.pipeline.formal_run import FormalHooks, make_engine

                hooks = FormalHooks(make_engine(store, client, lean_backend, pin, formal.config, run_id=run_id,
                                                worker=engine.worker, final_check=formal.final_check),
                                    sample=formal.sample, seed=config.seed)
                engine.hooks = hooks

            async def main():
                try:
                    return await SCHEDULES[schedule](engine, problems)
                except BaseExceptionGroup as group:
                    # Task groups wrap what a task raised; the caller wants the error itself.
                    raise _first_leaf(group) from None
                finally:
                    await engine.worker.aclose()
                    await client.aclose()

            results = asyncio.run(main())
        formal_errors = any(r.status == "error" for r in hooks.results) if hooks is not None else False
        status = "incomplete" if formal_errors or any(r.status == "incomplete" for r in results) else "completed"
    except BaseException as exc:
        # Ctrl-C, or an error that stops the whole run: what is stored stays, and the same
        # command continues from it.
        interrupted = isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError))
        store.finish_run(run_id, status="interrupted" if interrupted else "failed",
                         summary={"client": client.stats.as_dict(), "error": str(exc)[:500]})
        raise
    stats = client.stats
    summary = RunSummary(run_id=run_id, results=results, calls=sum(r.calls for r in results), sent=stats.sent,
                         cached=stats.cached, resent=stats.resent, tokens=sum(r.tokens for r in results),
                         seconds=time.perf_counter() - started, status=status,
                         formal=[r.model_dump(mode="json") for r in hooks.results] if hooks is not None else [])
    store.finish_run(run_id, status=status, summary={
        "calls": summary.calls, "sent": summary.sent, "cached": summary.cached, "resent": summary.resent,
        "tokens": summary.tokens, "seconds": summary.seconds, "solved": sum(r.passed for r in results),
        "problems": len(results), "client": stats.as_dict(),
        "judge_calls_saved": sum(r.judge_calls_saved for r in results),
        **({"formal": {"attempts": len(summary.formal), "statuses": _count(r["status"] for r in summary.formal),
                       "errors": [{"attempt_id": r["attempt_id"], "proof_id": r["proof_id"],
                                   "stop_reason": r["stop_reason"]} for r in summary.formal_errors]}}
           if formal is not None else {})})
    return summary


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def plan_run(store: ProofStore, tokens: Sequence[str], *, config: SearchConfig, model_config: ModelConfig,
             formal: Any = None) -> BudgetEstimate:
    """``--dry-run``: the most a run may use; reads problem files without storing them and
    makes no model call. With ``formal`` (``FormalSettings``), the formal stage's calls and Lean
    checks too (opening no Lean)."""
    problems = resolve_problems(store, tokens, import_files=False)
    est = estimate_budget(problems, config, model_config)
    if formal is None:
        return est
    from prover.pipeline.formal_run import estimate_formal

    return est.model_copy(update={"formal": estimate_formal(problems, config.knobs, formal)})

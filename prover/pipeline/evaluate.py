"""``prover eval``: run a benchmark end to end and score it the way the benchmark does.

IMO-ProofBench: import the problems (the import machinery of ``prover problems import``), run the
informal search on them (``prover run``'s library function), then ask the grader — the ``judge``
role — to grade each selected proof 0–7 seeing the problem, the reference solution and the grading
guidelines. That reveal goes to the grader only and is recorded on the grading run
(``reveals_reference``). Each evaluation is a row in ``evaluations`` keyed by its inputs: the same
command updates the same row, and every model call it needs is in the call cache, so a rerun sends
nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prover.core.errors import NotFoundError, UsageError
from prover.core.eval_records import Benchmark, EvalSummary, FormalBenchScore, ProblemOutcome
from prover.core.hashing import hash_json
from prover.core.informal_records import BudgetEstimate, SearchConfig
from prover.core.llm_records import ChatMessage, ModelConfig, ModelRequest, SamplingParams
from prover.core.paths import shared_dir
from prover.informal.grader import GraderTemplate, load_grader_template, parse_grade
from prover.informal.prompts import Templates, default_templates, load_templates
from prover.informal.seeds import derive_seed

if TYPE_CHECKING:
    from prover.store import ProofStore


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in [
    Benchmark(name="imo-proofbench", kind="graded", data="imo-proofbench/proofbench.csv",
              collection="imo-proofbench", splits=("basic", "advanced"), title="IMO-ProofBench",
              formal_data="imo-proofbench/lean_proof_bench.csv"),
    Benchmark(name="minif2f", kind="formal", data="minif2f/minif2f_lean4_informal_formal.jsonl",
              collection="minif2f", splits=("test", "valid"), title="miniF2F"),
    Benchmark(name="proofnet", kind="formal", data="proofnet/deepseek-prover-v1.5/proofnet.jsonl",
              collection="proofnet", splits=("valid", "test"), title="ProofNet"),
    Benchmark(name="putnambench", kind="formal", data="putnambench/putnambench_lean4_informal_formal.jsonl",
              collection="putnambench", splits=(), title="PutnamBench"),
]}
GRADER_ROLE = "judge"
SEARCH_ROLES = ("generator", "verifier", "meta_verifier", "judge")


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise UsageError(f"unknown benchmark {name!r} (benchmarks: {', '.join(BENCHMARKS)})") from None


def git_commit() -> str | None:
    """The commit of the prover checkout this runs from, None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def split_templates(path: str | Path | None) -> tuple[Templates, GraderTemplate]:
    """The search templates and the grader template of a ``--templates`` TOML file: its
    ``grader`` entry is the grader's, the others are ``prover run``'s."""
    if path is None:
        return default_templates(), GraderTemplate()
    grader = load_grader_template(path)
    try:
        with Path(path).open("rb") as fh:
            doc = tomllib.load(fh)
    except OSError:
        return load_templates(path), grader  # says why
    doc.pop("grader", None)
    if not any(k != "syntax" for k in doc):
        return default_templates(), grader
    with tempfile.TemporaryDirectory() as tmp:
        rest = Path(tmp) / "templates.toml"
        rest.write_text(_toml(doc), encoding="utf-8")
        templates = load_templates(rest)
    return templates.model_copy(update={"source": str(path)}), grader


def _toml(doc: dict[str, Any]) -> str:
    import json

    lines = []
    for key, value in doc.items():
        if isinstance(value, dict):
            lines.append(f"[{key}]")
            lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()]
        else:
            lines.insert(0, f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def benchmark_records(bench: Benchmark, *, split: str = "all", data: str | Path | None = None,
                      limit: int | None = None) -> tuple[list[Any], list[Any]]:
    """(every record of the benchmark's file, those of ``split`` in file order); ``limit`` keeps
    the first N of each split. Reads the file, stores nothing."""
    from prover.store.imports import parse_problem_file

    if split != "all" and split not in bench.splits:
        choices = f"splits {', '.join(bench.splits)} (or all)" if bench.splits else "no splits (use all)"
        raise UsageError(f"{bench.name} has {choices}, not {split!r}")
    path = Path(data) if data is not None else shared_dir() / "data" / bench.data
    if not path.exists():
        raise NotFoundError(f"{bench.title} data not found at {path}: set PROVER_SHARED to the shared folder "
                            "or pass --data FILE")
    every = parse_problem_file(path, collection=bench.collection)
    records = [r for r in every if split == "all" or r.split == split]
    if limit is not None:
        kept, seen = [], {}
        for r in records:
            seen[r.split] = seen.get(r.split, 0) + 1
            if seen[r.split] <= limit:
                kept.append(r)
        records = kept
    if not records:
        raise UsageError(f"no {bench.title} problems in split {split!r} of {path}")
    return every, records


def lean_statements(path: str | Path) -> tuple[dict[str, Any], list[str]]:
    """The Lean statements of IMO-ProofBench's ``lean_proof_bench.csv`` by problem id, comments
    removed (they quote the problem and its solution), and the ids that could not be read (a
    file with more than one theorem)."""
    from prover.core.records import FormalStatementRecord
    from prover.formal.leantext import strip_comments
    from prover.store.imports import read_records, split_lean_problem, text_value

    out: dict[str, Any] = {}
    skipped: list[str] = []
    for rec in read_records(Path(path), "csv"):
        pid = (text_value(rec, "Problem ID", required=True) or "").strip()
        text = text_value(rec, "Lean Statement")
        if not text:
            continue
        try:
            parts = split_lean_problem(strip_comments(text))
        except ValueError:
            skipped.append(pid)
            continue
        out[pid] = FormalStatementRecord(toolchain="unknown", preamble=parts.preamble.strip() + "\n",
                                         answer_slots=parts.answer_slots, statement=parts.statement,
                                         source=f"{path}:{rec.where}")
    return out, skipped


def benchmark_problems(store: ProofStore, bench: Benchmark, *, split: str = "all", data: str | Path | None = None,
                       limit: int | None = None, formal_data: str | Path | None = None) -> list[Any]:
    """Import the benchmark's problems (all of its file, so that another split later finds its
    problems stored; idempotent) and return the stored rows of ``split``, in file order. With
    ``formal_data`` (IMO-ProofBench's Lean statements), their statements are stored with them."""
    every, records = benchmark_records(bench, split=split, data=data, limit=limit)
    if formal_data is not None:
        statements, _ = lean_statements(formal_data)
        every = [r.model_copy(update={"formal_statements": [*r.formal_statements, statements[r.external_id]]})
                 if r.external_id in statements else r for r in every]
    store.add_problems(every)
    ids = store.problem_ids([r.key for r in records])
    return [store.get_problem(ids[r.key]) for r in records]


def plan_eval(benchmark: str, *, config: SearchConfig, model_config: ModelConfig, split: str = "all",
              data: str | Path | None = None, limit: int | None = None) -> BudgetEstimate:
    """``--dry-run``: the most calls and completion tokens an evaluation may use (the search's,
    plus one grading call per problem); reads the data, stores nothing, calls nothing."""
    from prover.informal.search import ProblemInfo
    from prover.pipeline.run import estimate_budget

    bench = get_benchmark(benchmark)
    if bench.kind != "graded":
        raise UsageError(f"{bench.title} is scored from stored formal attempts: nothing to plan")
    _, records = benchmark_records(bench, split=split, data=data, limit=limit)
    infos = [ProblemInfo(id=-1, label=f"{r.collection}/{r.external_id}", key="/".join(r.key),
                         statement=r.informal_statement, reference_answer=r.reference_answer) for r in records]
    est = estimate_budget(infos, config, model_config)
    n = len(records)
    by_role = dict(est.calls_by_role)
    by_role[GRADER_ROLE] = by_role.get(GRADER_ROLE, 0) + n
    limit_ = model_config.role(GRADER_ROLE).max_tokens
    tokens = None if est.completion_tokens is None or limit_ is None else est.completion_tokens + n * limit_
    return est.model_copy(update={"calls_by_role": by_role, "calls": est.calls + n,
                                  "calls_per_problem": est.calls_per_problem + 1, "completion_tokens": tokens})


def formal_eval(store: ProofStore, benchmark: str, *, split: str = "all", data: str | Path | None = None,
                limit: int | None = None, run: dict[str, Any] | None = None) -> EvalSummary:
    """A formal benchmark's pass@k and cost per solved problem, from the formal attempts stored
    for its problems; imports the problems. Without ``run``, every stored attempt counts (``prover
    run --formal`` makes them) and nothing is called. With ``run`` (the keyword arguments of
    :func:`prover.pipeline.run.run_informal`: ``config``, ``model_config``, ``formal``...), the
    informal search and the formal stage run on the problems first — the benchmark's statements
    trusted as given — and only that run's attempts count. The score is stored as an evaluation
    (``formal`` holds it)."""
    from prover.analysis.formal_eval import stored_formal_score

    bench = get_benchmark(benchmark)
    if bench.kind != "formal":
        raise UsageError(f"{bench.title} is graded, not formal")
    problems = benchmark_problems(store, bench, split=split, data=data, limit=limit)
    ids = [p.id for p in problems]
    run_id = models = seed = None
    if run is not None:
        from prover.pipeline.run import run_informal

        formal = run["formal"]
        trusted = tuple(dict.fromkeys([*formal.config.trusted_collections, bench.collection]))
        formal = dataclasses.replace(formal, config=formal.config.model_copy(update={"trusted_collections": trusted}))
        run_id = run_informal(store, [str(i) for i in ids], **{**run, "formal": formal}).run_id
        models = _models(run["model_config"], run.get("backends"), roles=(*SEARCH_ROLES, "formalizer", "prover"))
        seed = run["config"].seed
    score = stored_formal_score(store, bench.name, ids, split=split, run_id=run_id)
    return _store_formal(store, bench, split, problems, score, run_id=run_id, models=models, seed=seed)


def _store_formal(store: ProofStore, bench: Benchmark, split: str, problems, score: FormalBenchScore, *, run_id, models,
                  seed) -> EvalSummary:
    """A formal score as an evaluation row: keyed by the problems and the run (or none: every
    stored attempt), so that scoring again updates the same row."""
    from prover.core.eval_records import GroupScore

    attempts = store.formal_attempt_outcomes([p.id for p in problems])
    best = _best_formal_status([a for a in attempts if run_id is None or a["run_id"] == run_id])
    outcomes = [ProblemOutcome(problem_id=p.id, problem=f"{p.collection}/{p.external_id}", split=p.split,
                               search_status="-", passed=best.get(p.id) in _FORMAL_ORDER, formal_status=best.get(p.id))
                for p in problems]
    groups = [GroupScore(group=f"pass@{k}", problems=score.problems, graded=score.attempted, percent=v)
              for k, v in sorted(score.pass_at.items())]
    key = hash_json({"benchmark": bench.name, "split": split, "problems": [p.id for p in problems], "run": run_id,
                     "kind": "formal"})
    commit = git_commit()
    eval_id = store.open_evaluation(key, benchmark=bench.name, split=split, models=models or {}, budget=None,
                                    seed=seed or 0, commit=commit, config={"formal": True, "run": run_id})
    summary = EvalSummary(eval_id=eval_id, benchmark=bench.name, split=split, run_id=run_id, models=models or {},
                          seed=seed or 0, commit=commit, scripted=score.scripted, outcomes=outcomes, groups=groups,
                          calls=score.calls, formal=score)
    store.save_evaluation(eval_id, summary)
    return summary


def _models(model_config: ModelConfig, backends: Mapping[str, Any] | None,
            roles: Sequence[str] = SEARCH_ROLES) -> dict[str, str]:
    """Role → ``backend:model`` (the backend's name when no model is set)."""
    out = {}
    for role in roles:
        s = model_config.role(role)
        backend = backends[role].name if backends and role in backends else s.backend
        out[role] = f"{backend}:{s.model or backend}"
    return out


def run_eval(store: ProofStore, benchmark: str, *, config: SearchConfig, model_config: ModelConfig, split: str = "all",
             budget: str | None = None, data: str | Path | None = None, limit: int | None = None,
             templates_file: str | Path | None = None, backends: Mapping[str, Any] | None = None,
             progress: bool | None = None, command: Sequence[str] | None = None,
             commit_window_s: float | None = None, grader_agreement: bool = False,
             human_grade: str | None = None, formal: Any = None, formal_data: str | Path | None = None,
             lean: tuple[Any, Any] | None = None) -> EvalSummary:
    """Evaluate on a benchmark; returns the summary, also stored in ``evaluations``. ``backends``
    maps roles to ready backends (tests pass scripted ones). With ``grader_agreement``, the grader
    also grades every stored proof of these problems that carries a human grade, and the summary
    holds the cross-check of grader against human (``human_grade``: the grade name; default every
    human-marked grade). With ``formal`` (``FormalSettings``), the benchmark's Lean statements
    (``formal_data``, default its own file) are stored and the formal stage runs on the selected
    proofs, the statements trusted as given (``lean``: a ready (backend, pin), for tests)."""
    from prover.pipeline.run import run_informal

    bench = get_benchmark(benchmark)
    if bench.kind != "graded":
        raise UsageError(f"{bench.title}: only graded benchmarks run here")
    if formal is not None:
        if bench.formal_data is None:
            raise UsageError(f"{bench.title} has no Lean statements: --formal is not available")
        formal_data = formal_data or shared_dir() / "data" / bench.formal_data
        if not Path(formal_data).exists():
            raise NotFoundError(f"{bench.title} Lean statements not found at {formal_data}")
        trusted = tuple(dict.fromkeys([*formal.config.trusted_collections, bench.collection]))
        formal = dataclasses.replace(formal, config=formal.config.model_copy(update={"trusted_collections": trusted}))
    problems = benchmark_problems(store, bench, split=split, data=data, limit=limit,
                                  formal_data=formal_data if formal is not None else None)
    templates, grader = split_templates(templates_file)
    models = _models(model_config, backends)
    scripted = any(m.startswith("scripted:") for m in models.values())
    eval_config = {"search": config.model_dump(mode="json"), "templates": templates.fingerprint(),
                   "grader_template": grader.fingerprint(), "grader_role": GRADER_ROLE, "limit": limit,
                   "data": str(data) if data is not None else bench.data,
                   "reveal": "reference solution and grading guidelines shown to the grader only",
                   "formal": None if formal is None else [formal.config.model_dump(mode="json"), formal.sample]}
    # What changes the outcome: the sampling settings of each role, not its timeouts or limits.
    sampling = {r: [model_config.role(r).temperature, model_config.role(r).top_p, model_config.role(r).max_tokens]
                for r in SEARCH_ROLES}
    key = hash_json({"benchmark": bench.name, "split": split, "problems": [p.id for p in problems],
                     "config": eval_config, "models": models, "sampling": sampling})
    commit = git_commit()
    eval_id = store.open_evaluation(key, benchmark=bench.name, split=split, models=models, budget=budget,
                                    seed=config.seed, commit=commit, config=eval_config)
    extra = {"commit_window_s": commit_window_s} if commit_window_s is not None else {}
    command = list(command or sys.argv[1:])
    try:
        run = run_informal(store, [str(p.id) for p in problems], config=config, model_config=model_config,
                           templates=templates, backends=backends, progress=progress, command=command,
                           formal=formal, lean=lean, **extra)
        grade_run = store.start_run("eval-grade", command=command, seed=config.seed, run_key=key,
                                    reveals_reference=True,
                                    config={"evaluation": eval_id, "benchmark": bench.name,
                                            "grader": models[GRADER_ROLE], "template": grader.source,
                                            "reveal": eval_config["reveal"]})
        try:
            outcomes, status, graded, stats, agreement = _grade_run(
                store, problems, run, grader=grader, grader_name=_grade_name(models), model_config=model_config,
                backends=backends, grade_run=grade_run, eval_id=eval_id, seed=config.seed, extra=extra,
                grader_agreement=grader_agreement, human_grade=human_grade)
        except BaseException:
            store.finish_run(grade_run, status="failed")
            raise
        store.finish_run(grade_run, status=status, summary={"graded": len(graded), "sent": stats.sent,
                                                              "cached": stats.cached})
    except BaseException as exc:
        # Ctrl-C or an error that stops the evaluation: the row says so; the same command continues.
        interrupted = isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError))
        store.set_evaluation_status(eval_id, "interrupted" if interrupted else "failed")
        raise
    from prover.analysis.evaluation import group_scores

    summary = EvalSummary(eval_id=eval_id, benchmark=bench.name, split=split, run_id=run.run_id, status=status,
                          models=models, budget=budget, seed=config.seed, commit=commit, scripted=scripted,
                          outcomes=outcomes, groups=group_scores(outcomes, groups=bench.splits, seed=config.seed),
                          calls=run.calls + len(graded), sent=run.sent + stats.sent, agreement=agreement)
    store.save_evaluation(eval_id, summary)
    return summary


def _grade_name(models: Mapping[str, str]) -> str:
    """The grade name of the grader's points: ``grader/MODEL`` (`prover crosscheck` reads
    NAME:SUFFIX as verifier:MODEL, so no colon)."""
    return "grader/" + models[GRADER_ROLE].split(":", 1)[1].replace(":", "_")


def _grade_run(store: ProofStore, problems, run, *, grader, grader_name, model_config, backends, grade_run, eval_id,
               seed, extra, grader_agreement, human_grade):
    """Grade the selected proofs (and, for the agreement, the human-graded ones), store the
    grades; returns (outcomes, status, grades by proof, client stats, agreement)."""
    by_problem = {r.problem_id: r for r in run.results}
    formal_status = _best_formal_status(run.formal)
    jobs = [(p, by_problem[p.id].selected_proof_id) for p in problems
            if p.id in by_problem and by_problem[p.id].selected_proof_id is not None]
    agreement_proofs: list[tuple[Any, int]] = []
    if grader_agreement:
        agreement_proofs = _human_graded(store, problems, human_grade, skip={pid for _, pid in jobs})
    graded, stats = _grade(store, jobs + agreement_proofs, grader=grader, model_config=model_config,
                           backends=backends, run_id=grade_run, seed=seed, extra=extra)
    for proof_id, (verdict, _, _) in graded.items():
        if verdict.points is not None:
            store.set_grader_grade(proof_id, grader_name, verdict.points, run_id=grade_run,
                                   source=f"evaluation {eval_id}")
    status = "completed"
    outcomes = []
    for p in problems:
        r = by_problem.get(p.id)
        proof_id = r.selected_proof_id if r is not None else None
        verdict, call_key, tokens = graded.get(proof_id, (None, None, 0)) if proof_id is not None else (None, None, 0)
        if r is None or r.status == "incomplete" or (verdict is not None and verdict.status == "error"):
            status = "incomplete"
        outcomes.append(ProblemOutcome(
            problem_id=p.id, problem=f"{p.collection}/{p.external_id}", split=p.split,
            search_status=r.status if r is not None else "missing", passed=bool(r and r.passed), proof_id=proof_id,
            points=verdict.points if verdict is not None else None,
            grade_status=verdict.status if verdict is not None else "no-proof", grader_call=call_key,
            calls=(r.calls if r is not None else 0) + (1 if verdict is not None else 0),
            tokens=(r.tokens if r is not None else 0) + tokens, formal_status=formal_status.get(p.id)))
    agreement = None
    if grader_agreement:
        agreement = _agreement(store, grader_name, human_grade, [pid for _, pid in agreement_proofs])
    return outcomes, status, graded, stats, agreement


_FORMAL_ORDER = ("verified", "statement_proved")


def _best_formal_status(results: Sequence[dict]) -> dict[int, str]:
    """problem id → the best status of its formal attempts (``verified``, then
    ``statement_proved``, then the first other)."""
    out: dict[int, str] = {}
    for r in results:
        pid, status = r["problem_id"], r["status"]
        have = out.get(pid)
        rank = _FORMAL_ORDER.index(status) if status in _FORMAL_ORDER else len(_FORMAL_ORDER)
        if have is None or rank < (_FORMAL_ORDER.index(have) if have in _FORMAL_ORDER else len(_FORMAL_ORDER)):
            out[pid] = status
    return out


def _grade(store: ProofStore, jobs, *, grader, model_config, backends, run_id, seed, extra):
    """Grade each (problem, proof id) once: proof id → (verdict, call key, tokens)."""
    from prover.llm import ModelClient

    if not jobs:
        from prover.llm.client import ClientStats

        return {}, ClientStats()
    texts = {}
    for p, proof_id in jobs:
        if p.id not in texts:
            texts[p.id] = {pr.id: pr.text for pr in store.proofs_of(p.id)}
    requests, order = [], []
    for p, proof_id in dict(((pid, (p, pid)) for p, pid in jobs)).values():
        prompt = grader.render(statement=p.informal_statement or "", solution=p.reference_solution,
                               guidelines=p.grading_guidelines, proof=texts[p.id][proof_id])
        seed_ = derive_seed(seed, f"{p.collection}/{p.external_id}/{p.statement_hash}", "grade", proof_id)
        requests.append(ModelRequest(role=GRADER_ROLE, messages=(ChatMessage(role="user", content=prompt),),
                                     params=SamplingParams(seed=seed_)))
        order.append(proof_id)
    client = ModelClient(model_config, store=store, run_id=run_id, backends=backends, **extra)

    async def main():
        try:
            return await client.generate(requests)
        finally:
            await client.aclose()

    results = asyncio.run(main())
    out = {}
    for proof_id, [res] in zip(order, results):
        if res.status == "error":
            from prover.core.eval_records import GraderVerdict

            verdict = GraderVerdict(points=None, status="error" if res.transient else "failed")
        else:
            verdict = parse_grade(res.text if res.status == "ok" else None)
        out[proof_id] = (verdict, res.key, (res.prompt_tokens or 0) + (res.completion_tokens or 0))
    return out, client.stats


def _human_graded(store: ProofStore, problems, human_grade: str | None, *, skip: set[int]) -> list[tuple[Any, int]]:
    """(problem, proof id) of the stored proofs of these problems that carry a human grade."""
    values = store.grade_values(human_grade) if human_grade else store.human_grade_values()
    out = []
    for p in problems:
        for proof in store.proofs_of(p.id):
            if proof.id in values and proof.id not in skip:
                out.append((p, proof.id))
    return out


def _agreement(store: ProofStore, grader_name: str, human_grade: str | None, proof_ids: list[int]) -> dict:
    """The cross-check of grader against human grades on the proofs both graded (a proof passes
    at 6 of 7 points or more, on both sides)."""
    names = [human_grade] if human_grade else [n for n, human in store.grade_names().items() if human]
    if not names or not proof_ids:
        return {"note": "no human-graded proof of these problems is stored (import some with `prover grades import`)"}
    from prover.analysis.crosscheck import crosscheck

    report = crosscheck(store, names[0], grader_name, reference_threshold=6 / 7, candidate_threshold=6 / 7,
                        proof_ids=proof_ids, bootstrap=1000)
    return {"reference": names[0], "candidate": grader_name, "report": report.to_json_dict()}

"""``prover labels resample``: more verifier analyses for labelled proofs that have none whose
score agrees with the label, drawn one at a time until one agrees (at most ``max_new`` per
proof). For formal labels these are exactly the cases where the verifier is wrong and Lean is
right; the agreeing analysis becomes the proof's SFT target.

The new analyses are stored as verifications of a ``labels-resample`` run. Having been drawn
until one agreed, they are a biased sample: informal labels and verifier cross-checks leave
them out. Request seeds derive from (seed, problem, proof, draw), so the same command asks the
same requests again and the call cache answers them: a second run with the same ``--max``
sends nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from prover.core.errors import UsageError
from prover.core.label_records import ResampleSummary, label_score
from prover.store import RESAMPLE_RUN_KIND

if TYPE_CHECKING:
    from prover.store import ProofStore


async def _resample_one(client, store, ls, pid: int, label, templates, *, max_new: int, seed: int, run_id: int,
                        start_index: int, counts: Counter) -> bool:
    from prover.core.llm_records import ChatMessage, ModelRequest, SamplingParams
    from prover.informal.parsers import parse_verdict
    from prover.informal.seeds import derive_seed

    info = ls.infos[pid]
    prompt = templates.verification(info.statement or "", info.text)
    key = f"{info.collection}/{info.external_id}/{info.statement_hash}"
    want = label_score(label.value)
    for j in range(max_new):
        req = ModelRequest(role="verifier", messages=(ChatMessage(role="user", content=prompt),),
                           params=SamplingParams(seed=derive_seed(seed, key, "resample", pid, j)))
        [[res]] = await client.generate([req])
        counts["calls"] += 1
        if res.status == "error":
            continue
        parsed = parse_verdict(res.text, truncated=res.truncated)
        if parsed.score is None:
            counts["unparsed"] += 1
        row = {"proof_id": pid, "run_id": run_id, "verifier_model": res.model, "sample_index": start_index + j,
               "analysis": parsed.analysis, "score": parsed.score, "parse_status": parsed.status, "issues": [],
               "extra": {"resample": j, "label_source": label.source, "label": label.value}}
        await asyncio.to_thread(store.add_informal_verifications, [row], [res.key])
        if parsed.status == "ok" and parsed.score is not None and abs(parsed.score - want) < 1e-9:
            return True
    return False


def resample_labels(store: ProofStore, *, model_config, max_new: int, precedence: str | Sequence[str] | None = None,
                    drop_conflicts: bool = False, templates=None, seed: int = 0,
                    backends: Mapping[str, Any] | None = None, command: Sequence[str] | None = None) -> ResampleSummary:
    """Draw verifier analyses for every labelled proof without an agreeing one, until one
    agrees or ``max_new`` were drawn for it."""
    from prover.analysis.exports import agreeing_analysis, labelled_set
    from prover.informal.prompts import default_templates
    from prover.llm import ModelClient

    if max_new < 1:
        raise UsageError("--max must be at least 1")
    templates = templates or default_templates()
    ls = labelled_set(store, precedence=precedence, drop_conflicts=drop_conflicts)
    analyses = store.analyses_by_proof(list(ls.chosen), with_metas=False)
    todo = sorted(pid for pid, label in ls.chosen.items() if agreeing_analysis(analyses.get(pid, []), label) is None)
    run_id = store.start_run(RESAMPLE_RUN_KIND, command=list(command or []), seed=seed,
                             config={"max": max_new, "labels": ls.conflicts.resolution,
                                     "templates": templates.source, "proofs": todo})
    summary = ResampleSummary(run_id=run_id, proofs=len(todo))
    counts: Counter = Counter()
    client = ModelClient(model_config, store=store, run_id=run_id, backends=backends)

    async def main() -> list[bool]:
        try:
            return list(await asyncio.gather(*(
                _resample_one(client, store, ls, pid, ls.chosen[pid], templates, max_new=max_new, seed=seed,
                              run_id=run_id, counts=counts,
                              start_index=1 + max((a.sample_index for a in analyses.get(pid, [])), default=-1))
                for pid in todo)))
        finally:
            await client.aclose()

    try:
        done = asyncio.run(main()) if todo else []
    except BaseException as exc:
        store.abort_run(run_id, exc)
        raise
    by_source: Counter = Counter()
    for pid, ok in zip(todo, done):
        if ok:
            summary.resolved += 1
            by_source[ls.chosen[pid].source] += 1
        else:
            summary.unresolved.append(pid)
    summary.calls, summary.unparsed = counts["calls"], counts["unparsed"]
    summary.by_source = dict(sorted(by_source.items()))
    store.finish_run(run_id, summary=summary.model_dump())
    return summary

"""``prover labels build --top-up``: the verifications informal labels still need.

A search that verifies in waves (``--verification-wave``) stops verifying a proof once it cannot
pass, so the proof may hold fewer than the n parsed analyses the informal rule reads. The top-up
asks, for every analysed proof of a search, the verification samples its search's full schedule
would have asked next — the same requests (prompt, seed from (seed, problem, "verify", round,
slot, index)), so the call cache answers any asked before — until n are parsed or the search's
M + retries samples are spent, and meta-verifies each new issue-reporting analysis m times (again
the search's own requests). A label built afterwards is the one the full schedule would give.

The new rows belong to a ``labels-topup`` run. Unlike ``labels resample`` they are not drawn
until one agrees with anything, so they count for labels and cross-checks."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from prover.core.label_records import InformalPolicy, TopUpSummary
from prover.store import TOPUP_RUN_KIND

if TYPE_CHECKING:
    from prover.store import ProofStore


def _needs(store: ProofStore, policy: InformalPolicy) -> list[tuple[Any, dict[str, Any], int, int, list]]:
    """(proof info, search settings, n, m, its analyses) of analysed proofs from a search that
    have fewer than n parsed analyses."""
    from prover.analysis.labels import reread_lenient, resolve_informal_policy, search_of

    analyses = store.analyses_by_proof()
    if not analyses:
        return []
    reread_lenient(store, analyses)
    searches = store.search_settings_by_problem()
    infos = store.proof_infos(list(analyses))
    out = []
    for pid in sorted(analyses):
        info = infos.get(pid)
        _, settings = search_of(info, searches)
        if info is None or settings is None or "seed" not in settings:
            continue  # not from a search: no schedule to continue
        resolved = resolve_informal_policy(policy, settings)
        if resolved is None:
            continue
        n, m, _, _ = resolved
        own = [a for a in analyses[pid] if not a.resampled]
        if sum(1 for a in own if a.score is not None) < n:
            out.append((info, settings, n, m, own))
    return out


async def _top_up_one(client, store, info, settings: Mapping[str, Any], n: int, m: int, own: list, templates, *,
                      run_id: int, counts: Counter) -> bool:
    from prover.core.llm_records import ChatMessage, ModelRequest, SamplingParams
    from prover.informal.parsers import parse_meta, parse_verdict
    from prover.informal.seeds import derive_seed

    seed = int(settings.get("seed") or 0)
    key = f"{info.collection}/{info.external_id}/{info.statement_hash}"
    cap = int((settings.get("knobs") or {}).get("verifications") or n) + int(settings.get("max_verdict_retries") or 0)
    statement = info.statement or ""
    prompt = templates.verification(statement, info.text)

    def request(role: str, text: str, request_seed: int) -> ModelRequest:
        # The search's own request shape (prover.informal.search.ProblemSearch._request).
        return ModelRequest(role=role, messages=(ChatMessage(role="user", content=text),),  # type: ignore[arg-type]
                            params=SamplingParams(seed=request_seed))

    parsed = sum(1 for a in own if a.score is not None)
    index = 1 + max((a.sample_index for a in own), default=-1)
    while parsed < n and index < cap:
        # As many as still needed at once, like one wave of the search.
        wave = list(range(index, min(cap, index + n - parsed)))
        index = wave[-1] + 1
        reqs = [request("verifier", prompt, derive_seed(seed, key, "verify", info.round, info.sample_index, i))
                for i in wave]
        results = await client.generate(reqs)
        for i, [res] in zip(wave, results):
            counts["verifications"] += 1
            if res.status == "error":
                continue
            v = parse_verdict(res.text, truncated=res.truncated)
            if v.score is None:
                counts["unparsed"] += 1
            row = {"proof_id": info.proof_id, "run_id": run_id, "verifier_model": res.model, "sample_index": i,
                   "analysis": v.analysis, "score": v.score, "parse_status": v.status, "issues": [],
                   "extra": {"lenient_score": v.lenient_score} if v.lenient_score is not None else {}}
            [vid] = await asyncio.to_thread(store.add_informal_verifications, [row], [res.key])
            if v.score is None:
                continue
            parsed += 1
            if v.score < 1 and m > 0:
                meta_prompt = templates.meta_verification(statement, info.text, v.analysis)
                metas = await client.generate([request("meta_verifier", meta_prompt, derive_seed(
                    seed, key, "meta", info.round, info.sample_index, i, j)) for j in range(m)])
                rows, keys = [], []
                for j, [mres] in enumerate(metas):
                    counts["metas"] += 1
                    if mres.status == "error":
                        continue
                    pm = parse_meta(mres.text, truncated=mres.truncated)
                    rows.append({"verification_id": vid, "run_id": run_id, "meta_verifier_model": mres.model,
                                 "sample_index": j, "text": pm.text, "score": pm.score, "parse_status": pm.status,
                                 "extra": {"lenient_score": pm.lenient_score} if pm.lenient_score is not None else {}})
                    keys.append(mres.key)
                if rows:
                    await asyncio.to_thread(store.add_meta_verifications, rows, keys)
    return parsed >= n


def top_up_analyses(store: ProofStore, *, model_config, policy: InformalPolicy | None = None, templates=None,
                    backends: Mapping[str, Any] | None = None, command: Sequence[str] | None = None) -> TopUpSummary:
    """Ask the verifications (and meta-verifications) that informal labels still need, as the
    proofs' own searches would have asked them."""
    from prover.informal.prompts import default_templates
    from prover.llm import ModelClient

    policy = policy or InformalPolicy()
    templates = templates or default_templates()
    todo = _needs(store, policy)
    run_id = store.start_run(TOPUP_RUN_KIND, command=list(command or []),
                             config={"informal": policy.model_dump(), "templates": templates.source,
                                     "proofs": [t[0].proof_id for t in todo]})
    summary = TopUpSummary(run_id=run_id, proofs=len(todo))
    counts: Counter = Counter()
    client = ModelClient(model_config, store=store, run_id=run_id, backends=backends)

    async def main() -> list[bool]:
        try:
            return list(await asyncio.gather(*(
                _top_up_one(client, store, info, settings, n, m, own, templates, run_id=run_id, counts=counts)
                for info, settings, n, m, own in todo)))
        finally:
            await client.aclose()

    try:
        done = asyncio.run(main()) if todo else []
    except BaseException as exc:
        store.abort_run(run_id, exc)
        raise
    for (info, *_), ok in zip(todo, done):
        if ok:
            summary.completed += 1
        else:
            summary.short.append(info.proof_id)
    summary.verifications, summary.metas = counts["verifications"], counts["metas"]
    summary.unparsed = counts["unparsed"]
    store.finish_run(run_id, summary=summary.model_dump())
    return summary

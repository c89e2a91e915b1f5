"""``prover train evaluate``: a trained verifier grades held-out proofs, its verdicts are stored
as verifications, and the cross-check library compares its scores with the labels — ``lean``
(formal labels) first, then ``label`` (human, formal, informal by precedence; informal labels
left out, since they come from verifier analyses).

The verdicts are stored under a verifier name that carries a fingerprint of the weights
(``DIR@1a2b3c4d5e6f``), and the request seeds derive from that name: a model retrained into the
same folder is a new verifier, neither answered from the call cache of the old one nor mixed
with its verdicts in a cross-check. The same command on the same weights sends nothing new."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from prover.core.errors import BadDataError, NotFoundError, UsageError
from prover.core.train_records import EvalSummary

if TYPE_CHECKING:
    from prover.store import ProofStore


EVAL_RUN_KIND = "verifier-eval"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
_CONFIG_NAMES = ("config.json", "adapter_config.json", "generation_config.json")


def model_fingerprint(model: str) -> str | None:
    """sha256 over a local model folder's weight and config files (None: not a local folder)."""
    path = Path(model)
    if not path.is_dir():
        return None
    files = sorted(p for p in path.rglob("*") if p.is_file() and "checkpoints" not in p.relative_to(path).parts
                   and (p.suffix in _WEIGHT_SUFFIXES or p.name in _CONFIG_NAMES))
    if not files:
        return None
    h = hashlib.sha256()
    for p in files:
        h.update(str(p.relative_to(path)).encode() + b"\0")
        with open(p, "rb") as f:
            while chunk := f.read(1 << 24):
                h.update(chunk)
    return h.hexdigest()


def verifier_name(model: str) -> str:
    """The name a model's verdicts are stored under: the model, and a fingerprint of its
    weights when it is a local folder."""
    fp = model_fingerprint(model)
    return f"{model}@{fp[:12]}" if fp else model


def held_out_proofs(store: ProofStore, *, data: str | Path | None = None, split: str = "test",
                    splits: str | None = None, precedence: str | None = None) -> list[int]:
    """The labelled proofs of ``split``: from an export's ``pointwise`` dataset (else its ``sft``
    dataset) when ``data`` is given, else computed from the database as ``labels export`` splits
    it (``splits``, ``precedence``)."""
    if data is not None:
        from prover.train.data import DATA_SUFFIXES, read_records

        root = Path(data)
        if root.is_file():
            records = read_records(root)
            return sorted({int(r["proof_id"]) for r in records if "proof_id" in r and r.get("split", split) == split})
        if not root.is_dir():
            raise NotFoundError(f"no export at {root}")
        for dataset in ("pointwise", "sft"):
            for suffix in DATA_SUFFIXES:
                path = root / dataset / f"{split}{suffix}"
                if path.is_file():
                    return sorted({int(r["proof_id"]) for r in read_records(path)})
        raise NotFoundError(f"{root} has no {split!r} split in pointwise/ or sft/")
    from prover.analysis.exports import labelled_set

    ls = labelled_set(store, precedence=precedence, splits=splits, with_text=False)
    if split not in ls.splits:
        raise UsageError(f"--split {split!r} is not one of the splits {', '.join(ls.splits)}")
    return sorted(pid for pid in ls.chosen if ls.split(pid) == split)


async def _grade(client, store, infos, pid: int, *, templates, samples: int, seed: int, name: str,
                 run_id: int, split: str, counts: Counter) -> None:
    from prover.core.llm_records import ChatMessage, ModelRequest, SamplingParams
    from prover.informal.parsers import parse_verdict
    from prover.informal.seeds import derive_seed

    info = infos[pid]
    prompt = templates.verification(info.statement or "", info.text)
    req = ModelRequest(role="verifier", messages=(ChatMessage(role="user", content=prompt),),
                       params=SamplingParams(n=samples, seed=derive_seed(seed, name, EVAL_RUN_KIND, pid)))
    [results] = await client.generate([req])
    rows, keys = [], []
    for res in results:
        counts["calls"] += 1
        if res.status == "error":
            counts["errors"] += 1
            continue
        parsed = parse_verdict(res.text, truncated=res.truncated)
        counts["parsed" if parsed.score is not None else f"unparsed:{parsed.status}"] += 1
        rows.append({"proof_id": pid, "run_id": run_id, "verifier_model": name, "sample_index": res.sample_index,
                     "analysis": parsed.analysis, "score": parsed.score, "parse_status": parsed.status,
                     "issues": [], "extra": {EVAL_RUN_KIND: split}})
        keys.append(res.key)
    if rows:
        await asyncio.to_thread(store.add_informal_verifications, rows, keys)


def evaluate_verifier(store: ProofStore, model_config, *, data: str | Path | None = None, split: str = "test",
                      splits: str | None = None, proof_ids: Sequence[int] | None = None, templates=None,
                      samples: int = 1, seed: int = 0, name: str | None = None, bootstrap: int = 1000,
                      backends: Mapping[str, Any] | None = None,
                      command: Sequence[str] | None = None) -> EvalSummary:
    """Grade the held-out proofs (``proof_ids``, else :func:`held_out_proofs` of ``data`` /
    ``splits``) with the verifier role of ``model_config``, ``samples`` verdicts each; store the
    verdicts and cross-check them against ``lean`` and ``label`` over those proofs.

    The prompts are ``templates``' verification prompt: pass the templates the export used."""
    from prover.analysis.crosscheck import crosscheck
    from prover.informal.prompts import default_templates
    from prover.llm import ModelClient

    if samples < 1:
        raise UsageError("--samples must be at least 1")
    model = model_config.role("verifier").model
    if not model:
        raise UsageError("name the verifier to evaluate: --model DIR")
    if proof_ids is None:
        proof_ids = held_out_proofs(store, data=data, split=split, splits=splits)
    if not proof_ids:
        raise UsageError(f"no labelled proof in split {split!r} to evaluate on")
    templates = templates or default_templates()
    name = name or verifier_name(model)
    infos = store.proof_infos(list(proof_ids), with_text=True)
    missing = sorted(set(proof_ids) - set(infos))
    if missing:
        raise BadDataError(f"{len(missing)} held-out proof(s) are not in this database (e.g. proof {missing[0]}): "
                           "evaluate against the database the export was written from")
    run_id = store.start_run(EVAL_RUN_KIND, command=list(command or []), seed=seed,
                             config={"verifier": name, "model": model, "split": split, "samples": samples,
                                     "templates": templates.source, "proofs": len(proof_ids)})
    counts: Counter = Counter()
    client = ModelClient(model_config, store=store, run_id=run_id, backends=backends)

    async def main() -> None:
        try:
            await asyncio.gather(*(_grade(client, store, infos, pid, templates=templates, samples=samples, seed=seed,
                                          name=name, run_id=run_id, split=split, counts=counts)
                                   for pid in proof_ids))
        finally:
            await client.aclose()

    try:
        asyncio.run(main())
    except BaseException as exc:
        store.abort_run(run_id, exc)
        raise
    summary = EvalSummary(run_id=run_id, verifier=name, split=split, proofs=len(proof_ids), calls=counts["calls"],
                          parsed=counts["parsed"], errors=counts["errors"],
                          unparsed={k.split(":", 1)[1]: v for k, v in sorted(counts.items())
                                    if k.startswith("unparsed:")})
    if counts["calls"] == counts["errors"]:
        summary.notes.append("every verifier call failed: nothing to cross-check")
    else:
        for reference in ("lean", "label"):
            summary.reports.append(crosscheck(store, reference, f"verifier:{name}", proof_ids=proof_ids,
                                              bootstrap=bootstrap, seed=seed))
    store.finish_run(run_id, summary=summary.model_dump(mode="json", exclude={"reports"}))
    return summary

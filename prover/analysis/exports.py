"""Training exports of the labeled proof database (``prover labels export``).

Four datasets, each a folder of one file per split plus a dataset card whose YAML header names
the splits, so that ``datasets.load_dataset(FOLDER)`` loads it:

* ``sft`` — chat records for verifier fine-tuning: the verification prompt (the informal
  engine's own template) and, as the assistant turn, a stored analysis whose score agrees with
  the proof's label. Labelled proofs without such an analysis are reported (``prover labels
  resample`` draws more analyses for them).
* ``pointwise`` — (problem, proof, label, source, evidence, weight) per labelled proof, and
  ``labels``: every source's label of the proof (JSON text), so that a reader may apply its own
  precedence (``prover train verifier --method grpo``: formal, human, informal).
* ``pairs`` — preference pairs of two labelled proofs of one problem, the better one chosen.
* ``meta`` — meta-verification records for ``prover train meta-verifier``: (problem, proof,
  analysis, meta-score) per parsed analysis of a labelled proof. The meta-score is 0 when the
  proof's label is formal or human and the analysis' score disagrees with it (an analysis that
  contradicts the ground truth cannot be faithful); otherwise the mean of the analysis' parsed
  meta-verification scores (``meta_source`` says which); an analysis with neither is left out.

One label per proof: by ``precedence`` (default human, formal, informal) or, with
``drop_conflicts``, proofs whose sources disagree are left out; either way conflicts are
reported. Splits: a problem's split is ``hash(problem key) mod 100`` against the split
percentages, where the key is the problem's statement after a loose normalisation — so a split
never changes as the database grows, and the same statement in two collections lands in one
split."""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from prover.core.errors import UsageError
from prover.core.hashing import sha256_text
from prover.core.label_records import (DEFAULT_PRECEDENCE, ConflictReport, ExportSummary, LabelRecord, label_score,
                                       parse_precedence)
from prover.store import AnalysisRow, ProofInfo

if TYPE_CHECKING:
    from prover.store import ProofStore


EXPORT_FORMATS = ("jsonl", "parquet")
DATASETS = ("sft", "pointwise", "pairs", "meta")
TRUSTED_SOURCES = ("formal", "human")
"""Label sources that are ground truth for the meta dataset (informal labels come from the very
analyses and meta-verifications being rated)."""
DEFAULT_SPLITS: dict[str, int] = {"train": 90, "validation": 5, "test": 5}
DEFAULT_MAX_PAIRS = 32
_SPLIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

# -- splits ------------------------------------------------------------------------------------

def parse_splits(text: str | None) -> dict[str, int]:
    """``train=90,validation=5,test=5`` → split name → percent (they must add up to 100)."""
    if text is None or not text.strip():
        return dict(DEFAULT_SPLITS)
    out: dict[str, int] = {}
    for part in text.split(","):
        name, eq, pct = part.partition("=")
        name = name.strip()
        if not eq or not _SPLIT_NAME.match(name):
            raise UsageError(f"--splits: expected NAME=PERCENT, got {part.strip()!r}")
        try:
            value = int(pct)
        except ValueError:
            raise UsageError(f"--splits: {name} needs a whole percent, got {pct.strip()!r}") from None
        if value < 0 or name in out:
            raise UsageError(f"--splits: {name} is negative or named twice")
        out[name] = value
    if sum(out.values()) != 100:
        raise UsageError(f"--splits must add up to 100, got {sum(out.values())}")
    return out


_LOOSE_DROP = re.compile(r"\s+|\$|\\[()\[\]]|\\left|\\right|\\,|\\;|\\!|\\ ")


def split_key(statement: str | None, statement_hash: str) -> str:
    """What decides a problem's split: its informal statement after a loose normalisation
    (NFKC, case folded, whitespace, ``$`` and spacing/size commands dropped, no final full stop),
    so that near-duplicates across collections share it; the statement hash for a problem with
    only a formal statement."""
    if not statement or not statement.strip():
        return "hash:" + statement_hash
    text = unicodedata.normalize("NFKC", statement).casefold()
    text = _LOOSE_DROP.sub("", text).rstrip(".")
    return "text:" + text


def split_bucket(key: str) -> int:
    """``hash(key) mod 100``."""
    return int(sha256_text(key)[:16], 16) % 100


def split_of(key: str, splits: dict[str, int]) -> str:
    """The split of a bucket: splits take consecutive ranges of [0, 100) in the order given."""
    bucket, edge = split_bucket(key), 0
    for name, pct in splits.items():
        edge += pct
        if bucket < edge:
            return name
    return list(splits)[-1]


# -- records -----------------------------------------------------------------------------------

def _schemas():
    import pyarrow as pa

    ident = [("problem_key", pa.string()), ("collection", pa.string()), ("external_id", pa.string())]
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return {
        "sft": pa.schema([("messages", pa.list_(message)), *ident, ("proof_id", pa.int64()),
                          ("verification_id", pa.int64()), ("verifier_model", pa.string()), ("label", pa.float64()),
                          ("score", pa.float64()), ("source", pa.string()), ("split", pa.string())]),
        "pointwise": pa.schema([*ident, ("problem", pa.string()), ("proof_id", pa.int64()), ("proof", pa.string()),
                                ("label", pa.float64()), ("score", pa.float64()), ("source", pa.string()),
                                ("policy_version", pa.string()), ("evidence", pa.string()),
                                ("weight", pa.float64()), ("conflict", pa.bool_()), ("labels", pa.string()),
                                ("split", pa.string())]),
        "pairs": pa.schema([*ident, ("prompt", pa.string()), ("chosen", pa.string()), ("rejected", pa.string()),
                            ("chosen_proof_id", pa.int64()), ("rejected_proof_id", pa.int64()),
                            ("chosen_label", pa.float64()), ("rejected_label", pa.float64()),
                            ("chosen_source", pa.string()), ("rejected_source", pa.string()),
                            ("margin", pa.float64()), ("split", pa.string())]),
        "meta": pa.schema([*ident, ("problem", pa.string()), ("proof_id", pa.int64()), ("proof", pa.string()),
                           ("verification_id", pa.int64()), ("verifier_model", pa.string()), ("analysis", pa.string()),
                           ("analysis_score", pa.float64()), ("meta_score", pa.float64()),
                           ("meta_source", pa.string()), ("meta_samples", pa.int64()), ("proof_label", pa.float64()),
                           ("label_source", pa.string()), ("split", pa.string())]),
    }


def agreeing_analysis(analyses: Sequence[AnalysisRow], label: LabelRecord) -> AnalysisRow | None:
    """The first cleanly parsed analysis whose score is the label's (on the 0 / 0.5 / 1 scale)."""
    want = label_score(label.value)
    for a in analyses:
        if a.parse_status == "ok" and a.score is not None and abs(a.score - want) < 1e-9:
            return a
    return None


def meta_target(analysis: AnalysisRow, label: LabelRecord) -> tuple[float, str, int] | None:
    """(meta-score, its source, meta-verifications averaged) of a parsed analysis of a labelled
    proof, or None: see the ``meta`` dataset above."""
    if analysis.parse_status != "ok" or analysis.score is None:
        return None
    if label.source in TRUSTED_SOURCES and abs(analysis.score - label_score(label.value)) > 1e-9:
        return 0.0, label.source, 0
    scores = [s for _, s in analysis.metas if s is not None]
    if not scores:
        return None
    return sum(scores) / len(scores), "meta-verifier", len(scores)


@dataclass
class LabelledSet:
    """The labels an export uses, one per proof, and what it needs to know about those proofs."""

    chosen: dict[int, LabelRecord]
    conflicts: ConflictReport
    infos: dict[int, ProofInfo]
    splits: dict[str, int]
    precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
    by_source: dict[int, dict[str, float]] = field(default_factory=dict)
    """Proof id → every exported source's label value (the chosen one among them)."""

    def problem_key(self, pid: int) -> str:
        info = self.infos[pid]
        return f"{info.collection}/{info.external_id}"

    def split(self, pid: int) -> str:
        info = self.infos[pid]
        return split_of(split_key(info.statement, info.statement_hash), self.splits)


def labelled_set(store: ProofStore, *, precedence: str | Sequence[str] | None = None, drop_conflicts: bool = False,
                 splits: str | dict[str, int] | None = None, with_text: bool = True) -> LabelledSet:
    """One label per proof (conflicts resolved and reported), with the proofs' problems."""
    from prover.analysis.labels import current_labels, resolve_conflicts

    order = parse_precedence(precedence) if precedence is None or isinstance(precedence, str) \
        else parse_precedence(",".join(precedence))
    split_map = splits if isinstance(splits, dict) else parse_splits(splits)
    current = current_labels(store.labels())
    chosen, conflicts = resolve_conflicts(current, order, drop_conflicts=drop_conflicts)
    infos = store.proof_infos(list(chosen), with_text=with_text)
    by_source = {pid: {src: current[pid][src].value for src in order if src in current[pid]} for pid in chosen}
    return LabelledSet(chosen=chosen, conflicts=conflicts, infos=infos, splits=split_map, precedence=order,
                       by_source=by_source)


def _ident(ls: LabelledSet, pid: int) -> dict[str, Any]:
    info = ls.infos[pid]
    return {"problem_key": ls.problem_key(pid), "collection": info.collection, "external_id": info.external_id}


def build_records(store: ProofStore, ls: LabelledSet, *, templates=None, max_pairs_per_problem: int = DEFAULT_MAX_PAIRS
                  ) -> tuple[dict[str, list[dict[str, Any]]], list[int]]:
    """The datasets' records (each with its ``split``), and the labelled proofs that have no
    agreeing analysis."""
    from prover.informal.prompts import default_templates

    templates = templates or default_templates()
    analyses = store.analyses_by_proof(list(ls.chosen), with_metas=True)
    targets = {pid: agreeing_analysis(analyses.get(pid, []), label) for pid, label in ls.chosen.items()}
    rated = {pid: [(a, m) for a in analyses.get(pid, []) if (m := meta_target(a, label)) is not None]
             for pid, label in ls.chosen.items()}
    # Only the exported analyses' texts are read: all of them would not fit in memory on a large database.
    texts = store.analysis_texts([a.id for a in targets.values() if a is not None]
                                 + [a.id for found in rated.values() for a, _ in found])
    conflicted = set(ls.conflicts.proof_ids)
    per_problem: dict[str, list[int]] = defaultdict(list)
    for pid in ls.chosen:
        per_problem[ls.problem_key(pid)].append(pid)
    sft, pointwise, pairs, meta, missing = [], [], [], [], []
    for pid, label in ls.chosen.items():
        info, split = ls.infos[pid], ls.split(pid)
        statement = info.statement or ""
        score = label_score(label.value)
        pointwise.append({**_ident(ls, pid), "problem": statement, "proof_id": pid, "proof": info.text,
                          "label": label.value, "score": score, "source": label.source,
                          "policy_version": label.policy_version,
                          "evidence": json.dumps(label.evidence, sort_keys=True, ensure_ascii=False, default=str),
                          # Each problem weighs the same, however many of its proofs are labelled.
                          "weight": 1.0 / len(per_problem[ls.problem_key(pid)]),
                          "conflict": pid in conflicted,
                          "labels": json.dumps(ls.by_source.get(pid, {label.source: label.value}), sort_keys=True),
                          "split": split})
        for a, (value, source, samples) in rated[pid]:
            meta.append({**_ident(ls, pid), "problem": statement, "proof_id": pid, "proof": info.text,
                         "verification_id": a.id, "verifier_model": a.verifier_model, "analysis": texts[a.id],
                         "analysis_score": a.score, "meta_score": value, "meta_source": source,
                         "meta_samples": samples, "proof_label": label.value, "label_source": label.source,
                         "split": split})
        target = targets[pid]
        if target is None:
            missing.append(pid)
            continue
        prompt = templates.verification(statement, info.text)
        sft.append({"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": texts[target.id]}],
                    **_ident(ls, pid), "proof_id": pid, "verification_id": target.id,
                    "verifier_model": target.verifier_model, "label": label.value, "score": score,
                    "source": label.source, "split": split})
    for key, pids in sorted(per_problem.items()):
        ordered = sorted(pids)
        candidates = [(a, b) for a in ordered for b in ordered
                      if ls.chosen[a].value - ls.chosen[b].value > 1e-9]
        if len(candidates) > max_pairs_per_problem:
            random.Random(sha256_text("pairs:" + key)).shuffle(candidates)
            candidates = sorted(candidates[:max_pairs_per_problem])
        for a, b in candidates:
            info = ls.infos[a]
            la, lb = ls.chosen[a], ls.chosen[b]
            pairs.append({**_ident(ls, a), "prompt": templates.generation(info.statement or ""),
                          "chosen": info.text, "rejected": ls.infos[b].text, "chosen_proof_id": a,
                          "rejected_proof_id": b, "chosen_label": la.value, "rejected_label": lb.value,
                          "chosen_source": la.source, "rejected_source": lb.source,
                          "margin": la.value - lb.value, "split": ls.split(a)})
    return {"sft": sft, "pointwise": pointwise, "pairs": pairs, "meta": meta}, sorted(missing)


# -- writing -----------------------------------------------------------------------------------

# ``description`` carries a digest of the data files: datasets keys the cache of a folder whose card
# has YAML configs on those configs alone (split names and relative paths; not the files' contents,
# mtimes or folder), so without it a later export, here or in another folder of the same name,
# would load the first export's cached rows and columns.
_CARD = """---
configs:
- config_name: default
  description: prover labels export of data sha256 {digest}
  data_files:
{files}
---

# prover {name} export

Written by `prover labels export` from a prover proof database ({count} records).
{what}
Splits are `hash(problem key) mod 100` over {splits}; the key is the problem statement after a
loose normalisation, so splits are stable as the database grows and near-duplicate problems
share one. Label precedence: {precedence}.
"""

_WHAT = {
    "sft": "Chat records: the verification prompt, then a stored verifier analysis whose score agrees with the label.",
    "pointwise": "One record per labelled proof: problem, proof, label, its source and evidence (JSON text), and a "
                 "weight (1 / labelled proofs of the problem).",
    "pairs": "Preference pairs of two labelled proofs of the same problem; `chosen` has the higher label.",
    "meta": "Meta-verification records: problem, proof, a stored analysis and its meta-score (0 when a formal or "
            "human label contradicts the analysis' score, else the mean of its meta-verifications' scores; "
            "`meta_source` says which).",
}


def _check_replaceable(folder: Path) -> None:
    """A dataset folder is replaced as a whole: only a new or empty one, or an earlier export
    (its dataset card says so), may be."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise UsageError(f"{folder} is a file; --out must name a folder for the datasets")
    if not any(folder.iterdir()):
        return
    card = folder / "README.md"
    if not (card.is_file() and "Written by `prover labels export`" in card.read_text(encoding="utf-8", errors="replace")):
        raise UsageError(f"{folder} exists and is not an earlier prover export (no dataset card): name a new "
                         "or empty --out folder")


def _data_digest(folder: Path, names: Sequence[str]) -> str:
    """sha256 over the named files of ``folder``, each name then its bytes."""
    h = hashlib.sha256()
    for name in names:
        h.update(name.encode("utf-8") + b"\0")
        with open(folder / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _write_dataset(out: Path, name: str, fmt: str, records: list[dict[str, Any]], splits: dict[str, int],
                   precedence: Sequence[str]) -> dict[str, int]:
    import pyarrow as pa

    schema = _schemas()[name]
    by_split: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_split[rec["split"]].append(rec)
    final = out / name
    _check_replaceable(final)
    tmp = out / f".{name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    counts: dict[str, int] = {}
    files = []
    for split in splits:
        rows = by_split.get(split, [])
        counts[split] = len(rows)
        if not rows:
            continue  # an empty file is not a loadable split
        path = tmp / f"{split}.{fmt}"
        if fmt == "jsonl":
            with open(path, "w", encoding="utf-8") as f:
                for rec in rows:
                    f.write(json.dumps({k: rec[k] for k in schema.names}, ensure_ascii=False) + "\n")
        else:
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist([{k: rec[k] for k in schema.names} for rec in rows], schema=schema), path)
        files.append(f"  - split: {split}\n    path: {split}.{fmt}")
    if files:
        (tmp / "README.md").write_text(_CARD.format(
            digest=_data_digest(tmp, [f"{split}.{fmt}" for split in splits if counts[split]]),
            files="\n".join(files), name=name, count=len(records), what=_WHAT[name],
            splits=", ".join(f"{k} {v}%" for k, v in splits.items()), precedence=", ".join(precedence)),
            encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return counts


def export_labels(store: ProofStore, out: str | Path, *, fmt: str = "jsonl",
                  precedence: str | Sequence[str] | None = None, drop_conflicts: bool = False,
                  splits: str | dict[str, int] | None = None, templates=None,
                  max_pairs_per_problem: int = DEFAULT_MAX_PAIRS) -> ExportSummary:
    """Write the ``sft``, ``pointwise``, ``pairs`` and ``meta`` datasets under ``out`` (each
    replaced as a whole) and ``summary.json``; returns the summary."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    if max_pairs_per_problem < 0:
        raise UsageError("--max-pairs-per-problem must be >= 0")
    out = Path(out)
    for name in DATASETS:
        _check_replaceable(out / name)
    ls = labelled_set(store, precedence=precedence, drop_conflicts=drop_conflicts, splits=splits)
    records, missing = build_records(store, ls, templates=templates, max_pairs_per_problem=max_pairs_per_problem)
    out.mkdir(parents=True, exist_ok=True)
    files = {name: _write_dataset(out, name, fmt, records[name], ls.splits, ls.precedence) for name in DATASETS}
    by_source: dict[str, int] = defaultdict(int)
    for label in ls.chosen.values():
        by_source[label.source] += 1
    problems_by_split: dict[str, set[str]] = defaultdict(set)
    for pid in ls.chosen:
        problems_by_split[ls.split(pid)].add(ls.problem_key(pid))
    summary = ExportSummary(out=str(out), format=fmt, precedence=list(ls.precedence), splits=ls.splits,
                            labelled_proofs=len(ls.chosen), by_source=dict(sorted(by_source.items())),
                            conflicts=ls.conflicts, files=files, without_agreeing_analysis=missing,
                            problems_by_split={k: len(problems_by_split.get(k, ())) for k in ls.splits})
    (out / "summary.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary

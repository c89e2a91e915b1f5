"""Graded-proof import: proofs that come with external grades (human or automatic), from JSON,
JSONL or CSV, with the same readers, ``--field`` mapping and atomicity as problem import.

Every file is parsed completely before anything is written, and everything is stored in one
transaction; a malformed record raises ``BadDataError`` naming the file, line and field."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from prover.core.errors import BadDataError, UsageError
from prover.core.grade_records import GradeImportSummary, GradeSpec, check_grade_name
from prover.core.records import ProblemRecord
from prover.store.grades import GradedProofItem
from prover.store.imports import (MISSING, SourceRecord, detect_format, drop_path, get_path, parse_field_specs,
                                  read_records, text_value)

if TYPE_CHECKING:
    from prover.store.store import ProofStore


#: ``--field`` NAMEs of ``prover grades import``.
GRADE_FIELD_NAMES = {
    "id": "external id of the problem (required)",
    "proof": "the proof text (required)",
    "statement": "informal statement (needed for problems not stored yet; checked against stored ones)",
    "collection": "collection (default: the file's stem or --collection)",
    "answer": "reference answer of a new problem (never reaches a prompt)",
    "solution": "reference solution of a new problem (never reaches a prompt)",
    "guidelines": "grading guidelines of a new problem (never reaches a prompt)",
    "split": "data split of a new problem",
}
GRADE_FORMATS = ("json", "jsonl", "csv")


def parse_grade_specs(grades: Iterable[str], human: Iterable[str] = ()) -> list[GradeSpec]:
    """``--grade NAME=PATH[:MAX]`` and ``--human NAME`` options into GradeSpecs."""
    human = set(human)
    specs = [GradeSpec.parse(g, human_names=human) for g in grades]
    if not specs:
        raise UsageError("give at least one --grade NAME=PATH[:MAX]")
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"--grade names must be distinct; repeated: {', '.join(dupes)}")
    for name in human:
        check_grade_name(name)
        if name not in names:
            raise UsageError(f"--human {name}: no --grade has that name (grades: {', '.join(names)})")
    return specs


def _grade_value(rec: SourceRecord, spec: GradeSpec) -> tuple[float, float] | None:
    """(raw, value in [0, 1]) of one grade of a record, or None when it has no value."""
    raw = get_path(rec.data, spec.path)
    if raw is MISSING or raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise rec.error(f"grade {spec.name}: expected a number, got {type(raw).__name__}", field=spec.path)
    try:
        number = float(raw)
    except ValueError:
        raise rec.error(f"grade {spec.name}: expected a number, got {raw!r}", field=spec.path) from None
    top = spec.max if spec.max is not None else 1.0
    if not math.isfinite(number) or not 0.0 <= number <= top:
        scale = f"[0, {top:g}]" + ("" if spec.max is not None else " (no :MAX given, so grades must be in [0, 1])")
        raise rec.error(f"grade {spec.name} = {raw!r} is outside {scale}", field=spec.path)
    return number, number / top


def parse_graded_file(path: str | Path, *, fields: dict[str, str], specs: list[GradeSpec],
                      collection: str | None = None, fmt: str | None = None) -> list[GradedProofItem]:
    """Every graded proof of one file, fully parsed; raises BadDataError at the first bad record."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    fmt = detect_format(path, fmt)
    if fmt not in GRADE_FORMATS:
        raise UsageError(f"{path}: graded proofs are read from {', '.join(GRADE_FORMATS)} files, not {fmt}")
    default_collection = collection or path.stem
    mapped_paths = list(fields.values()) + [s.path for s in specs]
    items = []
    for rec in read_records(path, fmt):
        where = f"{rec.path}:{rec.line}" if rec.line is not None else f"{rec.path} ({rec.where})"
        coll = text_value(rec, fields["collection"], required=True) if "collection" in fields else default_collection
        external_id = text_value(rec, fields["id"], required=True)
        proof_text = text_value(rec, fields["proof"], required=True)
        grades = {}
        for spec in specs:
            value = _grade_value(rec, spec)
            if value is not None:
                grades[spec.name] = value
        problem = None
        if "statement" in fields:
            opt = {name: text_value(rec, fields[name], none_strings=True)
                   for name in ("answer", "solution", "guidelines") if name in fields}
            problem = ProblemRecord(
                collection=coll, external_id=external_id,
                informal_statement=text_value(rec, fields["statement"], required=True),
                reference_answer=opt.get("answer"), reference_solution=opt.get("solution"),
                grading_guidelines=opt.get("guidelines"),
                split=text_value(rec, fields["split"]) if "split" in fields else None,
                source=where)
        metadata: dict[str, Any] = copy.deepcopy(rec.data)
        for mapped in mapped_paths:
            drop_path(metadata, mapped)
        items.append(GradedProofItem(where=where, problem=problem, collection=coll, external_id=external_id,
                                     proof_text=proof_text, grades=grades, metadata=_prune(metadata)))
    if not items:
        raise BadDataError("no records", source=str(path))
    return items


def _prune(value: Any) -> Any:
    """Drop the empty objects that removing mapped fields leaves behind (``model_prediction: {}``)."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v != {}}
    return value


def import_graded_proofs(store: ProofStore, paths: Iterable[str | Path], *, fields: Iterable[str],
                         grades: Iterable[str], human: Iterable[str] = (), collection: str | None = None,
                         fmt: str | None = None, on_mismatch: str = "error", command: list[str] | None = None
                         ) -> GradeImportSummary:
    """Parse every file, then store all proofs and grades in one transaction.

    ``fields`` are ``NAME=PATH`` (``id`` and ``proof`` required), ``grades`` are
    ``NAME=PATH[:MAX]``, ``human`` names the grades that people gave."""
    field_map = parse_field_specs(fields, GRADE_FIELD_NAMES)
    for required in ("id", "proof"):
        if required not in field_map:
            raise UsageError(f"--field {required}=PATH is required")
    specs = parse_grade_specs(grades, human)
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("no input files")
    items: list[GradedProofItem] = []
    for path in paths:
        items.extend(parse_graded_file(path, fields=field_map, specs=specs, collection=collection, fmt=fmt))
    return store.add_graded_proofs(items, specs=specs, on_mismatch=on_mismatch,
                                   files=[str(p) for p in paths], command=command)

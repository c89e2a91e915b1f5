"""Problem import: JSON arrays, JSONL, CSV and `.lean` problem files into `problems` and
`formal_statements`.

Known layouts are recognised by their fields (DeepSeek-Prover JSONL, the PutnamBench and miniF2F
joined JSONL, DeepSeekMath-V2 inputs, and records whose fields already carry the canonical names of
``FIELD_NAMES``); other layouts are mapped with ``--field NAME=PATH``. Every
file is parsed completely before anything is written, and the whole import is one transaction:
malformed input raises ``BadDataError`` naming the file, line and field, and writes no row.

The readers and field paths here are reused by other importers (graded proofs)."""

from __future__ import annotations

import csv
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from prover.core.errors import BadDataError, UsageError
from prover.core.records import FormalStatementRecord, ImportSummary, ProblemRecord

if TYPE_CHECKING:
    from prover.store.store import ProofStore


FORMATS = ("json", "jsonl", "csv", "lean")
SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv", ".lean")
"""Suffixes of the files problems are imported from (`.ndjson` reads as JSONL)."""
MISSING = object()

# NAME -> what it fills; listed in `prover problems import --help`.
FIELD_NAMES = {
    "id": "external id of the problem (required)",
    "statement": "informal statement",
    "answer": "reference answer (never reaches a prompt)",
    "solution": "reference solution (never reaches a prompt)",
    "guidelines": "grading guidelines (never reaches a prompt)",
    "split": "data split, e.g. test / valid",
    "tags": "list of tags (or a comma-separated string)",
    "formal_statement": "Lean statement (from the keyword to `:=`...)",
    "header": "Lean preamble for formal_statement (imports, opens, defs)",
    "lean_file": "a whole Lean problem file (split into preamble, answer slots and theorem)",
    "toolchain": "source Lean toolchain of the formal statement",
    "collection": "collection (default: the benchmark's name for known sources, else the file's stem)",
}

V4_9 = "leanprover/lean4:v4.9.0"
_NONE_STRINGS = {"null", "None."}


# -- reading records ------------------------------------------------------------------------

@dataclass(frozen=True)
class SourceRecord:
    """One record of an input file and where it is: ``source`` is ``file:line`` (JSONL/CSV)
    or ``file:record N`` (JSON arrays)."""

    path: Path
    where: str
    line: int | None
    data: dict[str, Any]

    def error(self, message: str, field: str | None = None) -> BadDataError:
        return BadDataError(message, source=f"{self.path}", line=self.line if self.line is not None else None,
                            field=field) if self.line is not None else BadDataError(
            message, source=f"{self.path} ({self.where})", field=field)


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    if path.is_dir() or suffix == "lean":
        return "lean"
    if suffix in ("json", "jsonl", "csv"):
        return suffix
    if suffix == "ndjson":
        return "jsonl"
    raise UsageError(f"{path}: cannot tell the format from the suffix; pass --format ({', '.join(FORMATS)})")


def read_records(path: Path, fmt: str) -> Iterator[SourceRecord]:
    """The records of a JSON array, JSONL or CSV file, each with its location."""
    try:
        # utf-8-sig: spreadsheet programs start their CSV (and some tools their JSON) with a BOM,
        # which would otherwise become part of the first column's name.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadDataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=str(path)) from exc
    except OSError as exc:
        raise BadDataError(f"cannot read: {exc.strerror}", source=str(path)) from exc
    if fmt == "jsonl":
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadDataError(f"invalid JSON ({exc.msg} at column {exc.colno})", source=str(path),
                                   line=lineno) from exc
            if not isinstance(data, dict):
                raise BadDataError(f"expected a JSON object, got {type(data).__name__}", source=str(path), line=lineno)
            yield SourceRecord(path, f"line {lineno}", lineno, data)
    elif fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadDataError(f"invalid JSON ({exc.msg} at column {exc.colno})", source=str(path),
                               line=exc.lineno) from exc
        if isinstance(data, dict):
            # {"problems": [...]} or a single record
            lists = [v for v in data.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
            data = lists[0] if len(lists) == 1 else [data]
        if not isinstance(data, list):
            raise BadDataError("expected a JSON array of objects", source=str(path))
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise BadDataError(f"record {i}: expected a JSON object, got {type(item).__name__}", source=str(path))
            yield SourceRecord(path, f"record {i}", None, item)
    elif fmt == "csv":
        reader = csv.DictReader(text.splitlines(keepends=True))
        if not reader.fieldnames:
            raise BadDataError("empty CSV file (no header row)", source=str(path))
        for row in reader:
            if None in row:
                raise BadDataError(f"{len(row[None])} more value(s) than header columns", source=str(path),
                                   line=reader.line_num)
            yield SourceRecord(path, f"line {reader.line_num}", reader.line_num, dict(row))
    else:
        raise UsageError(f"read_records cannot read format {fmt!r}")


def get_path(record: dict[str, Any], path: str) -> Any:
    """Value at a dotted path with numeric indices (``a.b.0.c``), or MISSING."""
    value: Any = record
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def drop_path(record: dict[str, Any], path: str) -> None:
    """Remove the value at a dotted path (what is left is kept as metadata)."""
    *parents, last = path.split(".")
    parent = get_path(record, ".".join(parents)) if parents else record
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        parent.pop(int(last))


def parse_field_specs(specs: Iterable[str], allowed: dict[str, str] | None = None) -> dict[str, str]:
    """``NAME=PATH`` options into a dict; unknown NAMEs are a usage error."""
    allowed = FIELD_NAMES if allowed is None else allowed
    fields: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise UsageError(f"--field {spec!r}: expected NAME=PATH")
        if name not in allowed:
            raise UsageError(f"--field {spec!r}: unknown NAME {name!r}; known: {', '.join(allowed)}")
        fields[name] = path
    return fields


def text_value(rec: SourceRecord, path: str, *, required: bool = False, none_strings: bool = False) -> str | None:
    """A string field: numbers are turned into text, other types are an error naming the field."""
    value = get_path(rec.data, path)
    if value is MISSING or value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise rec.error("missing or empty", field=path)
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise rec.error(f"expected text, got {type(value).__name__}", field=path)
    value = str(value)
    if none_strings and value.strip() in _NONE_STRINGS:
        return None
    return value


# -- Lean problem files ---------------------------------------------------------------------

_THEOREM = re.compile(r"^(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|nonrec)\s+)*(?:theorem|lemma)\s+(\S+)", re.M)
_SLOT = re.compile(r"^(?:noncomputable\s+)?(?:abbrev|def)\s+\S+[^\n]*:=\s*sorry[ \t]*$", re.M)
_DOC = re.compile(r"/--(.*?)-/\s*$", re.S)


@dataclass(frozen=True)
class LeanProblemParts:
    name: str
    preamble: str
    answer_slots: str
    reference_comment: str | None
    docstring: str | None
    statement: str


def split_lean_problem(text: str) -> LeanProblemParts:
    """Split a Lean problem file into preamble, answer slots (with their reference-answer
    comments taken out), the docstring of the target and the target declaration.

    A light split for import only: the screen and the checks parse the stored text with the
    real lexer (``prover.lean``)."""
    matches = list(_THEOREM.finditer(text))
    if len(matches) != 1:
        raise ValueError(f"expected exactly one theorem, found {len(matches)}")
    thm = matches[0]
    head, statement = text[: thm.start()], text[thm.start():]
    docstring = None
    doc = _DOC.search(head)
    if doc and head[doc.end():].strip() == "":
        docstring = doc.group(1).strip()
        head = head[: doc.start()]
    slots = list(_SLOT.finditer(head))
    if not slots:
        return LeanProblemParts(thm.group(1), head, "", None, docstring, statement)
    preamble, rest = head[: slots[0].start()], head[slots[0].start():]
    kept, comments, after_slot = [], [], False
    for line in rest.splitlines(keepends=True):
        if _SLOT.match(line):
            after_slot = True
        elif after_slot and line.lstrip().startswith("--"):
            comments.append(line.lstrip()[2:].strip())
            continue
        elif line.strip():
            after_slot = False
        kept.append(line)
    return LeanProblemParts(thm.group(1), preamble, "".join(kept), "\n".join(comments) or None, docstring, statement)


def _toolchain_near(path: Path) -> str:
    for folder in [path.parent, *path.parent.parents]:
        f = folder / "lean-toolchain"
        if f.is_file():
            return f.read_text().strip()
    return "unknown"


def _lean_file_records(path: Path, collection: str) -> Iterator[ProblemRecord]:
    files = sorted(path.rglob("*.lean")) if path.is_dir() else [path]
    if not files:
        raise BadDataError("no .lean files found", source=str(path))
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise BadDataError(f"not UTF-8 text ({exc.reason})", source=str(file)) from exc
        try:
            parts = split_lean_problem(text)
        except ValueError as exc:
            raise BadDataError(f"not a problem file: {exc}", source=str(file)) from exc
        formal = FormalStatementRecord(toolchain=_toolchain_near(file), preamble=parts.preamble,
                                       answer_slots=parts.answer_slots, statement=parts.statement,
                                       reference_answer_lean=parts.reference_comment, source=str(file))
        yield ProblemRecord(collection=collection, external_id=parts.name, informal_statement=parts.docstring,
                            source=str(file), formal_statements=[formal])


# -- known layouts --------------------------------------------------------------------------

def _strip_docstring(text: str) -> str:
    text = text.strip()
    if text.startswith("/--"):
        text = text[3:]
    if text.endswith("-/"):
        text = text[:-2]
    return text.strip()


def _tags(value: Any) -> list[str]:
    if value is MISSING or value is None:
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, list):
        return [str(t) for t in value]
    return [str(value)]


def _deepseek_prover(rec: SourceRecord, collection: str) -> ProblemRecord:
    # miniF2F / ProofNet as DeepSeek-Prover ships them (Lean 4.9.0).
    name = text_value(rec, "name", required=True)
    prefix = text_value(rec, "informal_prefix")
    formal = FormalStatementRecord(toolchain=V4_9, preamble=text_value(rec, "header") or "",
                                   statement=text_value(rec, "formal_statement", required=True),
                                   source=f"{rec.path}:{rec.where}")
    return ProblemRecord(collection=collection, external_id=name,
                         informal_statement=_strip_docstring(prefix) if prefix else None,
                         split=text_value(rec, "split"), metadata=_rest(rec, {"name", "informal_prefix", "header",
                                                                               "formal_statement", "split"}),
                         source=f"{rec.path}:{rec.where}", formal_statements=[formal])


def _goedel(rec: SourceRecord, collection: str) -> ProblemRecord:
    # Goedel-Prover's snapshots: header + formal_statement + informal_statement (Lean 4.9 era).
    formal = FormalStatementRecord(toolchain=V4_9, preamble=text_value(rec, "header") or "",
                                   statement=text_value(rec, "formal_statement", required=True),
                                   source=f"{rec.path}:{rec.where}")
    used = {"name", "informal_statement", "informal_solution", "header", "formal_statement", "tags", "split"}
    return ProblemRecord(collection=collection, external_id=text_value(rec, "name", required=True),
                         informal_statement=text_value(rec, "informal_statement"),
                         reference_solution=text_value(rec, "informal_solution", none_strings=True),
                         split=text_value(rec, "split"), tags=_tags(get_path(rec.data, "tags")),
                         metadata=_rest(rec, used), source=f"{rec.path}:{rec.where}", formal_statements=[formal])


def _lean_file_formal(rec: SourceRecord, field: str, toolchain: str | None, source: str | None) -> tuple[
        FormalStatementRecord, LeanProblemParts]:
    text = text_value(rec, field, required=True)
    try:
        parts = split_lean_problem(text)
    except ValueError as exc:
        raise rec.error(f"not a Lean problem file: {exc}", field=field) from exc
    return FormalStatementRecord(toolchain=toolchain or "unknown", preamble=parts.preamble,
                                 answer_slots=parts.answer_slots, statement=parts.statement,
                                 reference_answer_lean=parts.reference_comment,
                                 source=source or f"{rec.path}:{rec.where}"), parts


def _putnambench(rec: SourceRecord, collection: str) -> ProblemRecord:
    formal, parts = _lean_file_formal(rec, "lean_file", text_value(rec, "lean_toolchain"), text_value(rec, "source_file"))
    used = {"name", "informal_statement", "informal_solution", "tags", "lean_file", "lean_toolchain", "source_file"}
    return ProblemRecord(collection=collection, external_id=text_value(rec, "name", required=True),
                         informal_statement=text_value(rec, "informal_statement") or parts.docstring,
                         reference_solution=text_value(rec, "informal_solution", none_strings=True),
                         tags=_tags(get_path(rec.data, "tags")), metadata=_rest(rec, used),
                         source=f"{rec.path}:{rec.where}", formal_statements=[formal])


def _minif2f_joined(rec: SourceRecord, collection: str) -> ProblemRecord:
    v49 = FormalStatementRecord(toolchain=V4_9, preamble=text_value(rec, "header_v4_9") or "",
                                statement=text_value(rec, "formal_statement_v4_9", required=True),
                                source=text_value(rec, "source_v4_9"))
    v424, _ = _lean_file_formal(rec, "lean_file_yangky11", text_value(rec, "lean_toolchain_yangky11"),
                                text_value(rec, "source_yangky11"))
    used = {"name", "split", "informal_statement", "formal_statement_v4_9", "header_v4_9", "source_v4_9",
            "name_yangky11", "lean_file_yangky11", "source_yangky11", "lean_toolchain_yangky11", "sources"}
    return ProblemRecord(collection=collection, external_id=text_value(rec, "name", required=True),
                         informal_statement=text_value(rec, "informal_statement"), split=text_value(rec, "split"),
                         metadata=_rest(rec, used), source=f"{rec.path}:{rec.where}", formal_statements=[v49, v424])


def _dsm_v2(rec: SourceRecord, collection: str) -> ProblemRecord:
    used = {"problem_idx", "question", "answer"}
    return ProblemRecord(collection=collection, external_id=text_value(rec, "problem_idx", required=True),
                         informal_statement=text_value(rec, "question", required=True),
                         reference_answer=text_value(rec, "answer", none_strings=True),
                         metadata=_rest(rec, used), source=f"{rec.path}:{rec.where}")


_PROOFBENCH_SPLIT = re.compile(r"PB-(Basic|Advanced)-\d+")


def _imo_proofbench(rec: SourceRecord, collection: str) -> ProblemRecord:
    # IMO-ProofBench (google-deepmind/superhuman, imobench/proofbench.csv); the split, basic or
    # advanced, is read from the id. The Lean statements of lean_proof_bench.csv are kept in
    # metadata only: their comments quote the solution.
    pid = text_value(rec, "Problem ID", required=True)
    m = _PROOFBENCH_SPLIT.fullmatch(pid.strip())
    used = {"Problem ID", "Problem", "Solution", "Grading guidelines", "Short Answer", "Category"}
    return ProblemRecord(collection=collection, external_id=pid.strip(),
                         informal_statement=text_value(rec, "Problem", required=True),
                         reference_answer=text_value(rec, "Short Answer", none_strings=True),
                         reference_solution=text_value(rec, "Solution", none_strings=True),
                         grading_guidelines=text_value(rec, "Grading guidelines", none_strings=True),
                         split=m.group(1).lower() if m else None, tags=_tags(get_path(rec.data, "Category")),
                         metadata=_rest(rec, used), source=f"{rec.path}:{rec.where}")


def _canonical(rec: SourceRecord, collection: str) -> ProblemRecord:
    # Fields that already carry the names of FIELD_NAMES map to themselves.
    return _mapped({name: name for name in FIELD_NAMES if name in rec.data}, rec, collection)


@dataclass(frozen=True)
class Layout:
    """A known input layout: recognised when all of ``fields`` are present (and, with
    ``any_of``, at least one of those)."""

    name: str
    fields: frozenset[str]
    build: Callable[[SourceRecord, str], ProblemRecord]
    collection: str | None = None
    """The benchmark's collection, so that importing it from different files does not make
    one collection per file stem; None: the file's stem (the files of that layout are named
    after their benchmark, or the layout is shared by many)."""
    any_of: frozenset[str] = frozenset()

    def fits(self, keys: set[str]) -> bool:
        return self.fields <= keys and (not self.any_of or bool(self.any_of & keys))


# The first layout that fits the first record wins.
LAYOUTS: list[Layout] = [
    Layout("minif2f-joined", frozenset({"formal_statement_v4_9", "lean_file_yangky11"}), _minif2f_joined, "minif2f"),
    Layout("putnambench-joined", frozenset({"lean_file", "name"}), _putnambench, "putnambench"),
    Layout("deepseek-prover", frozenset({"name", "informal_prefix", "formal_statement"}), _deepseek_prover),
    # Goedel-Prover's PutnamBench snapshot: only PutnamBench carries Coq and Isabelle statements.
    Layout("goedel-putnambench", frozenset({"name", "header", "formal_statement", "informal_statement",
                                            "coq_statement", "isabelle_statement"}), _goedel, "putnambench"),
    Layout("goedel", frozenset({"name", "header", "formal_statement", "informal_statement"}), _goedel),
    Layout("deepseekmath-v2", frozenset({"problem_idx", "question"}), _dsm_v2),
    Layout("imo-proofbench", frozenset({"Problem ID", "Problem", "Solution", "Grading guidelines"}),
           _imo_proofbench, "imo-proofbench"),
    Layout("canonical", frozenset({"id"}), _canonical,
           any_of=frozenset({"statement", "formal_statement", "lean_file"})),
]

_UNNAMED = "\0unnamed"

# Lake packages of known benchmarks (the `name` of their lake-manifest.json, without Lean's «»)
# -> collection, for `.lean` files, whose folders are named `src`, `MiniF2F`, `Test`... The
# miniF2F-lean4 files carry no informal statement, so in `minif2f` each would be a second problem
# under the same name (a problem's key hashes its informal statement); the miniF2F joined file
# brings the same v4.24 statements into `minif2f`, attached to the informal problems.
LAKE_PACKAGE_COLLECTIONS = {"putnam": "putnambench", "miniF2F-lean4": "minif2f-lean4"}
# PutnamBench's problem names (for its `.lean` files outside their Lake package).
_PUTNAM_ID = re.compile(r"putnam_\d{4}_[ab]\d+")


def _lake_package(path: Path) -> str | None:
    for folder in [path if path.is_dir() else path.parent, *path.resolve().parents]:
        manifest = folder / "lake-manifest.json"
        if manifest.is_file():
            try:
                return json.loads(manifest.read_text(encoding="utf-8")).get("name", "").strip("«»")
            except (OSError, ValueError, AttributeError):
                return None
    return None


def _default_collection(path: Path, records: list[ProblemRecord], *, layout: Layout | None = None,
                        lean: bool = False) -> str:
    """The collection of a file imported without --collection: the benchmark's name when the
    source is known, else the file's stem."""
    if layout is not None and layout.collection:
        return layout.collection
    if lean:
        known = LAKE_PACKAGE_COLLECTIONS.get(_lake_package(path) or "")
        if known:
            return known
    if records and all(_PUTNAM_ID.fullmatch(r.external_id) for r in records):
        return "putnambench"
    return path.stem


def suggest_fields(keys: Iterable[str]) -> list[str]:
    """``NAME=FIELD`` mappings that fit a record's own fields, for the unknown-layout error."""
    def norm(key: str) -> str:
        return re.sub(r"[^a-z0-9]", "", key.lower())

    by_norm = {norm(k): k for k in keys}
    out = []
    for name, candidates in _FIELD_GUESSES.items():
        found = next((by_norm[c] for c in candidates if c in by_norm), None)
        if found is not None and not any(m.endswith("=" + found) for m in out):
            out.append(f"{name}={found}")
    return out


# Field names seen in the wild for each NAME (lower case, letters and digits only), best first.
_FIELD_GUESSES = {
    "id": ["id", "problemid", "problemidx", "problemname", "name", "uid", "key", "idx", "qid", "questionid"],
    "statement": ["statement", "problem", "question", "informalstatement", "problemstatement", "prompt", "text",
                  "input"],
    "answer": ["answer", "shortanswer", "finalanswer", "referenceanswer", "groundtruth", "target"],
    "solution": ["solution", "informalsolution", "referencesolution", "proof"],
    "guidelines": ["guidelines", "gradingguidelines", "gradingscheme", "rubric"],
    "formal_statement": ["formalstatement", "leanstatement", "lean4statement", "leanstatement4"],
    "header": ["header", "leanheader", "preamble"],
    "split": ["split"],
    "tags": ["tags", "category", "categories"],
}


def _rest(rec: SourceRecord, used: set[str]) -> dict[str, Any]:
    return {k: v for k, v in rec.data.items() if k not in used}


def _mapped(fields: dict[str, str], rec: SourceRecord, collection: str) -> ProblemRecord:
    """A record under an explicit ``--field`` mapping."""
    coll = text_value(rec, fields["collection"], required=True) if "collection" in fields else collection
    formal = []
    toolchain = text_value(rec, fields["toolchain"]) if "toolchain" in fields else None
    if "lean_file" in fields:
        fs, parts = _lean_file_formal(rec, fields["lean_file"], toolchain, None)
        formal.append(fs)
    elif "formal_statement" in fields:
        statement = text_value(rec, fields["formal_statement"], required="statement" not in fields)
        if statement:
            preamble = text_value(rec, fields["header"]) if "header" in fields else ""
            formal.append(FormalStatementRecord(toolchain=toolchain or "unknown", preamble=preamble or "",
                                                statement=statement, source=f"{rec.path}:{rec.where}"))
    statement = text_value(rec, fields["statement"], required=not formal) if "statement" in fields else None
    if statement is None and not formal:
        raise rec.error("a problem needs an informal statement (--field statement=PATH) or a formal one")
    meta = json.loads(json.dumps(rec.data))
    for path in fields.values():
        drop_path(meta, path)
    return ProblemRecord(
        collection=coll, external_id=text_value(rec, fields["id"], required=True), informal_statement=statement,
        reference_answer=text_value(rec, fields["answer"], none_strings=True) if "answer" in fields else None,
        reference_solution=text_value(rec, fields["solution"], none_strings=True) if "solution" in fields else None,
        grading_guidelines=text_value(rec, fields["guidelines"], none_strings=True) if "guidelines" in fields else None,
        split=text_value(rec, fields["split"]) if "split" in fields else None,
        tags=_tags(get_path(rec.data, fields["tags"])) if "tags" in fields else [],
        metadata=meta, source=f"{rec.path}:{rec.where}", formal_statements=formal)


def parse_problem_file(path: Path, *, collection: str | None = None, fmt: str | None = None,
                       fields: dict[str, str] | None = None) -> list[ProblemRecord]:
    """Every problem of one file (or directory of `.lean` files), fully parsed; raises
    BadDataError at the first malformed record. Without ``collection``, a known benchmark gets
    its own name (``minif2f``, ``putnambench``, ...), anything else the file's stem."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    fmt = detect_format(path, fmt)
    # Without a collection, records are built under a placeholder and renamed once the whole
    # file has said what it is (a known layout, Lake package, or PutnamBench's names).
    name = collection or _UNNAMED
    layout: Layout | None = None
    if fmt == "lean":
        out = list(_lean_file_records(path, name))
    else:
        if fields and "id" not in fields:
            raise UsageError("--field id=PATH is required when fields are mapped")
        out = []
        for rec in read_records(path, fmt):
            if fields:
                out.append(_mapped(fields, rec, name))
                continue
            if layout is None:
                keys = set(rec.data)
                layout = next((lay for lay in LAYOUTS if lay.fits(keys)), None)
                if layout is None:
                    raise _unknown_layout(rec)
            out.append(layout.build(rec, name))
        if not out:
            raise BadDataError("no records", source=str(path))
    if collection is None:
        default = path.stem if fields else _default_collection(path, out, layout=layout, lean=fmt == "lean")
        out = [r.model_copy(update={"collection": default}) if r.collection == name else r for r in out]
    return out


def _unknown_layout(rec: SourceRecord) -> BadDataError:
    ordered = list(rec.data)  # the file's own order
    guess = suggest_fields(ordered)
    if not any(g.startswith("id=") for g in guess):
        guess.insert(0, "id=FIELD")
    if not any(g.startswith(("statement=", "formal_statement=")) for g in guess):
        guess.insert(1, "statement=FIELD")
    options = " ".join(f"--field {shlex.quote(g)}" for g in guess)
    return BadDataError(f"unknown layout (fields: {', '.join(ordered)}); map its fields with --field NAME=PATH, "
                        f"e.g. {options}", source=str(rec.path), line=rec.line)


def import_problems(store: ProofStore, paths: Iterable[str | Path], *, collection: str | None = None,
                    fmt: str | None = None, fields: Iterable[str] = ()) -> ImportSummary:
    """Parse every file, then store all problems in one transaction (nothing is written when
    any file is malformed). Re-importing adds nothing."""
    field_map = parse_field_specs(fields) if fields else None
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("no input files")
    records: list[ProblemRecord] = []
    for path in paths:
        records.extend(parse_problem_file(path, collection=collection, fmt=fmt, fields=field_map))
    summary = store.add_problems(records)
    summary.files = len(paths)
    return summary

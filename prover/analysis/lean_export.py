"""``prover export proofs --format lean-dir``: every proof Lean verified, as one ``.lean`` file
each, plus a manifest, so that anyone can re-check them with ``lake env lean FILE`` inside a Lake
project on the same toolchain and Mathlib.

A file is the assembled file as Lean checked it (prologue, answer slots, fingerprint, lemmas,
target, the ``#prover_check`` epilogue with the nonce placeholder), byte for byte: its sha256 is
the check's ``file_hash``. Exported: checks of a stored formal
statement (not node lemmas, negations or a gate's probes), accepted by the current screen rules
(a ``verified`` row of an older screen must be re-screened first), of a statement that is given
by its data set or passed the faithfulness gate. The manifest links each file to the NL proofs
whose formal attempt ended in it."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from prover import __version__
from prover.core.errors import UsageError
from prover.core.hashing import sha256_text

if TYPE_CHECKING:
    from prover.store import ProofStore


LEAN_EXPORT_FORMATS = ("lean-dir",)
MANIFEST_VERSION = 1

_README = """# Proofs verified by Lean

Written by `prover export proofs --format lean-dir` ({count} file(s)). Each `.lean` file is the
assembled file exactly as Lean checked it; `manifest.json` gives, per file, its sha256, the
problem, the verdict, the toolchain, Mathlib and REPL revisions and the limits of the check.

Re-check a file inside a Lake project pinned to the same toolchain and Mathlib (prover's
`lean_project/`, after `prover lean setup`):

    cd lean_project && lake env lean /path/to/{example}

A file re-checks when Lean reports no error, no `sorry`, and the last line's `#prover_check`
(ProverCheck, built by `prover lean setup`) reports `status=ok type=match` with only `propext`,
`Classical.choice` and `Quot.sound` among the axioms, `sorry=0 other=0`. Files of checks made
before the epilogue end in `#print axioms` of the target instead.
"""


class LeanExportSummary(BaseModel):
    """What ``prover export proofs`` wrote."""

    out: str
    files: int = 0
    """``.lean`` files written (one per distinct assembled file)."""
    by_verdict: dict[str, int] = Field(default_factory=dict)
    by_collection: dict[str, int] = Field(default_factory=dict)
    unfaithful: int = 0
    """Verified checks of autoformalized statements that failed the faithfulness gate (not written)."""
    stale_screen: int = 0
    """Verified checks accepted by an older screen (not written: re-screen them first)."""
    duplicates: int = 0
    """Further checks of an already written file (other backends or limits), listed in its entry."""
    project: dict[str, Any] | None = None
    """The Lake project prover checks in (toolchain, Mathlib and REPL revisions), when found."""


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", part).strip("._") or "x"


def _project_pin() -> dict[str, Any] | None:
    from prover.core.errors import ProverError
    from prover.lean.toolchain import read_pin

    try:
        pin = read_pin()
    except ProverError:
        return None
    return {"dir": pin.project_dir, "toolchain": pin.toolchain, "mathlib_rev": pin.mathlib_rev, "repl_rev": pin.repl_rev}


def _formal_links(store: ProofStore) -> tuple[dict[int, dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """From the formal stage's attempts: each formal statement's origin and faithfulness, and
    the NL proofs whose attempt ended in a check (its sketch's assembled file, or a direct proof
    of the statement)."""
    rows = store.formal_attempt_rows()
    statements: dict[int, dict[str, Any]] = {}
    links: dict[int, list[dict[str, Any]]] = {}
    if rows is None:
        return statements, links
    for a in rows.attempts:
        fs = a["formal_statement_id"]
        if fs is not None:
            seen = statements.setdefault(fs, {"origin": a["statement_source"] or "unknown", "faithful": None})
            if a["statement_faithful"] is True:
                seen["faithful"] = True
            elif seen["faithful"] is None and a["statement_faithful"] is False:
                seen["faithful"] = False
        for column, how in (("final_check_id", "sketch"), ("direct_check_id", "without the sketch")):
            if a[column] is not None and a["proof_id"] is not None:
                links.setdefault(a[column], []).append({"proof_id": a["proof_id"], "attempt_id": a["id"],
                                                        "status": a["status"], "how": how})
    return statements, links


def _check_replaceable(out: Path) -> None:
    """The output folder is replaced as a whole: only a new or empty folder, or an earlier
    export (its manifest says so), may be."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(f"--out {out} is a file; name a folder")
    if not any(out.iterdir()):
        return
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or "proofs" not in manifest or "recheck" not in manifest:
        raise UsageError(f"--out {out} is not empty and holds no earlier export (no prover manifest.json): "
                         "name a new or empty folder")


def export_verified_proofs(store: ProofStore, out: str | Path, *, fmt: str = "lean-dir",
                           include_answer_unchecked: bool = False) -> LeanExportSummary:
    """Write one ``.lean`` file per verified assembled file and ``manifest.json`` into ``out``
    (replaced as a whole)."""
    from prover.lean.screen import SCREEN_RULES_VERSION

    if fmt not in LEAN_EXPORT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(LEAN_EXPORT_FORMATS)}, got {fmt!r}")
    verdicts = ["verified"] + (["verified-answer-unchecked"] if include_answer_unchecked else [])
    out = Path(out)
    _check_replaceable(out)
    rows = store.lean_checks_with_verdicts(verdicts)
    statements, attempts_of = _formal_links(store)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    summary = LeanExportSummary(out=str(out), project=_project_pin())
    by_file: dict[str, dict[str, Any]] = {}
    by_verdict: Counter[str] = Counter()
    by_collection: Counter[str] = Counter()
    for r in rows:
        if r["formal_statement_id"] is None:
            continue  # a node lemma, a negation or a gate's probe: not a proof of a problem's statement
        if r["screen_rules_version"] != SCREEN_RULES_VERSION:
            summary.stale_screen += 1
            continue
        statement = statements.get(r["formal_statement_id"], {"origin": "given", "faithful": None})
        if statement["origin"] == "autoformalized" and statement["faithful"] is not True:
            summary.unfaithful += 1
            continue
        check = {"check_id": r["id"], "verdict": r["verdict"], "backend": r["backend"], "toolchain": r["toolchain"],
                 "mathlib_rev": r["mathlib_rev"], "repl_rev": r["repl_rev"],
                 "screen_rules_version": r["screen_rules_version"],
                 "limits": {"time_s": r["time_limit_s"], "heartbeats": r["heartbeats"], "memory_mb": r["memory_mb"]},
                 "wall_time_s": r["wall_time_s"], "axioms": r["axioms"],
                 "checked_at": r["created_at"].isoformat() if r["created_at"] else None}
        entry = by_file.get(r["file_hash"])
        if entry is not None:
            entry["other_checks"].append(check)
            summary.duplicates += 1
            continue
        text = r["assembled"]
        if text is None or sha256_text(text) != r["file_hash"]:
            continue  # nothing faithful to write
        collection = r["collection"] or "unknown"
        stem = f"{_safe(r['external_id'] or r['target'] or 'proof')}-{r['file_hash'][:12]}"
        rel = Path(_safe(collection)) / f"{stem}.lean"
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).write_bytes(text.encode("utf-8"))
        by_file[r["file_hash"]] = entry = {
            "file": rel.as_posix(), "sha256": r["file_hash"], "target": r["target"],
            "problem": {"id": r["problem_id"], "collection": r["collection"], "external_id": r["external_id"]},
            "statement": {"formal_statement_id": r["formal_statement_id"], **statement},
            "nl_proofs": attempts_of.get(r["id"], []), **check, "other_checks": []}
        by_verdict[r["verdict"]] += 1
        by_collection[collection] += 1
    entries = list(by_file.values())
    manifest = {"format_version": MANIFEST_VERSION, "prover_version": __version__,
                "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "database": store.url,
                "screen_rules_version": SCREEN_RULES_VERSION, "project": summary.project,
                "recheck": "cd lean_project && lake env lean FILE", "proofs": entries}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    (tmp / "README.md").write_text(_README.format(count=len(entries),
                                                  example=entries[0]["file"] if entries else "COLLECTION/NAME.lean"),
                                   encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    summary.files = len(entries)
    summary.by_verdict = dict(sorted(by_verdict.items()))
    summary.by_collection = dict(sorted(by_collection.items()))
    return summary

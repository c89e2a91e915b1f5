"""``prover export proofs --format lean-dir``: one file per verified assembled file, byte for byte
what Lean checked, and a manifest with what a re-check needs. Checks are stored rows built from
recorded-style results (no Lean here)."""

from __future__ import annotations

import json
import subprocess

import pytest

from prover.analysis.lean_export import export_verified_proofs
from prover.core.errors import UsageError
from prover.core.hashing import sha256_text
from prover.core.lean_records import LeanCheckRequest, LeanCheckResult, LeanLimits, ReasonCode, Verdict
from prover.core.records import FormalStatementRecord, ProblemRecord
from prover.lean.screen import SCREEN_RULES_VERSION

FILE_A = "import Mathlib\n\ntheorem t_a : 1 + 1 = 2 := by norm_num\n\n#print axioms t_a\n"
FILE_B = "import Mathlib\n\nabbrev ans : ℕ := 7\n\ntheorem t_b : ans = 7 := rfl\n\n#print axioms t_b\n"


def _check(store, fs_id, text, target, verdict=Verdict.VERIFIED, reasons=(), version=SCREEN_RULES_VERSION,
           time_s=60.0, backend="repl"):
    req = LeanCheckRequest(assembled=text, target=target, axioms_line=text.count("\n"), toolchain="leanprover/lean4:v4.27.0",
                           mathlib_rev="a3a10db", repl_rev="8948401", screen_rules_version=version,
                           limits=LeanLimits(time_s=time_s, heartbeats=200_000, memory_mb=4096))
    res = LeanCheckResult.for_request(req, verdict=verdict, reasons=reasons, backend=backend,
                                      axioms=("propext",) if verdict is Verdict.VERIFIED else None, wall_time_s=1.5)
    return store.add_lean_check(res, formal_statement_id=fs_id)


@pytest.fixture
def checks(store):
    store.add_problems([ProblemRecord(collection="minif2f", external_id="mathd/1", informal_statement="1+1=2",
                                      formal_statements=[FormalStatementRecord(toolchain="v4.9.0", statement="theorem t_a : 1 + 1 = 2 := by sorry")]),
                        ProblemRecord(collection="putnam", external_id="putnam_2000_a1", informal_statement="ans",
                                      formal_statements=[FormalStatementRecord(toolchain="v4.9.0", statement="theorem t_b : ans = 7 := by sorry")])])
    fs = {p.collection: store.formal_statements(p.id)[0].id for p in store.list_problems()}
    ids = {"a": _check(store, fs["minif2f"], FILE_A, "t_a"),
           "a_again": _check(store, fs["minif2f"], FILE_A, "t_a", time_s=120.0, backend="file"),
           "b": _check(store, fs["putnam"], FILE_B, "t_b", Verdict.VERIFIED_ANSWER_UNCHECKED, [ReasonCode.ANSWER_UNCHECKED]),
           "failed": _check(store, fs["minif2f"], FILE_A.replace("norm_num", "simp"), "t_a", Verdict.FAILED,
                            [ReasonCode.LEAN_ERROR]),
           "stale": _check(store, fs["minif2f"], FILE_A.replace("t_a", "t_old"), "t_old", version=SCREEN_RULES_VERSION - 1)}
    return ids


def test_lean_dir_export(store, checks, tmp_path):
    out = tmp_path / "verified"
    s = export_verified_proofs(store, out)
    assert (s.files, s.stale_screen, s.duplicates) == (1, 1, 1)
    assert s.by_collection == {"minif2f": 1} and s.by_verdict == {"verified": 1}
    manifest = json.loads((out / "manifest.json").read_text())
    [entry] = manifest["proofs"]
    assert entry["file"] == f"minif2f/mathd_1-{sha256_text(FILE_A)[:12]}.lean"
    assert (out / entry["file"]).read_bytes() == FILE_A.encode()
    assert entry["sha256"] == sha256_text(FILE_A) and entry["check_id"] == checks["a"]
    assert entry["problem"] == {"id": entry["problem"]["id"], "collection": "minif2f", "external_id": "mathd/1"}
    assert entry["statement"]["origin"] == "given" and entry["nl_proofs"] == []
    assert (entry["toolchain"], entry["mathlib_rev"], entry["repl_rev"]) == ("leanprover/lean4:v4.27.0", "a3a10db", "8948401")
    assert entry["limits"] == {"time_s": 60.0, "heartbeats": 200_000, "memory_mb": 4096}
    assert entry["verdict"] == "verified" and entry["axioms"] == ["propext"]
    assert [c["backend"] for c in entry["other_checks"]] == ["file"]
    assert manifest["screen_rules_version"] == SCREEN_RULES_VERSION and "lake env lean" in manifest["recheck"]
    assert manifest["project"]["toolchain"] == "leanprover/lean4:v4.27.0"  # the repository's lean_project/
    assert "lake env lean" in (out / "README.md").read_text()


def test_answer_unchecked_only_when_asked(store, checks, tmp_path):
    s = export_verified_proofs(store, tmp_path / "all", include_answer_unchecked=True)
    assert s.by_verdict == {"verified": 1, "verified-answer-unchecked": 1}
    files = sorted(p.relative_to(tmp_path / "all").as_posix() for p in (tmp_path / "all").rglob("*.lean"))
    assert files == [f"minif2f/mathd_1-{sha256_text(FILE_A)[:12]}.lean",
                     f"putnam/putnam_2000_a1-{sha256_text(FILE_B)[:12]}.lean"]


def test_export_replaces_only_its_own_folder(store, checks, tmp_path):
    out = tmp_path / "verified"
    export_verified_proofs(store, out)
    export_verified_proofs(store, out)  # an earlier export is replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not empty"):
        export_verified_proofs(store, mine)
    assert (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(UsageError):
        export_verified_proofs(store, tmp_path / "x", fmt="zip")


@pytest.mark.lean
def test_exported_files_recheck_with_real_lean(store, checks, tmp_path):
    """With a Lean toolchain and the project's Mathlib, `lake env lean FILE` accepts each file."""
    from prover.lean.toolchain import find_executable, project_dir

    lake = find_executable("lake")
    if lake is None or not (project_dir() / ".lake" / "packages" / "mathlib").is_dir():
        pytest.skip("no Lean toolchain with a built Mathlib (prover lean setup)")
    out = tmp_path / "verified"
    export_verified_proofs(store, out)
    for entry in json.loads((out / "manifest.json").read_text())["proofs"]:
        r = subprocess.run([lake, "env", "lean", str(out / entry["file"])], cwd=project_dir(), capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr


def test_only_proofs_of_faithful_statements_with_their_nl_proofs(store, checks, tmp_path):
    from prover.core.records import ProofRecord

    [p] = [p for p in store.list_problems() if p.collection == "minif2f"]
    proof = store.add_proofs([ProofRecord(problem_id=p.id, text="An NL proof.")])[0]
    good = store.add_formal_statement(p.id, toolchain="leanprover/lean4:v4.27.0", preamble="import Mathlib\n",
                                      statement="theorem t_c : 2 = 2 := by sorry", source="autoformalized", extra={})
    bad = store.add_formal_statement(p.id, toolchain="leanprover/lean4:v4.27.0", preamble="import Mathlib\n",
                                     statement="theorem t_d : True := by sorry", source="autoformalized", extra={})
    file_c = "import Mathlib\n\ntheorem t_c : 2 = 2 := rfl\n\n#print axioms t_c\n"
    c = _check(store, good, file_c, "t_c")
    _check(store, bad, "import Mathlib\n\ntheorem t_d : True := trivial\n\n#print axioms t_d\n", "t_d")
    _check(store, None, "import Mathlib\n\ntheorem node : 1 = 1 := rfl\n\n#print axioms node\n", "node")
    for key, fs, faithful, final in (("a1", good, True, c), ("a2", bad, False, None)):
        store.add_formal_row("attempt", attempt_key=key, problem_id=p.id, proof_id=proof, status="verified" if final else "no_statement",
                             formal_statement_id=fs, statement_source="autoformalized", statement_faithful=faithful,
                             final_check_id=final)
    s = export_verified_proofs(store, tmp_path / "v")
    assert (s.files, s.unfaithful) == (2, 1)
    entries = {e["target"]: e for e in json.loads((tmp_path / "v" / "manifest.json").read_text())["proofs"]}
    assert set(entries) == {"t_a", "t_c"}
    assert entries["t_c"]["statement"] == {"formal_statement_id": good, "origin": "autoformalized", "faithful": True}
    assert entries["t_c"]["nl_proofs"] == [{"proof_id": proof, "attempt_id": entries["t_c"]["nl_proofs"][0]["attempt_id"],
                                            "status": "verified", "how": "sketch"}]

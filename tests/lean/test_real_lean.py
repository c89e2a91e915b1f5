"""Against a real Lean toolchain: run only where `lean --version` succeeds in lean_project/ (and,
for the checks, where Mathlib and the REPL are set up); skipped with the reason otherwise."""

from __future__ import annotations

import subprocess

import pytest

from prover.lean.toolchain import REPO_ROOT, doctor, find_executable, read_pin

PROJECT = REPO_ROOT / "lean_project"


def _lean_version() -> tuple[bool, str]:
    lean = find_executable("lean")
    if lean is None:
        return False, "no Lean toolchain: `lean` is not on PATH or in ~/.elan/bin (see `prover lean doctor`)"
    try:
        out = subprocess.run([lean, "--version"], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"`lean --version` failed: {exc}"
    if out.returncode != 0:
        return False, f"`lean --version` failed in lean_project/: {(out.stderr or out.stdout).strip()[-200:]}"
    return True, out.stdout.strip()


HAVE_LEAN, WHY = _lean_version()
pytestmark = [pytest.mark.lean, pytest.mark.skipif(not HAVE_LEAN, reason=WHY), pytest.mark.timeout(1800)]

PROBLEM = "import Mathlib\n\ntheorem add_comm_example (a b : ℕ) : a + b = b + a := by sorry\n"
GOOD = "import Mathlib\n\ntheorem add_comm_example (a b : ℕ) : a + b = b + a := by\n  omega\n"
BAD = "import Mathlib\n\ntheorem add_comm_example (a b : ℕ) : a + b = b + a := by\n  rfl\n"


def test_lean_matches_the_pin():
    assert read_pin(PROJECT).lean_version.lstrip("v") in WHY


def _backend(name):
    report = doctor(PROJECT)
    if not report.backends.get(name):
        pytest.skip(f"backend {name} cannot run: " + "; ".join(report.missing))
    from prover.lean.backends import open_backend

    return open_backend(name, project=PROJECT, max_processes=1)


@pytest.mark.parametrize("name", ["repl", "file"])
def test_real_verdicts(name):
    from prover.core.lean_records import Verdict
    from prover.lean.check import check_proof

    pin = read_pin(PROJECT)
    backend = _backend(name)
    try:
        good = check_proof(GOOD, PROBLEM, backend, pin=pin).result
        bad = check_proof(BAD, PROBLEM, backend, pin=pin).result
    finally:
        backend.close()
    assert good.verdict is Verdict.VERIFIED, good
    assert bad.verdict is Verdict.FAILED, bad


def test_real_repl_speaks_the_recorded_protocol():
    """The recorded readme conversation (sorry warning, sorries with goals) from a real REPL."""
    from prover.lean.repl import ReplProcess
    from prover.lean.toolchain import repl_command

    _backend("repl").close()
    pin = read_pin(PROJECT)
    with ReplProcess(repl_command(pin), cwd=pin.project_dir, memory_cap_bytes=8 * 1024**3) as repl:
        assert repl.send({"cmd": "def f := 2"}, 600) == {"env": 0}
        resp = repl.send({"cmd": "def g (x : Unit) : Nat := by sorry"}, 600)
    assert resp["env"] == 1
    assert resp["sorries"][0]["goal"] == "x : Unit\n⊢ Nat"
    assert resp["messages"][0]["severity"] == "warning" and "sorry" in resp["messages"][0]["data"]


# -- ProverCheck on real Lean (what a first run must confirm: lean_project/README.md) -------------

PROVER_CHECK_FILE = """import ProverCheck

set_option Elab.async false

axiom _prover_fp (a b : Nat) : a + b = b + a

theorem good (a b : Nat) : a + b = b + a := Nat.add_comm a b

theorem restated : ∀ a b : Nat, a + b = b + a := fun a b => Nat.add_comm a b

theorem other (a b : Nat) : a * b = b * a := Nat.mul_comm a b

theorem uses_sorry (a b : Nat) : a + b = b + a := sorry

theorem main (a b : Nat) : a + b = b + a := good a b

axiom _prover_fp_d (n : Nat) : Fin (n + 1)

def construct (n : Nat) : Fin (n + 1) := ⟨0, Nat.succ_pos n⟩

#prover_check good _prover_fp "NONCE"

#prover_check restated _prover_fp "NONCE"

#prover_check other _prover_fp "NONCE"

#prover_check uses_sorry _prover_fp "NONCE"

#prover_check missing _prover_fp "NONCE"

#prover_check main _prover_fp "NONCE" [good, other]

#prover_check construct _prover_fp_d "NONCE"
"""


def test_prover_check_builds_and_reports_in_the_parsed_format():
    """`lake build ProverCheck`, then one file through file mode: each `#prover_check` logs one
    info message at its own line, column 0, that `parse_check_message` reads whole — kernel match,
    definitional restatement, mismatch, `sorryAx`, a missing target, and the constants used."""
    from prover.core.lean_backend_records import LeanRunRequest
    from prover.lean.epilogue import new_nonce, parse_check_message
    from prover.lean.verdict import normalize_response

    lake = find_executable("lake")
    build = subprocess.run([lake, "build", "ProverCheck"], cwd=PROJECT, capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    nonce = new_nonce()
    text = PROVER_CHECK_FILE.replace("NONCE", nonce)
    backend = _backend("file")
    try:
        raw = backend.check(LeanRunRequest(code=text, timeout_s=600))
    finally:
        backend.close()
    assert raw.status == "ok", raw.error
    messages = normalize_response(raw.response).messages
    lines = {line.split()[1]: i for i, line in enumerate(text.splitlines(), 1) if line.startswith("#prover_check")}
    reports = {}
    for name, line in lines.items():
        at = [m for m in messages if m.pos is not None and m.pos.line == line]
        assert len(at) == 1 and at[0].severity == "info" and at[0].pos.column == 0, (name, at)
        reports[name] = parse_check_message(at[0].data)
        assert reports[name] is not None and reports[name].nonce == nonce, at[0].data
    for name in ("good", "restated", "main", "construct"):
        r = reports[name]
        assert (r.status, r.type_check, r.sorry, r.other_axioms) == ("ok", "match", False, 0), name
    assert reports["other"].type_check == "mismatch"
    assert reports["uses_sorry"].sorry and reports["uses_sorry"].type_check == "match"
    assert reports["missing"].status == "missing-target"
    assert reports["main"].used == "10" and reports["good"].used is None

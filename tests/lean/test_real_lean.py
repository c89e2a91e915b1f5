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

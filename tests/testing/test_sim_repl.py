"""The simulated REPL (prover/testing/sim_repl.py) against the recorded protocol, and behind
prover's own REPL client and pool. Its verdicts come from tags (prover/testing/oracle.py): these
tests check protocol shapes and wiring, never anything about Lean."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from prover.core.lean_backend_records import LeanRunRequest
from prover.lean.repl import ReplProcess
from prover.testing.oracle import judge

pytestmark = pytest.mark.timeout(120)

VENDORED = Path(__file__).resolve().parents[1] / "fixtures" / "lean_recorded" / "repl_pairs.jsonl"
FAST = {"import_s": 0.0, "import_mb": 1, "check_median_s": 0.0}
TOY = "import Mathlib\n\ntheorem toy_sum (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b = 5 := by sorry\n"


def command(**config) -> list[str]:
    return [sys.executable, "-m", "prover.testing.sim_repl", "--config", json.dumps({**FAST, **config})]


def pairs() -> dict[int, dict]:
    with open(VENDORED, encoding="utf-8") as f:
        return {r["row"]: r for r in map(json.loads, f)}


def test_a_recorded_sorry_answer_is_replayed_exactly():
    """Row 725 (leanprover-community/repl test suite, v4.26.0): `theorem test : 0 < 1 := by sorry`
    in the environment of an import. The simulator's whole answer equals the recorded one."""
    row = pairs()[725]
    with ReplProcess(command()) as repl:
        assert repl.send({"cmd": "import Mathlib"}, 30) == {"env": 0}
        got = repl.send(row["request"], 30)
    want = dict(row["response"])
    assert got == want


def test_an_error_has_the_recorded_shape():
    """Row 719: an `unsolved goals` error; the simulator's goal text is its own, the shape is Lean's."""
    recorded = pairs()[719]["response"]["messages"][0]
    got = judge("example (x : Nat) : x + 1 > x := by\n  simp  -- twin:bad\n  done").messages[0]
    assert set(got) == set(recorded) and got["severity"] == "error"
    assert set(got["pos"]) == set(recorded["pos"]) == {"line", "column"}
    assert got["data"].split("\n")[0] == recorded["data"].split("\n")[0] == "unsolved goals"
    assert got["pos"]["line"] == 2


def test_unknown_environment_and_bad_json_as_the_repl_says_them():
    from prover.core.paths import shared_dir

    recorded = shared_dir() / "fixtures" / "lean-repl" / "test" / "unknown_environment.expected.out"
    with ReplProcess(command()) as repl:
        got = repl.send({"cmd": "example : True := trivial", "env": 7}, 30)
    assert got == {"message": "Unknown environment."}
    if recorded.exists():
        assert got == json.loads(recorded.read_text())


def test_env_reuse_and_file_mode(tmp_path):
    lean = tmp_path / "f.lean"
    lean.write_text("theorem t : True := by\n  trivial  -- twin:ok\n  done\n", encoding="utf-8")
    with ReplProcess(command()) as repl:
        first = repl.send({"cmd": "def f : Nat := 1"}, 30)
        second = repl.send({"cmd": "theorem g : f = 1 := by\n  rfl  -- twin:ok\n  done", "env": first["env"]}, 30)
        third = repl.send({"path": str(lean), "allTactics": False}, 30)
    assert (first, second, third) == ({"env": 0}, {"env": 1}, {"env": 2})


def pool(**config):
    from prover.lean.pool import PoolConfig, ReplPool

    return ReplPool(PoolConfig(command=command(**config), memory_cap_bytes=None, max_processes=2,
                               import_timeout_s=30))


def checked(proof: str, backend, constants=None):
    from prover.lean.check import check_proof
    from prover.lean.toolchain import REPO_ROOT, read_pin

    return check_proof(proof, TOY, backend, pin=read_pin(REPO_ROOT / "lean_project"), constants=constants).result


def test_the_epilogue_is_answered_as_prover_check_would():
    good = "theorem toy_sum (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b = 5 := by\n  subst h₀ h₁  -- twin:ok\n  done"
    bad = good.replace("twin:ok", "twin:bad")
    with pool() as p:
        assert checked(good, p).verdict.value == "verified"
        result = checked(bad, p)
        assert result.verdict.value == "failed"
        assert result.axioms is not None and "sorryAx" in result.axioms  # the report said sorry=1
        assert p.stats.started == 1 and p.stats.checks == 2


def test_the_report_compares_the_statement_and_says_which_constants_are_used():
    body = ("axiom _prover_fp (a : ℕ) : a = a\n\ntheorem step_one (a : ℕ) : a = a := by\n  rfl  -- twin:ok\n  done\n\n"
            "theorem target (a : ℕ) : a = a := by\n  exact step_one a\n\n")
    report = [m["data"] for m in judge(body + '#prover_check target _prover_fp "' + "a" * 32 + '" [step_one, other]')
              .messages if m["severity"] == "info"]
    assert report == ["prover_check 1 nonce=" + "a" * 32 + " status=ok type=match "
                      "axioms=propext,Classical.choice,Quot.sound sorry=0 other=0 used=10"]
    changed = body.replace("theorem target (a : ℕ) : a = a", "theorem target (a : ℕ) : a = a + 0")
    [mismatch] = [m["data"] for m in judge(changed + '#prover_check target _prover_fp "' + "b" * 32 + '"').messages
                  if m["severity"] == "info"]
    assert " type=mismatch " in mismatch and mismatch.endswith(" used=-")
    [missing] = [m["data"] for m in judge(body + '#prover_check nope _prover_fp "' + "c" * 32 + '"').messages
                 if m["severity"] == "info"]
    assert " status=missing-target type=unchecked axioms=- " in missing


def test_import_costs_memory_and_every_check_grows_the_process():
    from prover.lean.header import split_imports

    code = TOY.replace(":= by sorry", ":= by\n  omega  -- twin:ok\n  done")
    with pool(import_mb=40, grow_mb=4) as p:
        first = p.check(LeanRunRequest(code=code, timeout_s=30))
        for _ in range(3):
            last = p.check(LeanRunRequest(code=code, timeout_s=30))
        assert split_imports(code).imports == ("Mathlib",)
    assert first.peak_memory_bytes > 40 * 2 ** 20
    assert last.peak_memory_bytes >= first.peak_memory_bytes + 10 * 2 ** 20


def test_hangs_time_out_and_deaths_are_retried_once():
    code = TOY.replace(":= by sorry", ":= by\n  omega  -- twin:ok\n  done")
    with pool(timeout_rate=1.0) as p:
        assert p.check(LeanRunRequest(code=code, timeout_s=2)).status == "timeout"
    with pool(death_rate=1.0) as p:
        raw = p.check(LeanRunRequest(code=code, timeout_s=30))
        assert raw.status == "crashed" and "SIGKILL" in raw.error
        assert p.stats.crash_retries == 1 and p.stats.crashes == 2

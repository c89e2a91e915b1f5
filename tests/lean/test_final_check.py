"""Independent confirmation (`--final-check`): the wiring, against a STAND-IN executable
(tests/lean/final_check_standin.py) that prints each tool's documented output at tag v4.27.0 —
lean4checker, comparator, SafeVerify — and exits as they do. No checker ever ran here; these
tests show which commands prover runs, what it writes for them, and how it reads their answers.

The verified results they confirm come from synthetic responses (an info message in the
recorded REPL shape with the text ProverCheck logs; ProverCheck was never compiled)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from prover.core.errors import UsageError
from prover.core.lean_records import LeanCheckResult, LeanLimits, ReasonCode, Verdict
from prover.lean.audit import audit
from prover.lean.final_check import (FINAL_LIBRARY, FinalCheckTools, accepted, confirm, final_check_key,
                                     validate_final_check)
from prover.lean.problem import LeanProblem

STANDIN = Path(__file__).parent / "final_check_standin.py"
PROBLEM = "import Mathlib\n\ntheorem t : (2 : ℕ) + 2 = 4 := by sorry\n"
PROOF = "theorem t : (2 : ℕ) + 2 = 4 := by norm_num\n"


def tools() -> FinalCheckTools:
    py = [sys.executable, str(STANDIN)]
    return FinalCheckTools(build=[*py, "build"], lean4checker=[*py, "lean4checker"], comparator=[*py, "comparator"],
                           safeverify=[*py, "safeverify"])


@pytest.fixture
def verified() -> LeanCheckResult:
    a = audit(PROOF, PROBLEM).assembled(LeanLimits())
    req = a.request(toolchain="leanprover/lean4:v4.27.0", mathlib_rev="a3a10db", repl_rev="tag:v4.27.0")
    return LeanCheckResult.for_request(req, verdict=Verdict.VERIFIED, backend="repl",
                                       axioms=("propext",))


@pytest.fixture
def standin(tmp_path, monkeypatch):
    log = tmp_path / "standin.log"
    monkeypatch.setenv("STANDIN_LOG", str(log))
    return lambda: log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("tool", ["lean4checker", "comparator", "safeverify"])
def test_each_tool_accepts(tool, verified, tmp_path, standin):
    out = confirm(verified, LeanProblem.parse(PROBLEM), tool, project_dir=tmp_path, tools=tools())
    assert out.verdict is Verdict.VERIFIED and out.reasons == ()
    assert out.backend == tool and out.cache_key == final_check_key(verified.cache_key, tool)
    assert out.cache_key != verified.cache_key and out.file_hash == verified.file_hash
    module = f"C{out.cache_key[:16]}"
    written = (tmp_path / FINAL_LIBRARY / f"{module}.lean").read_text()
    # the file confirmed is the verified file, with a fresh nonce in its epilogue
    assert written != verified.assembled and len(written) == len(verified.assembled)
    assert written.rsplit('"', 2)[0] == verified.assembled.rsplit('"', 2)[0]
    calls = standin()
    if tool == "lean4checker":
        assert calls == [f"build {FINAL_LIBRARY}.{module}", f"lean4checker {FINAL_LIBRARY}.{module}"]
    elif tool == "safeverify":
        challenge = f"T{module[1:]}"
        lib = tmp_path / ".lake" / "build" / "lib" / "lean" / FINAL_LIBRARY
        assert calls == [f"build {FINAL_LIBRARY}.{challenge}", f"build {FINAL_LIBRARY}.{module}",
                         f"safeverify {lib / (challenge + '.olean')} {lib / (module + '.olean')}"]
        assert (tmp_path / FINAL_LIBRARY / f"{challenge}.lean").read_text() == PROBLEM.replace("by sorry", "sorry")
    else:
        # comparator builds both modules itself, the solution in its sandbox: prover builds nothing
        config = tmp_path / FINAL_LIBRARY / f"{module}.json"
        assert calls == [f"comparator {config}"]
        assert json.loads(config.read_text()) == {
            "challenge_module": f"{FINAL_LIBRARY}.T{module[1:]}", "solution_module": f"{FINAL_LIBRARY}.{module}",
            "theorem_names": ["t"], "permitted_axioms": ["Classical.choice", "Quot.sound", "propext"],
            "enable_nanoda": False}


@pytest.mark.parametrize("tool", ["lean4checker", "comparator", "safeverify"])
def test_each_tool_rejects(tool, verified, tmp_path, standin, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "reject")
    out = confirm(verified, LeanProblem.parse(PROBLEM), tool, project_dir=tmp_path, tools=tools())
    assert out.verdict is Verdict.FAILED and out.reasons == (ReasonCode.FINAL_CHECK_REJECTED,)
    assert out.definitive and "uncaught exception" in out.detail


def test_crash_missing_tool_and_build_failure_are_inconclusive(verified, tmp_path, standin, monkeypatch):
    problem = LeanProblem.parse(PROBLEM)
    monkeypatch.setenv("STANDIN_MODE", "crash")
    out = confirm(verified, problem, "comparator", project_dir=tmp_path, tools=tools())
    assert out.verdict is Verdict.CRASHED and not out.definitive
    monkeypatch.setenv("STANDIN_MODE", "crash")
    out = confirm(verified, problem, "lean4checker", project_dir=tmp_path, tools=tools())
    assert out.verdict is Verdict.CRASHED and "building" in out.detail  # the build step failed first
    monkeypatch.delenv("STANDIN_MODE")
    missing = FinalCheckTools(build=tools().build, lean4checker=[str(tmp_path / "no-such-binary")],
                              comparator=[], safeverify=[])
    out = confirm(verified, problem, "lean4checker", project_dir=tmp_path, tools=missing)
    assert out.verdict is Verdict.UNAVAILABLE and "README" in out.detail


def test_documented_outputs_are_read_strictly():
    ok = "Searching for modules matching: [ProverFinal.C1]\nFound 1 modules to check\n"
    assert accepted("lean4checker", 0, ok, "")
    assert not accepted("lean4checker", 1, ok, "lean4checker found a problem in ProverFinal.C1")
    assert not accepted("lean4checker", 0, "Searching for modules matching: [X]\nFound 0 modules to check\n", "")
    assert accepted("comparator", 0, "Lean default kernel accepts the solution\nYour solution is okay!\n", "")
    assert not accepted("comparator", 0, "Your solution is okay!\nsomething else\n", "")
    assert accepted("safeverify", 0, "------------------\nFinished.\n", "")
    assert not accepted("safeverify", 1, "Finished.\n", "uncaught exception: SafeVerify check failed for x")


def test_only_verified_results_and_known_tools(verified, tmp_path):
    with pytest.raises(UsageError):
        validate_final_check("nanoda")
    with pytest.raises(UsageError):
        confirm(verified, LeanProblem.parse(PROBLEM), "none", project_dir=tmp_path, tools=tools())
    unchecked = verified.model_copy(update={"verdict": Verdict.VERIFIED_ANSWER_UNCHECKED})
    with pytest.raises(UsageError):
        confirm(unchecked, LeanProblem.parse(PROBLEM), "lean4checker", project_dir=tmp_path, tools=tools())

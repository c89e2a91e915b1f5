"""Independent confirmation (DESIGN.md, "What verified by Lean means"): a verdict that will carry
a formal label 1 is re-checked out of process, on the compiled `.olean`, by an existing checker —
any check in the process that elaborated model text could in principle be subverted by it.

* ``lean4checker`` (default; leanprover/lean4checker at the toolchain's tag): replays every
  declaration of the compiled module into the kernel. Built: ``lake build ProverFinal.C<key>``,
  then ``lake env lean4checker ProverFinal.C<key>``. Accepts when it exits 0 after
  ``Found 1 modules to check`` and prints no ``lean4checker found a problem``.
* ``comparator`` (leanprover/comparator): sandboxed build (landrun), export (lean4export),
  statement match against a challenge module (the problem with `sorry`), axioms, kernel replay.
  ``lake env comparator config.json``; accepts when it exits 0 with ``Your solution is okay!``.
  It builds the solution itself, in its sandbox: prover never compiles it first.
* ``safeverify`` (GasStationManager/SafeVerify): replays both compiled files and matches the
  target's declarations, axioms, unsafe/partial. ``lake env safe_verify target.olean
  submission.olean``; accepts when it exits 0 and ends with ``Finished.``.
* ``none``: no confirmation; formal labels are then stored under a policy version that says so.

The outcome is its own ``lean_checks`` row (backend = the tool), keyed by the confirmed check's
key and the tool (``final_check_key``). lean_project/README.md says how each tool is installed
at the pinned toolchain; ``$PROVER_FINAL_CHECK_<TOOL>`` (a whole command line) replaces the
default command, as ``$PROVER_LEAN_REPL`` does for the REPL."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from prover.core.errors import UsageError
from prover.core.hashing import hash_json
from prover.core.lean_records import STANDARD_AXIOMS, LeanCheckResult, ReasonCode, Verdict
from prover.lean.assemble import with_nonce
from prover.lean.epilogue import new_nonce
from prover.lean.problem import LeanProblem

FINAL_CHECKS = ("lean4checker", "comparator", "safeverify", "none")
DEFAULT_FINAL_CHECK = "lean4checker"
#: Where each tool is built inside lean_project/ (README.md) and its binary there.
TOOL_BINARIES = {
    "lean4checker": ".lake/lean4checker/.lake/build/bin/lean4checker",
    "comparator": ".lake/comparator/.lake/build/bin/comparator",
    "safeverify": ".lake/SafeVerify/.lake/build/bin/safe_verify",
}
#: The Lean library (lean_project/lakefile.toml) that holds the files to confirm.
FINAL_LIBRARY = "ProverFinal"


def final_check_key(check_key: str, tool: str) -> str:
    """The key of the confirmation of the check keyed ``check_key`` by ``tool``."""
    return hash_json({"final_check": tool, "of": check_key})


def validate_final_check(tool: str) -> str:
    if tool not in FINAL_CHECKS:
        raise UsageError(f"unknown final check {tool!r}: one of {', '.join(FINAL_CHECKS)}")
    return tool


@dataclass(frozen=True)
class FinalCheckTools:
    """How each step is started: argument-vector prefixes (the defaults run inside the Lake
    project through `lake`)."""

    build: list[str]
    """`lake build` (a module name is appended)."""
    lean4checker: list[str]
    comparator: list[str]
    safeverify: list[str]

    @classmethod
    def default(cls, project_dir: str | os.PathLike) -> "FinalCheckTools":
        from prover.lean.toolchain import find_executable

        lake = find_executable("lake") or "lake"
        root = Path(project_dir)

        def tool(name: str) -> list[str]:
            env = os.environ.get(f"PROVER_FINAL_CHECK_{name.upper()}")
            return shlex.split(env) if env else [lake, "env", str(root / TOOL_BINARIES[name])]

        return cls(build=[lake, "build"], lean4checker=tool("lean4checker"), comparator=tool("comparator"),
                   safeverify=tool("safeverify"))


@dataclass
class FinalCheckRun:
    """One tool run, as the row stores it."""

    verdict: Verdict
    reasons: list[ReasonCode]
    detail: str
    steps: list[str] = field(default_factory=list)


def _run(cmd: list[str], cwd: Path, timeout_s: float) -> tuple[int | None, str, str]:
    """(exit code, stdout, stderr); exit code None when it could not run or timed out (the
    reason is in stderr)."""
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None, "", f"timeout after {timeout_s:g} s"
    except OSError as exc:
        return None, "", f"cannot run {cmd[0]}: {exc.strerror}"
    return out.returncode, out.stdout, out.stderr


def _tail(text: str, n: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def accepted(tool: str, code: int | None, stdout: str, stderr: str) -> bool:
    """Whether a tool's exit and output say it accepted the file (each tool's documented output
    at the pinned toolchain's tag; see the module docstring)."""
    if code != 0:
        return False
    if tool == "lean4checker":
        return "Found 1 modules to check" in stdout and "found a problem" not in stdout + stderr
    if tool == "comparator":
        return _last_line(stdout) == "Your solution is okay!"
    if tool == "safeverify":
        return _last_line(stdout) == "Finished."
    raise UsageError(f"unknown final check {tool!r}")


def confirm(result: LeanCheckResult, problem: LeanProblem, tool: str, *, project_dir: str | os.PathLike,
            tools: FinalCheckTools | None = None, timeout_s: float = 1800.0) -> LeanCheckResult:
    """Re-check the verified ``result`` (its stored file) with ``tool`` out of process; the
    outcome as its own result (``verified``: the tool accepted the compiled file; ``failed``:
    it rejected it; ``crashed``/``timeout``/``unavailable`` otherwise)."""
    validate_final_check(tool)
    if tool == "none":
        raise UsageError("--final-check none runs no confirmation")
    if result.assembled is None or result.verdict is not Verdict.VERIFIED:
        raise UsageError("only a verified check with its file can be confirmed")
    root = Path(project_dir)
    key = final_check_key(result.cache_key, tool)
    if tools is None:
        from prover.lean.toolchain import find_executable

        if find_executable("lake") is None and not os.environ.get(f"PROVER_FINAL_CHECK_{tool.upper()}"):
            run = FinalCheckRun(Verdict.UNAVAILABLE, [ReasonCode.BACKEND_UNAVAILABLE],
                                f"{tool}: `lake` not found (lean_project/README.md says how to install {tool})")
            return _row(result, key, tool, run)
        tools = FinalCheckTools.default(root)
    module = f"C{key[:16]}"
    src_dir = root / FINAL_LIBRARY
    src_dir.mkdir(parents=True, exist_ok=True)
    (src_dir / f"{module}.lean").write_text(with_nonce(result.assembled, new_nonce()), encoding="utf-8")
    run = _confirm(tool, tools, root, module, result, problem, timeout_s)
    return _row(result, key, tool, run)


def _row(result: LeanCheckResult, key: str, tool: str, run: FinalCheckRun) -> LeanCheckResult:
    return LeanCheckResult(
        cache_key=key, file_hash=result.file_hash, target=result.target, toolchain=result.toolchain,
        mathlib_rev=result.mathlib_rev, repl_rev=result.repl_rev, screen_rules_version=result.screen_rules_version,
        limits=result.limits, verdict=run.verdict, reasons=tuple(run.reasons), backend=tool,
        assembled=result.assembled, detail="\n".join([*run.steps, run.detail]).strip() or None)


def _confirm(tool: str, tools: FinalCheckTools, root: Path, module: str, result: LeanCheckResult,
             problem: LeanProblem, timeout_s: float) -> FinalCheckRun:
    full = f"{FINAL_LIBRARY}.{module}"
    steps: list[str] = []

    def fail_to_run(code: int | None, err: str, what: str) -> FinalCheckRun:
        if code is None and err.startswith("timeout"):
            return FinalCheckRun(Verdict.TIMEOUT, [ReasonCode.WALL_TIMEOUT], f"{what}: {err}", steps)
        if code is None:
            return FinalCheckRun(Verdict.UNAVAILABLE, [ReasonCode.BACKEND_UNAVAILABLE],
                                 f"{what}: {err} (lean_project/README.md says how to install it)", steps)
        return FinalCheckRun(Verdict.CRASHED, [ReasonCode.BACKEND_ERROR], f"{what} exited {code}: {_tail(err)}", steps)

    def build(mod: str) -> FinalCheckRun | None:
        code, out, err = _run([*tools.build, mod], root, timeout_s)
        steps.append(f"build {mod}: exit {code}")
        return None if code == 0 else fail_to_run(code, err or out, f"building {mod}")

    if tool == "lean4checker":
        failed = build(full)
        if failed:
            return failed
        cmd = [*tools.lean4checker, full]
    elif tool == "safeverify":
        challenge = f"T{module[1:]}"
        (root / FINAL_LIBRARY / f"{challenge}.lean").write_text(problem.with_proof("sorry"), encoding="utf-8")
        for mod in (f"{FINAL_LIBRARY}.{challenge}", full):
            failed = build(mod)
            if failed:
                return failed
        lib = root / ".lake" / "build" / "lib" / "lean" / FINAL_LIBRARY
        cmd = [*tools.safeverify, str(lib / f"{challenge}.olean"), str(lib / f"{module}.olean")]
    else:  # comparator: it builds both modules itself, the solution inside its sandbox
        challenge = f"T{module[1:]}"
        (root / FINAL_LIBRARY / f"{challenge}.lean").write_text(problem.with_proof("sorry"), encoding="utf-8")
        config = root / FINAL_LIBRARY / f"{module}.json"
        config.write_text(json.dumps({
            "challenge_module": f"{FINAL_LIBRARY}.{challenge}", "solution_module": full,
            "theorem_names": [result.target], "permitted_axioms": sorted(STANDARD_AXIOMS),
            "enable_nanoda": False}, indent=2), encoding="utf-8")
        cmd = [*tools.comparator, str(config)]
    code, out, err = _run(cmd, root, timeout_s)
    steps.append(f"{tool}: exit {code}")
    if code is None:
        return fail_to_run(code, err, tool)
    if accepted(tool, code, out, err):
        return FinalCheckRun(Verdict.VERIFIED, [], _tail(out, 4), steps)
    if code == 1 and "uncaught exception" in out + err:
        # How each tool (a Lean `main`) reports what it found: an uncaught IO error, exit 1.
        return FinalCheckRun(Verdict.FAILED, [ReasonCode.FINAL_CHECK_REJECTED], _tail(out + "\n" + err), steps)
    return fail_to_run(code, out + "\n" + err, tool)

"""File mode: ``lake env lean --json FILE`` on a temporary file inside ``lean_project/``.

Slower than the REPL pool (every check imports its header afresh) but with no moving part
besides Lean itself: the reference the pool is compared with, and the fallback where the REPL
is not built. Lean prints one JSON message per line; its exit code is 1 when there are errors.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Sequence

from prover.core.lean_backend_records import LeanRawResponse, LeanRunRequest, MemoryCap
from prover.lean.limits import DEFAULT_CAP_BYTES, plan_memory_cap, pool_sizing, preexec_for
from prover.lean.repl import likely_cause

_SEVERITY = {"information": "info", "info": "info", "warning": "warning", "error": "error", "trace": "trace"}


def message_from_lean_json(obj: dict[str, Any]) -> dict[str, Any]:
    """A ``lean --json`` message in the REPL's form (severity info|warning|error, pos, endPos,
    data), so that one verdict logic reads both."""
    return {"severity": _SEVERITY.get(obj.get("severity", ""), obj.get("severity")),
            "pos": obj.get("pos"), "endPos": obj.get("endPos"), "data": obj.get("data", "")}


def parse_lean_json(stdout: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(messages, lines that are not Lean messages)."""
    messages, other = [], []
    for line in stdout.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            other.append(line)
            continue
        if isinstance(obj, dict) and "severity" in obj and "data" in obj:
            messages.append(message_from_lean_json(obj))
        else:
            other.append(line)
    return messages, other


class FileBackend:
    """Checks each file with a fresh ``lake env lean --json`` in the project folder."""

    name = "file"

    def __init__(self, project_dir: str | os.PathLike, command: Sequence[str] | None = None, *,
                 memory_cap_bytes: int | None = DEFAULT_CAP_BYTES, env: dict[str, str] | None = None,
                 max_processes: int | None = None):
        self.project_dir = Path(project_dir)
        self.sizing = pool_sizing(memory_cap_bytes, max_processes=max_processes)
        self.size = self.sizing.processes
        """Lean processes a caller may run at once (as the REPL pool's: ``--lean-processes``, else
        min(cores, available memory / cap)); each check is its own process."""
        if command is None:
            from prover.lean.toolchain import find_executable

            lake = find_executable("lake") or "lake"
            command = [lake, "env", "lean", "--json"]
        self.command = list(command)
        self.env = env
        self.memory_cap: MemoryCap = plan_memory_cap(memory_cap_bytes)
        self.tmp_dir = self.project_dir / ".prover-tmp"

    def check(self, request: LeanRunRequest | str) -> LeanRawResponse:
        if isinstance(request, str):
            request = LeanRunRequest(code=request)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        path = self.tmp_dir / f"Check_{uuid.uuid4().hex[:16]}.lean"
        path.write_text(request.code, encoding="utf-8")
        try:
            return self._run(path, request)
        finally:
            path.unlink(missing_ok=True)

    def _run(self, path: Path, request: LeanRunRequest) -> LeanRawResponse:
        import subprocess

        t0 = time.monotonic()
        common: dict[str, Any] = dict(backend=self.name, memory_cap=self.memory_cap)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                proc = subprocess.Popen(self.command + [str(path)], cwd=self.project_dir, env=self.env,
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                        start_new_session=True, preexec_fn=preexec_for(self.memory_cap))
            except (OSError, subprocess.SubprocessError) as exc:
                return LeanRawResponse(status="unavailable", error=f"cannot run {' '.join(self.command)}: {exc}",
                                       wall_s=time.monotonic() - t0, **common)
            status, usage, timed_out = None, None, False
            deadline = t0 + request.timeout_s
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() >= deadline:
                    timed_out = True
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    _, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.02)
            proc.returncode = os.waitstatus_to_exitcode(status)
            wall = time.monotonic() - t0
            # ru_maxrss is in KiB on Linux; it covers Lean, which `lake env` waits for.
            peak = usage.ru_maxrss * 1024 if usage is not None else None
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")[-4000:]
        common.update(wall_s=wall, peak_memory_bytes=peak, exit_code=proc.returncode, stderr_tail=stderr or None)
        if timed_out:
            return LeanRawResponse(status="timeout", error=f"Lean did not finish within {request.timeout_s:g} s; "
                                   "its process tree was killed", **common)
        messages, other = parse_lean_json(stdout)
        response = {"messages": messages, "returncode": proc.returncode}
        if proc.returncode in (0, 1) and (messages or proc.returncode == 0):
            return LeanRawResponse(status="ok", response=response, messages=messages,
                                   notes=[f"non-message output: {line[:200]}" for line in other[:5]], **common)
        cause = likely_cause(proc.returncode, stderr + "\n".join(other), self.memory_cap)
        error = f"Lean exited with code {proc.returncode} without a result" + (f"; likely cause: {cause}" if cause else "")
        return LeanRawResponse(status="crashed", response=response, messages=messages, error=error, **common)

    def close(self) -> None:
        pass

    def __enter__(self) -> "FileBackend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

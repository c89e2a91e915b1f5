"""One leanprover-community/repl process, owned: started in its own process group under a memory
cap, spoken to in the REPL's protocol, killed with its whole tree on timeout.

The REPL is started directly, never under ``lake env``: a command ``lake env REPL ...`` is run
as ``REPL ...`` in the environment ``lake env`` gives the project (read once per project), so
that the kernel's death signal (``PR_SET_PDEATHSIG``) and the memory cap reach the REPL itself.
Under ``lake env`` they reached only ``lake``; a REPL busy elaborating outlived a SIGKILLed
``prover`` for good.

The protocol: a request is one JSON object followed by a blank line; the REPL answers with one
JSON object (pretty-printed over several lines) followed by a blank line. A command without
``env`` starts a fresh environment (the only place ``import`` is allowed); its answer's ``env`` id
is passed with later commands to build on it. ``"gc": true`` asks REPLs that support it not to
keep the new environment (older REPLs ignore the field and answer with an ``env``).
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping, Sequence

from prover.core.errors import LeanError
from prover.core.lean_backend_records import MemoryCap
from prover.lean.limits import fmt_bytes, peak_rss, plan_memory_cap, preexec_for, tree_pids, verify_cap

TAIL = 4000


class ReplTimeout(LeanError):
    """The REPL did not answer within the time limit; its process tree was killed."""


class ReplCrashed(LeanError):
    """The REPL process ended (or closed its output) before answering."""

    def __init__(self, message: str, *, exit_code: int | None, stdout_tail: str, stderr_tail: str,
                 likely_cause: str | None):
        parts = [message]
        if likely_cause:
            parts.append(f"likely cause: {likely_cause}")
        if stderr_tail.strip():
            parts.append(f"stderr: {stderr_tail.strip()[-500:]}")
        super().__init__("; ".join(parts))
        self.exit_code, self.stdout_tail, self.stderr_tail = exit_code, stdout_tail, stderr_tail
        self.likely_cause = likely_cause


class ReplProtocolError(LeanError):
    """The REPL answered something that is not one JSON object."""


def likely_cause(exit_code: int | None, stderr: str, cap: MemoryCap | None) -> str | None:
    text = stderr.lower()
    capped = cap.applied_bytes if cap else None
    if "out of memory" in text or "std::bad_alloc" in text or "cannot allocate" in text:
        return f"out of memory (memory cap {fmt_bytes(capped)})"
    if "stack overflow" in text:
        return "stack overflow (deep recursion in elaboration)"
    if exit_code in (-signal.SIGKILL, 128 + signal.SIGKILL):
        return ("killed by SIGKILL: the kernel's out-of-memory killer, or someone else; "
                f"memory cap {fmt_bytes(capped)}")
    if exit_code in (-signal.SIGABRT, 128 + signal.SIGABRT) or "panic" in text:
        return "Lean aborted (internal panic)"
    if exit_code == 0:
        return "the REPL exited normally while a request was pending (its input was closed?)"
    if "unknown executable" in text or "no such file" in text or "not found" in text:
        return "the REPL executable is missing: run `prover lean setup`"
    return None


class ReplProcess:
    """One REPL process. ``send`` is not thread-safe: the pool hands a process to one caller at
    a time."""

    def __init__(self, command: Sequence[str], *, cwd: str | os.PathLike | None = None,
                 env: Mapping[str, str] | None = None, memory_cap_bytes: int | None = None):
        self.command = list(command)
        self.cwd = os.fspath(cwd) if cwd is not None else None
        self.env = dict(env) if env is not None else None
        self.memory_cap = plan_memory_cap(memory_cap_bytes)
        self.argv: list[str] = self.command
        """What is executed: ``command`` with a leading ``lake env`` resolved away."""
        self.launch_env: dict[str, str] | None = self.env
        self.proc: subprocess.Popen | None = None
        self._stderr = None
        self._buf = b""
        self._pids: list[int] = []
        self.uses = 0
        """Requests answered so far."""
        self.started_at: float | None = None
        self.dead_reason: str | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self.proc is not None:
            raise LeanError("REPL process already started")
        self.argv, self.launch_env = direct_launch(self.command, self.cwd, self.env)
        self._stderr = tempfile.TemporaryFile()
        self.proc = _spawner().submit(self._popen_capped).result()
        self.started_at = time.monotonic()
        self._pids = [self.proc.pid]
        if self.memory_cap.requested_bytes is not None:
            self.memory_cap = verify_cap(self.memory_cap, self.proc.pid)

    def _popen_capped(self) -> subprocess.Popen:
        try:
            return self._popen(preexec_for(self.memory_cap, die_with_parent=True))
        except subprocess.SubprocessError as exc:
            if self.memory_cap.applied_bytes is None:
                raise
            # setrlimit itself failed in the child: run uncapped and say so.
            self.memory_cap = MemoryCap(
                requested_bytes=self.memory_cap.requested_bytes, applied_bytes=None, applied=False,
                note=f"cap {fmt_bytes(self.memory_cap.requested_bytes)} not applied: setrlimit(RLIMIT_AS) "
                     f"failed in the child ({exc})")
            return self._popen(preexec_for(self.memory_cap, die_with_parent=True))

    def _popen(self, preexec) -> subprocess.Popen:
        try:
            return subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                cwd=self.cwd, env=self.launch_env, start_new_session=True, preexec_fn=preexec, bufsize=0)
        except FileNotFoundError as exc:
            raise LeanError(f"cannot start the REPL ({' '.join(self.argv)}): {exc.strerror}: "
                            f"{exc.filename}; run `prover lean doctor`") from exc

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.dead_reason is None

    def kill(self, reason: str = "killed") -> None:
        """Kill the whole process tree (a fake REPL may run under a shell)."""
        if self.proc is None:
            return
        self.dead_reason = self.dead_reason or reason
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        # Descendants that left the group (rare) go too.
        for pid in self._pids[1:]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._close_pipes()

    def close(self) -> None:
        """End the process: close its input (the REPL exits on EOF), then kill what is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill("closed")

    def _close_pipes(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        if self._stderr is not None:
            # Keep the tail for crash reports before the file goes.
            self._stderr_final = self._read_stderr_tail()
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> "ReplProcess":
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- diagnostics ------------------------------------------------------------------------

    def _read_stderr_tail(self) -> str:
        if self._stderr is None:
            return getattr(self, "_stderr_final", "")
        try:
            size = self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, size - TAIL))
            return self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def stderr_tail(self) -> str:
        return self._read_stderr_tail()

    def refresh_tree(self) -> None:
        """Remember the process tree (call once the REPL is up) for memory readings and kills."""
        if self.proc is not None and self.alive:
            self._pids = tree_pids(self.proc.pid)

    def peak_memory(self) -> int | None:
        return peak_rss(self._pids) if self._pids else None

    # -- protocol ---------------------------------------------------------------------------

    def send(self, request: Mapping[str, Any], timeout_s: float) -> dict[str, Any]:
        """Send one request and wait for its answer. On timeout the tree is killed and
        `ReplTimeout` raised; if the process dies first, `ReplCrashed`."""
        if self.proc is None:
            self.start()
        if not self.alive:
            raise self._crashed("the REPL process is not running")
        payload = (json.dumps(request, ensure_ascii=False) + "\n\n").encode("utf-8")
        deadline = time.monotonic() + timeout_s
        try:
            self.proc.stdin.write(payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._crashed("the REPL closed its input") from None
        text = self._read_response(deadline, timeout_s)
        self.uses += 1
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            self.kill("protocol error")
            raise ReplProtocolError(f"the REPL answered with invalid JSON ({exc}): {text[:300]!r}") from exc
        if not isinstance(value, dict):
            self.kill("protocol error")
            raise ReplProtocolError(f"the REPL answered with a JSON {type(value).__name__}, not an object")
        return value

    def _read_response(self, deadline: float, timeout_s: float) -> str:
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                self._buf = self._buf.lstrip(b"\r\n ")
                end = self._buf.find(b"\n\n")
                if end < 0:
                    end_crlf = self._buf.find(b"\r\n\r\n")
                    end = end_crlf
                if end >= 0:
                    text, self._buf = self._buf[:end], self._buf[end:].lstrip(b"\r\n")
                    return text.decode("utf-8", "replace")
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.kill("timeout")
                    raise ReplTimeout(f"no answer from the REPL within {timeout_s:g} s; its process tree was killed")
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise self._crashed("the REPL ended before answering")
                self._buf += chunk

    def _crashed(self, message: str) -> ReplCrashed:
        code = None
        if self.proc is not None:
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        partial = self._buf.decode("utf-8", "replace")[-TAIL:]
        stderr = self._read_stderr_tail()
        self.kill("crashed")
        if code is not None:
            message += f" (exit code {code})"
        return ReplCrashed(message, exit_code=code, stdout_tail=partial, stderr_tail=stderr,
                           likely_cause=likely_cause(code, stderr, self.memory_cap))


def default_repl_command(project_dir: str | os.PathLike, repl_binary: str | os.PathLike,
                         lake: str = "lake") -> list[str]:
    """``lake env REPL`` run in the project, so that the REPL finds Mathlib's .olean files
    (`ReplProcess` starts it as ``REPL`` in that environment: see `direct_launch`)."""
    return [lake, "env", os.fspath(Path(repl_binary))]


def direct_launch(command: Sequence[str], cwd: str | None,
                  env: Mapping[str, str] | None) -> tuple[list[str], dict[str, str] | None]:
    """The argv and environment that start ``command``: ``lake env PROGRAM ARGS...`` becomes
    ``PROGRAM ARGS...`` in `lake_environment`; any other command (``$PROVER_LEAN_REPL``, a fake
    REPL) is started as it is."""
    command = list(command)
    if len(command) >= 3 and Path(command[0]).name == "lake" and command[1] == "env":
        return command[2:], lake_environment(cwd or ".", lake=command[0], base_env=env)
    return command, dict(env) if env is not None else None


_DUMP_ENV = "import os, sys; sys.stdout.buffer.write(b'\\0'.join(k + b'=' + v for k, v in os.environb.items()))"
"""Prints the environment NUL-separated (values may hold newlines); Python is the one program
sure to be here."""

_lake_envs: dict[tuple, dict[str, str]] = {}
_lake_envs_lock = threading.Lock()


def lake_environment(project_dir: str | os.PathLike, *, lake: str = "lake",
                     base_env: Mapping[str, str] | None = None, timeout_s: float = 300.0) -> dict[str, str]:
    """The environment ``lake env`` gives a program in ``project_dir`` (LEAN_PATH, the
    toolchain's PATH and library path...), on top of ``base_env`` (default: this process's).
    Read once per project, lake and base environment: each read starts ``lake``."""
    base = dict(os.environ if base_env is None else base_env)
    key = (lake, os.path.realpath(project_dir), tuple(sorted(base.items())))
    with _lake_envs_lock:  # held while lake runs, so that a pool starting up reads it once
        if key not in _lake_envs:
            _lake_envs[key] = _read_lake_environment(project_dir, lake, base, timeout_s)
        return dict(_lake_envs[key])


def _read_lake_environment(project_dir, lake: str, base: dict[str, str], timeout_s: float) -> dict[str, str]:
    command = [lake, "env", sys.executable, "-S", "-c", _DUMP_ENV]
    try:
        done = subprocess.run(command, cwd=project_dir, env=base, capture_output=True, timeout=timeout_s)
    except FileNotFoundError as exc:
        raise LeanError(f"cannot read the project's environment: {exc.strerror}: {exc.filename}; "
                        f"run `prover lean doctor`") from exc
    except subprocess.TimeoutExpired as exc:
        raise LeanError(f"`{lake} env` did not finish within {timeout_s:g} s in {project_dir}") from exc
    if done.returncode != 0:
        raise LeanError(f"`{lake} env` failed in {project_dir} (exit code {done.returncode}): "
                        f"{done.stderr.decode('utf-8', 'replace').strip()[-500:]}; run `prover lean doctor`")
    env = {}
    for item in done.stdout.split(b"\0"):
        name, sep, value = item.partition(b"=")
        if sep:
            env[os.fsdecode(name)] = os.fsdecode(value)
    if not env:
        raise LeanError(f"`{lake} env` in {project_dir} printed no environment")
    return env


_spawn_executor: tuple[int, ThreadPoolExecutor] | None = None
_spawn_lock = threading.Lock()


def _spawner() -> ThreadPoolExecutor:
    """One long-lived thread that starts every REPL. The kernel sends the death signal when the
    *thread* that forked the child ends, not the process: a REPL started from a short-lived
    worker thread would die with that thread. Made anew in a forked child, which has no threads."""
    global _spawn_executor
    with _spawn_lock:
        if _spawn_executor is None or _spawn_executor[0] != os.getpid():
            _spawn_executor = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="repl-spawn"))
        return _spawn_executor[1]

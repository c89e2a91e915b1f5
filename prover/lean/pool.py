"""A pool of REPL processes keyed by the import lines of the files they check.

Importing Mathlib costs seconds to minutes; elaborating one proof costs much less. So each
process imports one header once (env 0) and then checks many files that share those imports,
each sent as ``{"cmd": REST_OF_FILE, "env": 0}`` — the rest of the preamble (opens, options,
definitions) travels with every request, so requests cannot leak into one another. A caller gets
an idle process holding its header if there is one, else a new process while the pool is below
its size, else the idle process of another header is replaced, else it waits.

Every process has a per-request timeout (kill the tree, start afresh), a memory cap (RLIMIT_AS;
reported when it cannot be applied), is recycled after ``max_uses`` checks, and is replaced when
it crashes. Thread-safe: callers are threads (``acheck`` wraps ``check`` for asyncio).
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from prover.core.errors import LeanError
from prover.core.lean_backend_records import LeanRawResponse, LeanRunRequest, MemoryCap, PoolSizing
from prover.lean.header import SplitFile, split_imports
from prover.lean.limits import DEFAULT_CAP_BYTES, plan_memory_cap, pool_sizing
from prover.lean.repl import ReplCrashed, ReplProcess, ReplProtocolError, ReplTimeout


@dataclass
class PoolConfig:
    command: Sequence[str]
    """The REPL command line (``lake env .../repl``, or a fake REPL in tests)."""
    cwd: str | None = None
    env: dict[str, str] | None = None
    memory_cap_bytes: int | None = DEFAULT_CAP_BYTES
    max_processes: int | None = None
    """None: min(cores, available memory / cap)."""
    max_uses: int = 200
    """Recycle a process after this many checks (Lean's memory only grows)."""
    import_timeout_s: float = 900.0
    """For the header import (``import Mathlib`` takes minutes on a cold disk)."""
    gc: bool = True
    """Send ``"gc": true`` so that REPLs that support it drop each check's environment."""


@dataclass
class PoolStats:
    started: int = 0
    header_imports: int = 0
    checks: int = 0
    reused: int = 0
    """Checks served by a process that already held the header."""
    evicted: int = 0
    recycled: int = 0
    timeouts: int = 0
    crashes: int = 0
    protocol_errors: int = 0
    header_failures: int = 0
    crash_retries: int = 0
    """Checks sent again on a fresh process after their process crashed."""
    gc_supported: bool | None = None
    by_header: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "by_header"}
        d["by_header"] = {" ".join(k) or "(no imports)": v for k, v in self.by_header.items()}
        return d


_KILLED = (-signal.SIGKILL, 128 + signal.SIGKILL)
"""Exit codes of a process killed by SIGKILL (as Popen reports it, or through a shell)."""


class _Worker:
    """A process and the header environment it holds."""

    def __init__(self, key: tuple[str, ...], proc: ReplProcess):
        self.key, self.proc = key, proc
        self.env_id: int | None = None
        self.header_s: float | None = None
        self.checks = 0


class HeaderFailed(LeanError):
    """The header itself does not elaborate (unknown import...)."""

    def __init__(self, response: dict[str, Any]):
        super().__init__("the import header does not elaborate")
        self.response = response


class ReplPool:
    """See the module docstring. Use as a context manager, or call ``close()``."""

    name = "repl"

    def __init__(self, config: PoolConfig):
        self.config = config
        self.sizing: PoolSizing = pool_sizing(config.memory_cap_bytes, max_processes=config.max_processes)
        self.size = self.sizing.processes
        self.stats = PoolStats()
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy = 0
        self._holding: Counter = Counter()
        """Busy processes (or processes being started) per header."""
        self._waiting: Counter = Counter()
        """Callers in ``_acquire`` per header."""
        self._mean_check_s: float | None = None
        self._mean_import_s: float | None = None
        self._failed_headers: dict[tuple[str, ...], dict[str, Any]] = {}
        """Headers whose import Lean rejected: deterministic, so not tried again."""
        self._closed = False
        self.last_memory_cap: MemoryCap = plan_memory_cap(config.memory_cap_bytes)

    # -- acquiring and releasing ------------------------------------------------------------

    def _acquire(self, key: tuple[str, ...]) -> _Worker | None:
        """An idle worker for ``key`` (preferred), or None when the caller should start one.

        When the pool is full and every process holding ``key`` is busy, the caller waits for one
        of them if that is expected to be quicker than importing the header afresh (the mean
        check time times the queue ahead, per holder, against the mean import time); otherwise
        the least recently used idle process of another header is replaced."""
        victim = None
        with self._lock:
            self._waiting[key] += 1
            try:
                while True:
                    if self._closed:
                        raise LeanError("the REPL pool is closed")
                    for i in range(len(self._idle) - 1, -1, -1):
                        if self._idle[i].key == key:
                            self._take(key)
                            return self._idle.pop(i)
                    if self._busy + len(self._idle) < self.size:
                        self._take(key)
                        return None
                    if self._idle and not self._worth_waiting(key):
                        victim = self._idle.pop(0)
                        self.stats.evicted += 1
                        self._take(key)
                        break
                    self._lock.wait()
            finally:
                self._waiting[key] -= 1
        victim.proc.close()
        return None

    def _take(self, key: tuple[str, ...]) -> None:
        self._busy += 1
        self._holding[key] += 1

    def _worth_waiting(self, key: tuple[str, ...]) -> bool:
        holders = self._holding[key]
        if holders == 0:
            return False
        if self._mean_check_s is None or self._mean_import_s is None:
            return True
        return self._mean_check_s * self._waiting[key] / holders < self._mean_import_s

    def _observe(self, attr: str, seconds: float) -> None:
        old = getattr(self, attr)
        setattr(self, attr, seconds if old is None else 0.8 * old + 0.2 * seconds)

    def _release(self, key: tuple[str, ...], worker: _Worker | None) -> None:
        with self._lock:
            self._busy -= 1
            self._holding[key] -= 1
            if worker is not None and not self._closed:
                self._idle.append(worker)
            self._lock.notify_all()
        if worker is not None and self._closed:
            worker.proc.close()

    def _spawn(self, key: tuple[str, ...], split: SplitFile) -> _Worker:
        c = self.config
        proc = ReplProcess(c.command, cwd=c.cwd, env=c.env, memory_cap_bytes=c.memory_cap_bytes)
        proc.start()
        self.last_memory_cap = proc.memory_cap
        with self._lock:
            self.stats.started += 1
        worker = _Worker(key, proc)
        if split.imports or split.prelude:
            t0 = time.monotonic()
            resp = proc.send({"cmd": split.import_command}, c.import_timeout_s)
            worker.header_s = time.monotonic() - t0
            with self._lock:
                self.stats.header_imports += 1
                self._observe("_mean_import_s", worker.header_s)
            if "env" not in resp or any(m.get("severity") == "error" for m in resp.get("messages", [])):
                proc.close()
                raise HeaderFailed(resp)
            worker.env_id = resp["env"]
        proc.refresh_tree()
        return worker

    # -- checking ---------------------------------------------------------------------------

    def check(self, request: LeanRunRequest | str, timeout_s: float | None = None) -> LeanRawResponse:
        """Check one whole Lean file (imports included) in command mode. A check whose process
        was killed by SIGKILL is sent once more on a fresh process: a kill from outside (the
        kernel's OOM killer, an operator) says nothing about the file, and a crash is not cached,
        so without the retry one stray kill would change an attempt's outcome for good. Lean's
        own panics (out of memory under the cap...) are the file's doing and are not retried."""
        if isinstance(request, str):
            request = LeanRunRequest(code=request, **({"timeout_s": timeout_s} if timeout_s else {}))
        result = self._check_once(request)
        if result.status == "crashed" and result.exit_code in _KILLED and not self._closed:
            with self._lock:
                self.stats.crash_retries += 1
            result = self._check_once(request)
        return result

    def _check_once(self, request: LeanRunRequest) -> LeanRawResponse:
        split = split_imports(request.code)
        key = split.key
        t0 = time.monotonic()
        failed = self._failed_headers.get(key)
        if failed is not None:
            return self._raw("ok", t0, response=failed, notes=["the import header failed to elaborate (earlier)"])
        worker = self._acquire(key)
        keep = None
        header_s = None
        try:
            if worker is None:
                try:
                    worker = self._spawn(key, split)
                except HeaderFailed as exc:
                    with self._lock:
                        self.stats.header_failures += 1
                        self._failed_headers[key] = exc.response
                    return self._raw("ok", t0, response=exc.response, notes=["the import header failed to elaborate"])
                except ReplTimeout as exc:
                    with self._lock:
                        self.stats.timeouts += 1
                    return self._raw("timeout", t0, error=f"header import: {exc}")
                except ReplCrashed as exc:
                    with self._lock:
                        self.stats.crashes += 1
                    return self._raw("crashed", t0, error=f"header import: {exc}", exit_code=exc.exit_code,
                                     stderr_tail=exc.stderr_tail)
                except (LeanError, ReplProtocolError) as exc:
                    return self._raw("unavailable", t0, error=str(exc))
                header_s = worker.header_s
            else:
                with self._lock:
                    self.stats.reused += 1
            keep, result = self._run(worker, split, request, t0, header_s)
            return result
        finally:
            if keep is None and worker is not None:
                worker.proc.kill("discarded")
            self._release(key, keep)

    def _run(self, worker: _Worker, split: SplitFile, request: LeanRunRequest, t0: float,
             header_s: float | None) -> tuple[_Worker | None, LeanRawResponse]:
        proc = worker.proc
        payload: dict[str, Any] = {"cmd": split.body if worker.env_id is not None else request.code}
        if worker.env_id is not None:
            payload["env"] = worker.env_id
        if self.config.gc:
            payload["gc"] = True
        uses = worker.checks
        common = dict(memory_cap=proc.memory_cap, process_uses=uses, header_import_s=header_s)
        t_send = time.monotonic()
        try:
            resp = proc.send(payload, request.timeout_s)
        except ReplTimeout as exc:
            with self._lock:
                self.stats.timeouts += 1
            return None, self._raw("timeout", t0, error=str(exc), **common)
        except ReplCrashed as exc:
            with self._lock:
                self.stats.crashes += 1
            return None, self._raw("crashed", t0, error=str(exc), exit_code=exc.exit_code,
                                   stderr_tail=exc.stderr_tail, **common)
        except ReplProtocolError as exc:
            with self._lock:
                self.stats.protocol_errors += 1
            return None, self._raw("error", t0, error=str(exc), **common)
        worker.checks += 1
        with self._lock:
            self._observe("_mean_check_s", time.monotonic() - t_send)
            self.stats.checks += 1
            self.stats.by_header[worker.key] += 1
            if self.config.gc and worker.env_id is not None and self.stats.gc_supported is None:
                self.stats.gc_supported = "env" not in resp
        peak = proc.peak_memory()
        if "message" in resp and "env" not in resp and "messages" not in resp:
            # A REPL-level error ({"message": "Unknown environment."}...): the process is suspect.
            return None, self._raw("error", t0, response=resp, error=str(resp["message"]),
                                   peak_memory_bytes=peak, **common)
        result = self._raw("ok", t0, response=resp, peak_memory_bytes=peak, **common)
        if worker.checks >= self.config.max_uses:
            with self._lock:
                self.stats.recycled += 1
            return None, result
        return worker, result

    def _raw(self, status: str, t0: float, *, response: dict | None = None, **kw) -> LeanRawResponse:
        kw.setdefault("memory_cap", self.last_memory_cap)
        return LeanRawResponse(
            backend=self.name, status=status, response=response,
            messages=list((response or {}).get("messages") or []),
            sorries=list((response or {}).get("sorries") or []),
            wall_s=time.monotonic() - t0, **kw)

    async def acheck(self, request: LeanRunRequest | str) -> LeanRawResponse:
        return await asyncio.to_thread(self.check, request)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._lock.notify_all()
        for w in idle:
            w.proc.close()

    def __enter__(self) -> "ReplPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def processes(self) -> list[dict[str, Any]]:
        """The idle processes: pid, header, checks served (for reports and tests)."""
        with self._lock:
            return [{"pid": w.proc.pid, "header": list(w.key), "checks": w.checks} for w in self._idle]

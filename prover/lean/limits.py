"""Memory caps, memory readings and pool sizing for Lean processes (Linux ``/proc`` where there
is one; elsewhere the readings are None and the report says so)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Callable

from prover.core.lean_backend_records import GiB, MemoryCap, PoolSizing

DEFAULT_CAP_BYTES = 8 * GiB

try:
    import resource
except ImportError:  # not on POSIX
    resource = None  # type: ignore[assignment]


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "unlimited"
    if n >= GiB:
        return f"{n / GiB:.1f} GiB".replace(".0 GiB", " GiB")
    return f"{n / 1024**2:.0f} MiB"


def plan_memory_cap(cap_bytes: int | None) -> MemoryCap:
    """The RLIMIT_AS a child started now would run under. The hard limit of this process is
    the operator's ceiling and is never raised: a larger cap is lowered to it, and reported."""
    if cap_bytes is None:
        return MemoryCap(requested_bytes=None, applied_bytes=None, applied=True, note="no memory cap requested")
    if resource is None or not hasattr(resource, "RLIMIT_AS"):
        return MemoryCap(requested_bytes=cap_bytes, applied_bytes=None, applied=False,
                         note="cannot cap memory here: the resource module has no RLIMIT_AS on this platform")
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY and hard < cap_bytes:
        return MemoryCap(requested_bytes=cap_bytes, applied_bytes=hard, applied=False,
                         note=f"cap {fmt_bytes(cap_bytes)} not applied: this process's hard RLIMIT_AS is "
                              f"{fmt_bytes(hard)}, so Lean runs under {fmt_bytes(hard)}")
    return MemoryCap(requested_bytes=cap_bytes, applied_bytes=cap_bytes, applied=True)


def preexec_for(plan: MemoryCap, *, die_with_parent: bool = False) -> Callable[[], None] | None:
    """A ``preexec_fn`` setting the planned limit in the child (soft = hard, so the child cannot
    raise it again) and, with ``die_with_parent``, asking the kernel to SIGKILL the child when its
    parent dies (Linux; elsewhere nothing)."""
    limit = plan.applied_bytes if resource is not None else None
    deathsig = deathsig_setter() if die_with_parent else None
    if limit is None and deathsig is None:
        return None

    def _apply() -> None:
        if deathsig is not None:
            deathsig()
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return _apply


_PR_SET_PDEATHSIG = 1


def deathsig_setter() -> Callable[[], None] | None:
    """What the child runs to die with its parent: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, then a
    check that the parent did not die before the request took effect. libc is loaded here, in
    the parent, so that the forked child does no more than call it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - best effort outside glibc
        return None
    parent = os.getpid()

    def _set() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(128 + signal.SIGKILL)

    return _set


def process_address_limit(pid: int) -> int | None | str:
    """The RLIMIT_AS of a running process from ``/proc/PID/limits``: bytes, None for unlimited,
    ``"unknown"`` where it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/limits").read_text()
    except OSError:
        return "unknown"
    for line in text.splitlines():
        if line.startswith("Max address space"):
            soft = line.split()[3]
            return None if soft == "unlimited" else int(soft)
    return "unknown"


def verify_cap(plan: MemoryCap, pid: int) -> MemoryCap:
    """Compare the plan with what the kernel reports for the started process."""
    seen = process_address_limit(pid)
    if seen == "unknown" or seen == plan.applied_bytes:
        return plan
    return MemoryCap(requested_bytes=plan.requested_bytes, applied_bytes=seen, applied=False,
                     note=f"cap {fmt_bytes(plan.requested_bytes)} not applied: the process runs under "
                          f"RLIMIT_AS {fmt_bytes(seen)}")


def available_memory() -> int | None:
    """MemAvailable in bytes (Linux), else None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def pool_sizing(cap_bytes: int | None = DEFAULT_CAP_BYTES, *, cores: int | None = None,
                available_bytes: int | None = -1, max_processes: int | None = None) -> PoolSizing:
    """Process count = min(cores, available memory / cap), at least 1; ``max_processes``
    overrides both when given."""
    cores = cpu_count() if cores is None else cores
    available = available_memory() if available_bytes == -1 else available_bytes
    if max_processes is not None:
        return PoolSizing(cores=cores, available_bytes=available, cap_bytes=cap_bytes,
                          processes=max(1, max_processes), reason="set explicitly")
    if cap_bytes is None or available is None:
        why = "no memory cap" if cap_bytes is None else "available memory unknown"
        return PoolSizing(cores=cores, available_bytes=available, cap_bytes=cap_bytes,
                          processes=max(1, cores), reason=f"cores ({why})")
    by_memory = available // cap_bytes
    if by_memory < cores:
        n = max(1, by_memory)
        reason = (f"memory: {fmt_bytes(available)} available / {fmt_bytes(cap_bytes)} per process"
                  + (" (at least one)" if by_memory < 1 else ""))
    else:
        n, reason = cores, f"cores ({fmt_bytes(available)} available allows {by_memory})"
    return PoolSizing(cores=cores, available_bytes=available, cap_bytes=cap_bytes, processes=n, reason=reason)


def _children(pid: int) -> list[int] | None:
    """Children from /proc/PID/task/*/children; None where the kernel does not offer it."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out.extend(int(c) for c in (task / "children").read_text().split())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        pass
    return out


def _parents() -> dict[int, list[int]]:
    """ppid → children, from one scan of /proc (a few ms: callers cache the result)."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux), else just ``pid``."""
    if not Path("/proc").is_dir():
        return [pid]
    table: dict[int, list[int]] | None = None
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        kids = _children(p)
        if kids is None:
            table = _parents() if table is None else table
            kids = table.get(p, [])
        todo.extend(kids)
    return seen


def peak_rss(pids: list[int]) -> int | None:
    """The largest peak resident size (VmHWM) among ``pids``: the REPL itself when it runs
    under ``lake env``. None where /proc cannot tell."""
    best = None
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    kb = int(line.split()[1]) * 1024
                    best = kb if best is None else max(best, kb)
        except (OSError, ValueError, IndexError):
            continue
    return best


def probe_memory_cap(cap_bytes: int | None) -> MemoryCap:
    """Start a trivial child under the planned cap and read back what the kernel applied: what
    `prover lean doctor` reports before any REPL runs."""
    import subprocess
    import sys

    plan = plan_memory_cap(cap_bytes)
    if cap_bytes is None or plan.applied_bytes is None:
        return plan
    try:
        child = subprocess.Popen([sys.executable, "-S", "-c", "import sys; sys.stdin.read()"],
                                 stdin=subprocess.PIPE, preexec_fn=preexec_for(plan))
    except (OSError, subprocess.SubprocessError) as exc:
        return MemoryCap(requested_bytes=cap_bytes, applied_bytes=None, applied=False,
                         note=f"cap {fmt_bytes(cap_bytes)} not applied: setrlimit(RLIMIT_AS) failed ({exc})")
    try:
        return verify_cap(plan, child.pid)
    finally:
        child.kill()
        child.wait()

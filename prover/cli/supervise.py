"""The ``prover`` console script: runs the command in a child process and reports how it died.

A crash in native code (an in-process model engine: llama.cpp, vLLM, torch) kills the process that
runs it before Python can say anything; the shell shows "Segmentation fault" and nothing else. So
the console script is a small parent that starts ``python -m prover.cli.main`` with the same
arguments, waits, and — when the child dies by a signal — prints which engine was at work (from
the child's crash note, :mod:`prover.llm.crash_note`) and what to do about it. The run row the child
left ``running`` is marked ``interrupted`` by the next command that opens the database.

Signals: Ctrl-C reaches the child from the terminal (same process group), so the parent ignores
SIGINT; SIGTERM, SIGHUP and SIGQUIT sent to the parent are passed on. The child asks the kernel to
kill it when the parent dies (``PR_SET_PDEATHSIG``), so a SIGKILL of the ``prover`` process never
leaves an orphan writing to the database. ``PROVER_SUPERVISED=0`` runs the command in-process
(for debuggers and core dumps)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

SUPERVISED_ENV = "PROVER_SUPERVISED"
PARENT_ENV = "PROVER_SUPERVISOR_PID"

CRASH_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}
_FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def main() -> None:
    if os.environ.get(SUPERVISED_ENV) in ("0", "1"):  # asked not to, or already the child
        from prover.cli.main import main as run_command

        run_command()
        return
    sys.exit(supervise([sys.executable, "-m", "prover.cli.main", *sys.argv[1:]]))


def supervise(command: list[str]) -> int:
    """Run ``command`` as the supervised child; its exit code, or 128 + the signal that killed it
    (as a shell reports it), after saying why on stderr."""
    from prover.llm.crash_note import CRASH_NOTE_ENV

    with tempfile.TemporaryDirectory(prefix="prover-") as tmp:
        note = os.path.join(tmp, "native-work")
        env = dict(os.environ, **{SUPERVISED_ENV: "1", PARENT_ENV: str(os.getpid()), CRASH_NOTE_ENV: note})
        child = subprocess.Popen(command, env=env)
        previous = {sig: signal.signal(sig, lambda s, _f: _pass_on(child, s)) for sig in _FORWARDED}
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, lambda s, _f: None)
        try:
            code = _wait(child)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if code >= 0:
            return code
        report_death(-code, note)
        return 128 - code


def _wait(child: subprocess.Popen) -> int:
    while True:
        try:
            return child.wait()
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue


def _pass_on(child: subprocess.Popen, sig: int) -> None:
    if child.poll() is None:
        child.send_signal(sig)


def report_death(sig: int, note_path: str) -> None:
    """Say on stderr that the command died by ``sig``, what native work it was doing and what to
    try."""
    from prover.llm.crash_note import HINTS, read_note

    name = signal.Signals(sig).name
    note = read_note(note_path)
    lines = []
    if sig in CRASH_SIGNALS:
        where = f" in the {note[0]} backend ({note[1]})" if note else ""
        lines.append(f"Error: prover crashed with {name}{where}.")
        if note and note[0] in HINTS:
            lines.append(f"Hint: {HINTS[note[0]]}")
    elif sig == signal.SIGKILL:
        lines.append("Error: prover was killed (SIGKILL) — by hand, or by the kernel when memory ran out "
                     "(see dmesg).")
    else:
        lines.append(f"Error: prover ended by signal {name}.")
    lines.append("Its run is marked interrupted; the same command continues where it stopped.")
    print("\n".join(lines), file=sys.stderr, flush=True)


def arm_child() -> None:
    """In the supervised child: die with the parent, and print Python stacks on a fatal signal
    (faulthandler) so that the crash report shows where native code was entered."""
    parent = os.environ.get(PARENT_ENV)
    if os.environ.get(SUPERVISED_ENV) != "1" or not parent:
        return
    import faulthandler

    faulthandler.enable()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - best effort outside glibc
            pass
    if str(os.getppid()) != parent:  # the parent died before the request took effect
        os._exit(128 + signal.SIGKILL)

"""The console script runs each command in a child it watches: a native crash becomes an error
with a hint, a kill leaves the run ``interrupted``. The children here are real processes that
really die by the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sqlalchemy import create_engine, text

from prover.cli.supervise import supervise
from prover.core.paths import PACKAGE_DATA, sample_problems


def _zombie(pid: int) -> bool:
    """Dead: gone, or a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def child(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_a_segfault_in_native_code_is_reported_with_the_engine_and_a_hint(capfd):
    code = supervise(child("""
        import ctypes
        from prover.llm.crash_note import note_native_work
        note_native_work("local", "generating with gemma-3-270m.gguf")
        ctypes.string_at(0)  # a real SIGSEGV, as llama.cpp's decode gives on AMX CPUs
    """))
    err = capfd.readouterr().err
    assert code == 128 + signal.SIGSEGV
    assert "prover crashed with SIGSEGV in the local backend (generating with gemma-3-270m.gguf)" in err
    assert "use_extra_bufts" in err and "--base-url" in err
    assert "marked interrupted" in err


def test_a_crash_outside_any_engine_says_so_without_a_hint(capfd):
    code = supervise(child("import ctypes; ctypes.string_at(0)"))
    err = capfd.readouterr().err
    assert code == 128 + signal.SIGSEGV
    assert "prover crashed with SIGSEGV." in err and "Hint" not in err


def test_exit_codes_pass_through_unchanged(capfd):
    assert supervise(child("import sys; sys.exit(3)")) == 3
    assert supervise(child("pass")) == 0
    assert capfd.readouterr().err == ""


def supervised(tmp_path, child_code: str) -> subprocess.Popen:
    """A supervisor process (as the console script is) over a child running ``child_code``."""
    child_file = tmp_path / "child.py"
    child_file.write_text(textwrap.dedent(child_code))
    return subprocess.Popen([sys.executable, "-c", "import sys; from prover.cli.supervise import supervise; "
                             f"sys.exit(supervise([sys.executable, {str(child_file)!r}]))"])


def wait_for(path, proc: subprocess.Popen) -> str:
    deadline = time.monotonic() + 60
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    return path.read_text()


def test_sigterm_to_the_supervisor_reaches_the_child(tmp_path):
    """The parent passes SIGTERM on; the child's own handler runs and its exit code comes back."""
    ready = tmp_path / "ready"
    proc = supervised(tmp_path, f"""
        import pathlib, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(42))
        pathlib.Path({str(ready)!r}).write_text("x")
        time.sleep(60)
    """)
    wait_for(ready, proc)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 42


def test_the_child_dies_with_its_supervisor(tmp_path):
    """SIGKILL of the ``prover`` process must not leave the command running as an orphan."""
    pid_file = tmp_path / "child.pid"
    proc = supervised(tmp_path, f"""
        import os, pathlib, time
        from prover.cli.supervise import arm_child
        arm_child()
        pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
        time.sleep(60)
    """)
    child_pid = int(wait_for(pid_file, proc))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while not _zombie(child_pid):  # dead (a zombie until init reaps it) or gone
        assert time.monotonic() < deadline, "the child outlived its supervisor"
        time.sleep(0.05)


@pytest.mark.parametrize("env_value", ["1", "0"])
def test_the_console_script_runs_in_process_when_told(env_value, tmp_path):
    """PROVER_SUPERVISED=0 (debugging) or =1 (already the child) runs the command right here."""
    out = subprocess.run([sys.executable, "-c", "from prover.cli import main; main()", "--version"],
                         env=dict(os.environ, PROVER_SUPERVISED=env_value), capture_output=True, text=True)
    assert out.returncode == 0 and "prover" in out.stdout


def test_the_console_script_runs_the_command_in_a_child(tmp_path):
    """The run row names the process that ran it: a child of the console script's process."""
    db = tmp_path / "x.db"
    launcher = "import os, sys; print(os.getpid(), flush=True); from prover.cli import main; main()"
    env = {k: v for k, v in os.environ.items() if k not in ("PROVER_SUPERVISED", "PROVER_CONFIG")}
    env["PROVER_SCRIPT"] = str(PACKAGE_DATA / "demo_script.jsonl")
    out = subprocess.run([sys.executable, "-c", launcher, "run", str(sample_problems()), "--backend", "scripted",
                          "--db", str(db)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    launcher_pid = int(out.stdout.split()[0])
    with create_engine(f"sqlite:///{db}").connect() as conn:
        host, pid, status = conn.execute(text("select host, pid, status from runs order by id desc")).first()
    assert status == "completed" and host and pid != launcher_pid

"""How a REPL process is launched: directly (never under ``lake env``) in the environment
``lake env`` gives the project, under the memory cap, and with the kernel's death signal so that
a SIGKILLed ``prover`` leaves no REPL behind. The fake REPL and a fake ``lake`` are test doubles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from prover.core.errors import LeanError
from prover.core.lean_backend_records import GiB
from prover.lean.repl import ReplProcess, lake_environment

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
FAKE_REPL = Path(__file__).resolve().parent / "fake_repl.py"
FAKE_LEAN_PATH = "/nonexistent/fake-project/.lake/build/lib/lean"


def write_executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_lake(tmp_path) -> Path:
    """A ``lake`` that does what ``lake env PROGRAM ARGS`` does (adds LEAN_PATH, then runs the
    program) and logs each call."""
    (tmp_path / "bin").mkdir()
    return write_executable(tmp_path / "bin" / "lake", f"""#!/bin/sh
[ "$1" = env ] || {{ echo "fake lake: only 'env' is known" >&2; exit 2; }}
shift
echo "$*" >> {tmp_path / "lake.log"}
LEAN_PATH={FAKE_LEAN_PATH}
export LEAN_PATH
exec "$@"
""")


@pytest.fixture
def repl_binary(fake) -> Path:
    """The "REPL binary": the fake REPL behind an ``exec``, so that its pid is the one started."""
    return write_executable(fake.dir / "repl", f"""#!/bin/sh
exec {sys.executable} -S {FAKE_REPL} {fake.table_path} "$@"
""")


def proc_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


def test_lake_env_command_starts_the_repl_itself_in_lakes_environment(fake, fake_lake, repl_binary, tmp_path):
    fake.write({"rules": [{"match": {"any": True}, "action": "memory"}]})
    command = [str(fake_lake), "env", str(repl_binary)]
    for _ in range(2):
        with ReplProcess(command, cwd=tmp_path, memory_cap_bytes=4 * GiB) as repl:
            assert repl.argv == [str(repl_binary)]
            resp = repl.send({"cmd": "report"}, 10)
            # The process answering is the REPL, a child of this process: no lake in between.
            assert resp["pid"] == repl.pid
            assert int(Path(f"/proc/{repl.pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
            assert proc_environ(repl.pid)["LEAN_PATH"] == FAKE_LEAN_PATH
            # The cap now applies to the REPL itself.
            assert resp["rlimit_as"] == [4 * GiB, 4 * GiB]
    # lake ran once, to read the environment (not once per process, and never to start a REPL).
    calls = (tmp_path / "lake.log").read_text().splitlines()
    assert len(calls) == 1 and str(repl_binary) not in calls[0]


def test_lake_environment_keeps_the_base_environment_and_adds_lakes(fake_lake, tmp_path):
    env = lake_environment(tmp_path, lake=str(fake_lake), base_env={"PATH": os.environ["PATH"], "X": "a\nb"})
    assert env["LEAN_PATH"] == FAKE_LEAN_PATH
    assert env["X"] == "a\nb"


def test_failing_lake_env_is_a_lean_error(tmp_path):
    lake = write_executable(tmp_path / "lake", "#!/bin/sh\necho 'error: no lakefile found' >&2\nexit 1\n")
    repl = ReplProcess([str(lake), "env", "/nonexistent/repl"], cwd=tmp_path, memory_cap_bytes=None)
    with pytest.raises(LeanError, match="no lakefile found"):
        repl.start()


def test_repl_started_from_a_thread_that_ends_stays_alive(fake):
    """The death signal fires when the *thread* that forked the REPL ends: REPLs must be forked
    by a thread that lives as long as the process, not by the pool's caller."""
    fake.write({"default": {}})
    repl = ReplProcess(fake.command, env=fake.env, memory_cap_bytes=None)
    t = threading.Thread(target=repl.start)
    t.start()
    t.join()
    try:
        assert repl.send({"cmd": "theorem t : True := trivial"}, 10)["env"] == 0
        assert repl.alive
    finally:
        repl.close()


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.mark.parametrize("through_lake", [False, True], ids=["direct-command", "lake-env"])
def test_sigkilled_owner_leaves_no_repl_behind(fake, fake_lake, repl_binary, tmp_path, through_lake):
    """A process whose pool has a REPL busy importing (the fake sleeps 10 minutes: a hung Lean)
    is SIGKILLed; the REPL must go with it."""
    fake.write({"default": {}, "cost": {"import_s": 600, "scale": 1}})
    command = [str(fake_lake), "env", str(repl_binary)] if through_lake else fake.command
    script = textwrap.dedent(f"""
        import threading, time
        from prover.lean.pool import PoolConfig, ReplPool
        pool = ReplPool(PoolConfig(command={command!r}, cwd={str(tmp_path)!r}, env={fake.env!r},
                                   memory_cap_bytes=2 * 1024**3, max_processes=1))
        threading.Thread(target=pool.check, args=("import Mathlib\\ntheorem t : True := trivial",),
                         daemon=True).start()
        time.sleep(600)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(ROOT)})
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not pids and time.monotonic() < deadline and owner.poll() is None:
            pids = [e["pid"] for e in fake.requests()]
            time.sleep(0.05)
        assert pids, "the REPL never received the import"
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        deadline = time.monotonic() + 30  # generous: the kernel signals at once
        while not _gone(pids[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(pids[0]), f"REPL {pids[0]} outlived its SIGKILLed owner"
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

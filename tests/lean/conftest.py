"""Fixtures of the Lean-process tests: the fake REPL (tests/lean/fake_repl.py) driven by a table
that each test writes, and the recorded REPL and Kimina outputs vendored in tests/fixtures/lean_recorded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
FAKE_REPL = HERE / "fake_repl.py"
VENDORED_LEAN = HERE.parent / "fixtures" / "lean_recorded"


def fake_command(table_path: Path) -> list[str]:
    # -S: the fake needs only the standard library, and starts faster without site-packages.
    return [sys.executable, "-S", str(FAKE_REPL), str(table_path)]


@pytest.fixture(scope="session")
def repl_pairs() -> list[dict]:
    """Recorded request/response pairs of the leanprover-community/repl test suite."""
    with open(VENDORED_LEAN / "repl_pairs.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def pair(repl_pairs):
    """A recorded pair by its row number in shared/fixtures/lean-messages/lean_messages.jsonl."""
    by_row = {r["row"]: r for r in repl_pairs}
    return lambda row: by_row[row]


class FakeRepl:
    """Writes a fake-REPL table and reads the log of requests the fake processes received."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path
        self.table_path = tmp_path / "table.json"
        self.log_path = tmp_path / "requests.log"

    def write(self, table: dict) -> "FakeRepl":
        self.table_path.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
        return self

    @property
    def command(self) -> list[str]:
        return fake_command(self.table_path)

    @property
    def env(self) -> dict[str, str]:
        import os

        return {**os.environ, "FAKE_REPL_LOG": str(self.log_path)}

    def log(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text(encoding="utf-8").splitlines()]

    def requests(self) -> list[dict]:
        return [e for e in self.log() if "request" in e]

    def pool(self, **overrides):
        from prover.lean.pool import PoolConfig, ReplPool

        cfg = dict(command=self.command, env=self.env, memory_cap_bytes=None, max_processes=1,
                   import_timeout_s=20)
        cfg.update(overrides)
        return ReplPool(PoolConfig(**cfg))


@pytest.fixture
def fake(tmp_path) -> FakeRepl:
    return FakeRepl(tmp_path)


@pytest.fixture
def pid_alive():
    """Whether a process exists and is not a zombie (a SIGKILLed process takes a moment to go:
    allow it up to 5 s)."""
    import time

    def alive(pid: int) -> bool:
        deadline = time.monotonic() + 5
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        return _pid_alive(pid)

    return alive


def _pid_alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): read its state.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return True

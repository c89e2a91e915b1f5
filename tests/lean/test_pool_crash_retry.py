"""A check whose REPL process crashed is sent once more on a fresh process (found by the twin,
issue 18: a REPL killed from outside turned one check into `crashed`, which is not cached, and
the attempt's outcome then differed for good from an uninterrupted run's). The REPL here is the
fake REPL (tests/lean/fake_repl.py) behind a wrapper that crashes the first process(es)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from prover.core.lean_backend_records import LeanRunRequest

pytestmark = pytest.mark.timeout(60)

FAKE = Path(__file__).resolve().parent / "fake_repl.py"
# Crashes (exit 137, as after SIGKILL) while answering its first request, for the first
# CRASHES processes; later processes are the fake REPL.
WRAPPER = """
import os, sys
marks, crashes, table = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(marks, exist_ok=True)
if len(os.listdir(marks)) < crashes:
    open(os.path.join(marks, str(os.getpid())), "w").close()
    sys.stdin.readline()
    os._exit(137)
os.execv(sys.executable, [sys.executable, "-S", sys.argv[4], table])
"""

ANSWER = {"messages": [{"severity": "warning", "pos": {"line": 1, "column": 8}, "endPos": {"line": 1, "column": 12},
                        "data": "declaration uses 'sorry'"}]}


def pool_for(tmp_path: Path, crashes: int):
    from prover.lean.pool import PoolConfig, ReplPool

    table = tmp_path / "table.json"
    table.write_text(json.dumps({"default": ANSWER}), encoding="utf-8")
    command = [sys.executable, "-S", "-c", WRAPPER, str(tmp_path / "marks"), str(crashes), str(table), str(FAKE)]
    return ReplPool(PoolConfig(command=command, memory_cap_bytes=None, max_processes=2, import_timeout_s=20))


def test_a_crashed_check_is_sent_again_on_a_fresh_process(tmp_path):
    with pool_for(tmp_path, crashes=1) as pool:
        raw = pool.check(LeanRunRequest(code="theorem test : 0 < 1 := by sorry", timeout_s=20))
        assert raw.status == "ok", raw.error
        assert raw.messages == ANSWER["messages"]
        assert (pool.stats.crashes, pool.stats.crash_retries, pool.stats.started) == (1, 1, 2)


def test_a_check_that_crashes_twice_is_reported_crashed(tmp_path):
    with pool_for(tmp_path, crashes=5) as pool:
        raw = pool.check(LeanRunRequest(code="theorem test : 0 < 1 := by sorry", timeout_s=20))
        assert raw.status == "crashed"
        assert (pool.stats.crashes, pool.stats.crash_retries, pool.stats.started) == (2, 1, 2)

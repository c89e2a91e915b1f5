"""One REPL process: protocol, memory cap (applied, or reported when it cannot be), sizing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from prover.core.lean_backend_records import GiB
from prover.lean.limits import plan_memory_cap, pool_sizing
from prover.lean.repl import ReplCrashed, ReplProcess, ReplTimeout

pytestmark = pytest.mark.timeout(60)


def test_protocol_round_trip_with_recorded_responses(fake, pair):
    """Rows 724–725: `import Mathlib` → env 0, then a theorem with `sorry` in env 0."""
    imp, thm = pair(724), pair(725)
    fake.write({"rules": [{"match": {"cmd_equals": thm["request"]["cmd"]}, "response": thm["response"]}]})
    with ReplProcess(fake.command, env=fake.env) as repl:
        assert repl.send(imp["request"], 10) == imp["response"]
        assert repl.send(thm["request"], 10) == thm["response"]
        assert repl.uses == 2
    # Each request went out as JSON followed by a blank line, and was parsed back whole.
    assert [e["request"] for e in fake.requests()] == [imp["request"], thm["request"]]


def test_timeout_then_send_again_is_crashed(fake, pid_alive):
    fake.write({"rules": [{"match": {"any": True}, "action": "hang"}]})
    repl = ReplProcess(fake.command, env=fake.env)
    repl.start()
    with pytest.raises(ReplTimeout):
        repl.send({"cmd": "theorem t : True := by sorry"}, 0.5)
    assert not repl.alive and not pid_alive(repl.pid)
    with pytest.raises(ReplCrashed, match="not running"):
        repl.send({"cmd": "x"}, 1)


def test_exit_before_answer_carries_tails(fake):
    fake.write({"rules": [{"match": {"any": True}, "action": "exit", "exit_code": 3, "stdout": "{\"env\"",
                           "stderr": "Stack overflow detected. Aborting.\n"}]})
    with ReplProcess(fake.command, env=fake.env) as repl:
        with pytest.raises(ReplCrashed) as info:
            repl.send({"cmd": "theorem t : True := trivial"}, 10)
    exc = info.value
    assert exc.exit_code == 3
    assert exc.stdout_tail == "{\"env\""
    assert "Stack overflow" in exc.stderr_tail
    assert exc.likely_cause.startswith("stack overflow")


def test_cap_that_cannot_be_applied_is_reported(fake, tmp_path):
    """A parent whose hard RLIMIT_AS (3 GiB) is below the 8 GiB cap: the REPL runs under 3 GiB and
    both the plan and the started process say so (the fake reports its own limit)."""
    fake.write({"rules": [{"match": {"any": True}, "action": "memory"}]})
    script = textwrap.dedent(f"""
        import json, resource
        resource.setrlimit(resource.RLIMIT_AS, (3 * 1024**3, 3 * 1024**3))
        from prover.lean.repl import ReplProcess
        with ReplProcess({fake.command!r}, memory_cap_bytes=8 * 1024**3) as repl:
            resp = repl.send({{"cmd": "report"}}, 10)
            print(json.dumps({{"cap": repl.memory_cap.model_dump(), "child": resp["rlimit_as"]}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["cap"]["applied"] is False
    assert got["cap"]["applied_bytes"] == 3 * GiB
    assert got["cap"]["note"] == ("cap 8 GiB not applied: this process's hard RLIMIT_AS is 3 GiB, "
                                  "so Lean runs under 3 GiB")
    assert got["child"] == [3 * GiB, 3 * GiB]


def test_no_cap_requested():
    plan = plan_memory_cap(None)
    assert plan.applied and plan.applied_bytes is None and plan.note == "no memory cap requested"


@pytest.mark.parametrize("cores,available,cap,expected,reason", [
    (16, 128 * GiB, 8 * GiB, 16, "cores"),
    (16, 40 * GiB, 8 * GiB, 5, "memory"),
    (4, 6 * GiB, 8 * GiB, 1, "memory"),
    (8, None, 8 * GiB, 8, "cores"),
    (8, 4 * GiB, None, 8, "cores"),
])
def test_pool_sizing(cores, available, cap, expected, reason):
    s = pool_sizing(cap, cores=cores, available_bytes=available)
    assert s.processes == expected
    assert s.reason.startswith(reason)


def test_pool_sizing_explicit():
    assert pool_sizing(8 * GiB, cores=2, available_bytes=GiB, max_processes=6).processes == 6


def test_whole_recorded_transcripts_replay_exactly(fake, fixtures_dir):
    """Every command-mode transcript of the leanprover-community/repl test suite (all five
    recorded toolchains): the fake answers each request with its recorded response, and what
    comes back through ReplProcess — multi-line pretty JSON, env ids assigned in order, the
    `Unknown environment.` error — equals the recorded `.expected.out` value for value."""
    from lean_replay import transcript

    roots = [fixtures_dir / "lean-repl" / "test"] + sorted((fixtures_dir / "lean-repl" / "older-toolchains").glob("*/test"))
    replayed = 0
    for root in roots:
        for path_in in sorted(root.glob("*.in")):
            if not path_in.with_suffix(".expected.out").exists():
                continue
            pairs = transcript(path_in)
            if not pairs or not all(set(req) <= {"cmd", "env", "allTactics", "rootGoals", "infotree"}
                                    for req, _ in pairs):
                continue
            fake.write({"rules": [{"match": {"request": req}, "response": resp} for req, resp in pairs]})
            with ReplProcess(fake.command, env=fake.env) as repl:
                got = [repl.send(req, 10) for req, _ in pairs]
            assert got == [resp for _, resp in pairs], path_in
            replayed += 1
    assert replayed >= 20

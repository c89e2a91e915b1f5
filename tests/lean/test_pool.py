"""The REPL pool against the fake REPL (tests/lean/fake_repl.py), which speaks the real protocol and
answers with responses recorded from the leanprover-community/repl test suite."""

from __future__ import annotations

import threading
import time

import pytest

from prover.core.lean_backend_records import LeanRunRequest

pytestmark = pytest.mark.timeout(60)

MINIF2F_HEADER = ("import Mathlib.Algebra.BigOperators.Group.Finset.Basic\nimport Mathlib.Data.Real.Basic\n"
                  "import Mathlib.Data.Complex.Exponential\nimport Mathlib.Data.Nat.Digits.Lemmas")


def rule(cmd_contains, response=None, **kw):
    r = {"match": {"cmd_contains": cmd_contains}, **kw}
    if response is not None:
        r["response"] = response
    return r


def test_header_imported_once_then_body_sent_with_env(fake, pair):
    """Row 707 is the recorded import of a miniF2F header, rows 708–710 three proofs checked in
    its environment; the pool must replay that exact conversation."""
    imp, *checks = (pair(r) for r in (707, 708, 709, 710))
    header = imp["request"]["cmd"]
    fake.write({"rules": [rule(c["request"]["cmd"], c["response"]) for c in checks]})
    with fake.pool() as pool:
        for c in checks:
            raw = pool.check(LeanRunRequest(code=header + "\n" + c["request"]["cmd"], timeout_s=10))
            assert raw.status == "ok", raw.error
            assert raw.messages == c["response"].get("messages", [])
    reqs = fake.requests()
    import_lines = "\n".join(line for line in header.splitlines() if line.startswith("import "))
    opens = header[len(import_lines):]
    assert opens.startswith("\nopen BigOperators")
    assert reqs[0]["request"] == {"cmd": import_lines}
    assert [r["request"]["env"] for r in reqs[1:]] == [0, 0, 0]
    assert len({r["pid"] for r in reqs}) == 1
    # The `open` lines travel with each request; the body is padded with the import lines'
    # newlines, so that positions are those of the whole file.
    body = reqs[1]["request"]["cmd"]
    assert body == "\n" * import_lines.count("\n") + opens + "\n" + checks[0]["request"]["cmd"]


def test_recorded_error_positions_are_file_positions(fake, pair):
    """Row 790: `unsolved goals` at line 1 of the command; after a 2-line header the same text sits
    at line 3, and the fake (like Lean) counts lines of the padded body."""
    row = pair(790)
    resp = row["response"]
    shifted = {**resp, "messages": [{**m, "pos": {**m["pos"], "line": m["pos"]["line"] + 2}} for m in resp["messages"]]}
    fake.write({"rules": [{"match": {"cmd_regex": r"^\n\n" + row["request"]["cmd"].replace("(", r"\(")},
                           "response": shifted}]})
    with fake.pool() as pool:
        raw = pool.check("import Lean\nimport Mathlib\n" + row["request"]["cmd"])
    assert raw.status == "ok"
    assert raw.messages[0]["data"] == "unsolved goals\n⊢ Nat"
    assert raw.messages[0]["pos"]["line"] == 3


def test_processes_keyed_by_import_lines_only(fake, pair):
    ok = pair(708)["response"]
    fake.write({"default": ok})
    with fake.pool(max_processes=2) as pool:
        a = "import Mathlib\nopen Real\n\ntheorem a : 1 = 1 := rfl"
        b = "import Mathlib\nopen Nat\nset_option maxHeartbeats 400000\n\ntheorem b : 2 = 2 := rfl"
        c = "import Lean\n\ntheorem c : 3 = 3 := rfl"
        for code in (a, b, a, c, b, c):
            assert pool.check(code).status == "ok"
        stats = pool.stats
    reqs = fake.requests()
    imports = [r for r in reqs if "env" not in r["request"]]
    # Two headers, two processes: `open`/`set_option` lines travel with each request.
    assert [r["request"]["cmd"] for r in imports] == ["import Mathlib", "import Lean"]
    assert stats.header_imports == 2 and stats.started == 2 and stats.reused == 4
    sent_b = [r["request"]["cmd"] for r in reqs if "theorem b" in r["request"].get("cmd", "")]
    assert all("open Nat\nset_option maxHeartbeats 400000" in s for s in sent_b)


def test_other_header_replaces_idle_process_when_full(fake, pair):
    fake.write({"default": pair(708)["response"]})
    with fake.pool(max_processes=1) as pool:
        pool.check("import Mathlib\ntheorem a : True := trivial")
        pool.check("import Lean\ntheorem b : True := trivial")
        pool.check("import Mathlib\ntheorem c : True := trivial")
        assert pool.stats.evicted == 2
    assert len({r["pid"] for r in fake.requests()}) == 3


def test_timeout_kills_the_tree_and_respawns(fake, pair, pid_alive):
    fake.write({"rules": [rule("slow_proof", action="hang")], "default": pair(708)["response"]})
    with fake.pool() as pool:
        raw = pool.check(LeanRunRequest(code="import Mathlib\ntheorem slow_proof : True := by sorry", timeout_s=1.0))
        assert raw.status == "timeout"
        assert "1 s" in raw.error
        hung = [e for e in fake.log() if e.get("event") == "hang"]
        assert len(hung) == 1
        assert not pid_alive(hung[0]["pid"]) and not pid_alive(hung[0]["grandchild"])
        again = pool.check("import Mathlib\ntheorem fine : True := trivial")
        assert again.status == "ok"
        assert pool.stats.timeouts == 1 and pool.stats.started == 2
    assert len({r["pid"] for r in fake.requests()}) == 2


def test_crash_is_reported_with_stderr_and_respawned(fake, pair):
    fake.write({"rules": [rule("bad_proof", action="exit", exit_code=134, stdout='{"mess',
                               stderr="INTERNAL PANIC: out of memory\n")],
                "default": pair(708)["response"]})
    with fake.pool(memory_cap_bytes=8 * 1024**3) as pool:
        raw = pool.check("import Mathlib\ntheorem bad_proof : True := trivial")
        assert raw.status == "crashed"
        assert raw.exit_code == 134
        assert "INTERNAL PANIC: out of memory" in raw.stderr_tail
        assert "out of memory (memory cap 8 GiB)" in raw.error
        assert pool.check("import Mathlib\ntheorem fine : True := trivial").status == "ok"
        assert pool.stats.crashes == 1


def test_recycled_after_max_uses(fake, pair):
    fake.write({"default": pair(708)["response"]})
    with fake.pool(max_uses=2) as pool:
        for i in range(5):
            raw = pool.check(f"import Mathlib\ntheorem t{i} : True := trivial")
            assert raw.status == "ok"
            assert raw.process_uses == i % 2
        assert pool.stats.recycled == 2
    pids = [r["pid"] for r in fake.requests()]
    assert len(set(pids)) == 3
    assert sum(1 for r in fake.requests() if "env" not in r["request"]) == 3


def test_memory_cap_applied_in_the_child(fake):
    cap = 6 * 1024**3
    fake.write({"rules": [rule("report_memory", action="memory")]})
    with fake.pool(memory_cap_bytes=cap) as pool:
        raw = pool.check("import Mathlib\n#eval report_memory")
    assert raw.status == "ok"
    assert raw.response["rlimit_as"] == [cap, cap]
    assert raw.memory_cap.applied and raw.memory_cap.applied_bytes == cap


def test_allocation_beyond_the_cap_crashes_as_out_of_memory(fake, pair):
    """The fake allocates 1 GiB under a 512 MiB cap: the kernel refuses, the fake exits like Lean's
    out-of-memory panic, the pool reports a crash whose likely cause names the cap."""
    fake.write({"rules": [rule("hog", action="allocate", bytes=1024**3)], "default": pair(708)["response"]})
    with fake.pool(memory_cap_bytes=512 * 1024**2) as pool:
        raw = pool.check("import Mathlib\ntheorem hog : True := trivial")
    assert raw.status == "crashed"
    assert "out of memory (memory cap 512 MiB)" in raw.error


def test_header_that_fails_is_returned_as_lean_messages(fake):
    fake.write({"import_errors": {"Mathlb": "unknown module prefix 'Mathlb'"}, "default": {}})
    with fake.pool() as pool:
        raw = pool.check("import Mathlb\ntheorem x : True := trivial")
        assert raw.status == "ok"
        assert raw.messages[0]["severity"] == "error"
        assert "Mathlb" in raw.messages[0]["data"]
        assert pool.stats.header_failures == 1
        again = pool.check("import Mathlb\ntheorem y : True := trivial")
        assert again.messages == raw.messages and pool.stats.started == 1


def test_repl_error_message_is_status_error(fake, pair):
    """Row 913: the REPL's answer to an unknown environment."""
    fake.write({"rules": [rule("weird", pair(913)["response"])]})
    with fake.pool() as pool:
        raw = pool.check("import Mathlib\ntheorem weird : True := trivial")
    assert raw.status == "error"
    assert raw.error == "Unknown environment."


def test_gc_sent_and_support_detected(fake, pair):
    fake.write({"default": pair(708)["response"], "supports_gc": True})
    with fake.pool() as pool:
        pool.check("import Mathlib\ntheorem a : True := trivial")
        assert pool.stats.gc_supported is True
    assert fake.requests()[1]["request"]["gc"] is True
    fake.write({"default": pair(708)["response"], "supports_gc": False})
    with fake.pool() as pool:
        pool.check("import Mathlib\ntheorem a : True := trivial")
        assert pool.stats.gc_supported is False


def test_concurrent_callers_share_the_processes(fake, pair):
    ok, sorry = pair(708)["response"], pair(725)["response"]
    fake.write({"rules": [rule("with_sorry", sorry)], "default": ok})
    results: dict[int, object] = {}

    with fake.pool(max_processes=2) as pool:
        def work(i):
            code = ("import Mathlib\n" if i % 2 else "import Lean\n") + (
                f"theorem with_sorry{i} : True := by sorry" if i % 3 == 0 else f"theorem t{i} : True := trivial")
            results[i] = pool.check(code)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert pool.stats.checks == 12
        assert len(pool.processes()) <= 2
    for i, raw in results.items():
        assert raw.status == "ok"
        assert bool(raw.sorries) == (i % 3 == 0)
    assert len({r["pid"] for r in fake.requests()}) >= 2


def test_missing_executable_is_unavailable(tmp_path):
    from prover.lean.pool import PoolConfig, ReplPool

    with ReplPool(PoolConfig(command=[str(tmp_path / "no-such-repl")], memory_cap_bytes=None,
                             max_processes=1)) as pool:
        raw = pool.check("import Mathlib\ntheorem a : True := trivial")
    assert raw.status == "unavailable"
    assert "no-such-repl" in raw.error and "prover lean doctor" in raw.error


def test_async_check(fake, pair):
    import asyncio

    fake.write({"default": pair(708)["response"]})
    with fake.pool() as pool:
        raws = asyncio.run(_gather(pool, ["import Mathlib\ntheorem a : True := trivial"] * 3))
    assert [r.status for r in raws] == ["ok"] * 3


async def _gather(pool, codes):
    import asyncio

    return await asyncio.gather(*(pool.acheck(c) for c in codes))


@pytest.mark.parametrize("import_s,check_s,evicted", [(1.0, 0.1, 0), (0.02, 0.6, 1)])
def test_wait_for_a_busy_holder_or_replace_an_idle_process(fake, pair, import_s, check_s, evicted):
    """Pool of 2 holding headers A and B. Two A checks at once: the second waits for the busy A
    process when importing costs more than waiting (fake cost model: sleeps), else it replaces the
    idle B process."""
    fake.write({"default": pair(708)["response"], "cost": {"import_s": import_s, "check_s": [check_s, check_s]}})
    a, b = "import Mathlib\ntheorem a{} : True := trivial", "import Lean\ntheorem b : True := trivial"
    with fake.pool(max_processes=2) as pool:
        pool.check(a.format(0))
        pool.check(b)
        threads = [threading.Thread(target=pool.check, args=(a.format(i),)) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert pool.stats.evicted == evicted
        assert pool.stats.header_imports == 2 + evicted
        assert pool.stats.checks == 4

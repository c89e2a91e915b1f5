"""The `lean_checks` table: every check is a row, only definitive ones are served from cache,
and `verified` rows of an older screen are found for re-screening. Real databases (SQLite file;
PostgreSQL when configured)."""

from __future__ import annotations

from sqlalchemy import inspect

from prover.core.lean_records import (LeanCheckRequest, LeanCheckResult, LeanLimits, LeanMessage, ReasonCode,
                                      Verdict)


def _request(text="theorem t : True := trivial\n\n#print axioms t\n", version=1) -> LeanCheckRequest:
    return LeanCheckRequest(assembled=text, target="t", axioms_line=3, toolchain="leanprover/lean4:v4.27.0",
                            mathlib_rev="a3a10db", repl_rev="8948401", screen_rules_version=version,
                            limits=LeanLimits(time_s=60, heartbeats=200_000, memory_mb=4096))


def _result(req, verdict=Verdict.VERIFIED, reasons=(), **kw) -> LeanCheckResult:
    msg = LeanMessage(severity="info", pos={"line": 3, "column": 0}, data="'t' does not depend on any axioms")
    return LeanCheckResult.for_request(req, verdict=verdict, reasons=reasons, backend="replay", messages=[msg],
                                       axioms=() if verdict is Verdict.VERIFIED else None, wall_time_s=0.5, **kw)


def test_table_exists_after_migration(store):
    cols = {c["name"] for c in inspect(store.engine).get_columns("lean_checks")}
    assert {"cache_key", "definitive", "file_hash", "toolchain", "mathlib_rev", "repl_rev", "screen_rules_version",
            "time_limit_s", "heartbeats", "memory_mb", "verdict", "reasons", "messages", "axioms", "wall_time_s",
            "peak_memory_mb", "backend", "assembled", "formal_statement_id", "proof_text"} <= cols


def test_definitive_results_round_trip_and_are_stored_once(store):
    req = _request()
    result = _result(req, peak_memory_mb=812.0)
    first = store.add_lean_check(result, proof_text="theorem t : True := trivial")
    assert store.add_lean_check(result) == first
    got = store.get_lean_check(req.cache_key)
    assert got == result
    assert store.get_lean_check("0" * 64) is None
    assert store.stats()["tables"]["lean_checks"] == 1


def test_non_definitive_results_are_rows_but_never_served(store):
    req = _request("theorem t : True := by decide\n\n#print axioms t\n")
    timeout = _result(req, Verdict.TIMEOUT, [ReasonCode.WALL_TIMEOUT])
    missing = _result(req, Verdict.INCOMPLETE, [ReasonCode.AXIOMS_REPORT_MISSING])
    a, b = store.add_lean_check(timeout), store.add_lean_check(timeout)
    c = store.add_lean_check(missing)
    assert len({a, b, c}) == 3
    assert store.get_lean_check(req.cache_key) is None
    failed = _result(req, Verdict.FAILED, [ReasonCode.LEAN_ERROR])
    d = store.add_lean_check(failed)
    assert store.get_lean_check(req.cache_key).verdict is Verdict.FAILED
    assert [row.id for row in store.lean_checks_of_file(req.file_hash)] == [a, b, c, d]


def test_rescreen_finds_verified_rows_of_older_screens(store):
    old = store.add_lean_check(_result(_request(version=1)))
    store.add_lean_check(_result(_request("theorem u : True := trivial\n", version=1), Verdict.FAILED,
                                 [ReasonCode.LEAN_ERROR]))
    store.add_lean_check(_result(_request("theorem v : True := trivial\n", version=2)))
    unchecked = store.add_lean_check(_result(_request("abbrev s := 1\ntheorem w : True := trivial\n", version=1),
                                             Verdict.VERIFIED_ANSWER_UNCHECKED, [ReasonCode.ANSWER_UNCHECKED]))
    assert [r.id for r in store.lean_checks_to_rescreen(2)] == [old, unchecked]
    assert store.lean_checks_to_rescreen(1) == []
    store.set_lean_check_verdict(old, Verdict.REJECTED, [ReasonCode.NATIVE])
    assert [r.id for r in store.lean_checks_to_rescreen(2)] == [unchecked]
    assert store.get_lean_check(_request(version=1).cache_key).reasons == (ReasonCode.NATIVE,)


def test_a_definitive_key_stored_by_another_process_at_the_same_moment_is_got_not_inserted(db_url):
    """Two writers (two engines, as two processes) store the same definitive check at once: the
    second's insert finds the first's row already committed between its look-up and its insert.
    Insert-or-get returns that row; no IntegrityError, one row."""
    from sqlalchemy import event

    from prover.store import ProofStore

    req = _request()
    result = _result(req)
    with ProofStore.open(db_url) as mine, ProofStore.open(db_url) as other:
        raced: list[int] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("INSERT INTO LEAN_CHECKS") and not raced:
                raced.append(other.add_lean_check(result))

        event.listen(mine.engine, "before_cursor_execute", before)
        got = mine.add_lean_check(result)
        assert raced and got == raced[0]
        assert mine.add_lean_check(result) == got
        assert mine.stats()["tables"]["lean_checks"] == 1

"""Statement compatibility rows (`statement_compat`), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from prover.core.records import FormalStatementRecord, ProblemRecord

TC, REV = "leanprover/lean4:v4.27.0", "a3a10db0e9d66acbebf76c5e6a135066525ac900"


def _problems(store):
    recs = [ProblemRecord(collection=coll, external_id=ext, informal_statement=f"Statement {ext}.",
                          formal_statements=[FormalStatementRecord(toolchain="leanprover/lean4:v4.9.0",
                                                                   preamble="import Mathlib\n",
                                                                   statement=f"theorem {ext} : True := sorry")])
            for coll, ext in (("a", "x1"), ("a", "x2"), ("b", "y1"))]
    store.add_problems(recs)
    return {ext: fs.id for fs, _, ext in store.formal_statements_in()}


def test_set_replace_and_summarise(store):
    ids = _problems(store)
    assert "statement_compat" in inspect(store.engine).get_table_names()
    store.set_statement_compat(ids["x1"], toolchain=TC, mathlib_rev=REV, status="compatible", content_hash="h1",
                               backend="repl", wall_time_s=1.5)
    store.set_statement_compat(ids["y1"], toolchain=TC, mathlib_rev=REV, status="incompatible", content_hash="h2",
                               backend="repl", messages=[{"severity": "error", "data": "unknown identifier"}],
                               detail="unknown identifier")
    assert store.statement_compat(ids["x1"], toolchain=TC, mathlib_rev=REV).status == "compatible"
    assert store.statement_compat(ids["x1"], toolchain="leanprover/lean4:v4.9.0", mathlib_rev=REV) is None
    assert store.incompatible_statement_ids(toolchain=TC, mathlib_rev=REV) == {ids["y1"]}
    assert store.statement_compat_summary(toolchain=TC, mathlib_rev=REV) == {
        "a": {"compatible": 1, "incompatible": 0, "unchecked": 1},
        "b": {"compatible": 0, "incompatible": 1, "unchecked": 0}}
    # A re-check replaces the row (one per statement, toolchain and Mathlib).
    store.set_statement_compat(ids["y1"], toolchain=TC, mathlib_rev=REV, status="compatible", content_hash="h3",
                               backend="file")
    row = store.statement_compat(ids["y1"], toolchain=TC, mathlib_rev=REV)
    assert (row.status, row.content_hash, row.backend, row.messages) == ("compatible", "h3", "file", [])
    assert store.incompatible_statement_ids(toolchain=TC, mathlib_rev=REV) == set()
    assert store.statement_compat_summary(toolchain=TC, mathlib_rev=REV, collection="b") == {
        "b": {"compatible": 1, "incompatible": 0, "unchecked": 0}}
    assert [e for _, _, e in store.formal_statements_in("a")] == ["x1", "x2"]


def test_unknown_mathlib_and_bad_status(store):
    ids = _problems(store)
    store.set_statement_compat(ids["x2"], toolchain="kimina:http://h", mathlib_rev=None, status="incompatible",
                               content_hash="h", backend="kimina")
    assert store.statement_compat(ids["x2"], toolchain="kimina:http://h", mathlib_rev=None).status == "incompatible"
    with pytest.raises(ValueError, match="compatible or incompatible"):
        store.set_statement_compat(ids["x2"], toolchain=TC, mathlib_rev=REV, status="timeout", content_hash="h",
                                   backend="repl")

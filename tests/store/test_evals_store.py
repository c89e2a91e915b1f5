"""The ``evaluations`` table: its migration matches the model, a key reopens its row."""

from __future__ import annotations

import pytest

from prover.core.errors import NotFoundError
from prover.core.eval_records import EvalSummary


def test_migration_matches_the_model(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from prover.store.schema import EvaluationRow

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), EvaluationRow.metadata)
    assert [d for d in diff if "evaluations" in repr(d)] == []


def test_open_save_get_list(store):
    kw = dict(benchmark="imo-proofbench", split="all", models={"judge": "openai:g"}, budget="small", seed=0,
              commit="abc", config={})
    first = store.open_evaluation("k1", **kw)
    assert store.open_evaluation("k1", **kw) == first and store.open_evaluation("k2", **kw) != first
    store.save_evaluation(first, EvalSummary(eval_id=None, benchmark="imo-proofbench", split="all", run_id=None,
                                             status="completed", calls=3))
    got = store.get_evaluation(first)
    assert (got.eval_id, got.calls, got.status, got.models, got.commit) == (first, 3, "completed",
                                                                            {"judge": "openai:g"}, "abc")
    assert [e.eval_id for e in store.list_evaluations("imo-proofbench")] == [first, first + 1]
    assert store.list_evaluations("minif2f") == []
    with pytest.raises(NotFoundError):
        store.get_evaluation(999)

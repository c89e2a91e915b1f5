"""ProofStore: opening, migrations, bulk writes and exports, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import inspect, text

from prover.core.errors import NotFoundError, StoreNotWritableError, UsageError
from prover.core.records import FormalStatementRecord, ProblemRecord, ProofRecord, VerificationRecord
from prover.store import ProofStore, resolve_url


def _problem(ext="p1", statement="Prove that 1 + 1 = 2.", coll="c", **kw) -> ProblemRecord:
    return ProblemRecord(collection=coll, external_id=ext, informal_statement=statement, **kw)


def test_open_creates_schema_and_is_idempotent(db_url):
    s = ProofStore.open(db_url)
    current, heads = s.schema_heads()
    # Feature revisions hang off "0001", so the heads are theirs once any is present.
    assert current == heads and current
    tables = set(inspect(s.engine).get_table_names())
    assert {"problems", "formal_statements", "runs", "model_calls", "proofs", "verifications"} <= tables
    s.add_problems([_problem()])
    s.close()
    s2 = ProofStore.open(db_url)  # second open: no migration error, data kept
    assert s2.stats()["tables"]["problems"] == 1
    s2.close()


def test_sqlite_pragmas(tmp_path):
    s = ProofStore.open(tmp_path / "x.db")
    with s.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    s.close()


def test_read_only_database_is_a_one_line_error(tmp_path):
    """Tests run as root, where file modes do not stop writes: a read-only connection (SQLite's
    ``mode=ro``) stands in for a read-only file."""
    db = tmp_path / "ro.db"
    ProofStore.open(db).close()
    with ProofStore.open(f"sqlite:///file:{db}?mode=ro&uri=true") as store:
        assert store.stats()["tables"]["problems"] == 0  # reading works
        with pytest.raises(StoreNotWritableError) as err:
            store.add_problems([_problem()])
    message = str(err.value)
    assert message.startswith(f"cannot write the database {db}: ") and "read-only" in message
    assert "\n" not in message and "SQL" not in message


def test_database_in_a_missing_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(StoreNotWritableError) as err:
        ProofStore.open(tmp_path / "nowhere" / "x.db")
    assert str(err.value) == (f"cannot write the database {tmp_path / 'nowhere' / 'x.db'}: its folder "
                              f"{tmp_path / 'nowhere'} does not exist; create it, or pass --db another database")


def test_resolve_url(tmp_path, monkeypatch):
    assert resolve_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert resolve_url(tmp_path / "a.db") == f"sqlite:///{tmp_path / 'a.db'}"
    monkeypatch.setenv("PROVER_DB", str(tmp_path / "env.db"))
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'env.db'}"


def test_problem_identity_and_reimport(store):
    fs = FormalStatementRecord(toolchain="v4.9", preamble="import Mathlib\n", statement="theorem t : 1 + 1 = 2 := by\n")
    first = store.add_problems([_problem(formal_statements=[fs]), _problem("p2", "Other.")])
    assert (first.problems_added, first.formal_added) == (2, 1)
    # whitespace differences do not make a new problem; a new toolchain adds a formal statement
    fs2 = fs.model_copy(update={"toolchain": "v4.24"})
    again = store.add_problems([_problem(statement="Prove  that 1 + 1 = 2. ", formal_statements=[fs, fs2])])
    assert (again.problems_added, again.problems_existing, again.formal_added, again.formal_existing) == (0, 1, 1, 1)
    # same external id, different statement: a different problem (ProofNet repeats names)
    assert store.add_problems([_problem(statement="Prove that 2 + 2 = 4.")]).problems_added == 1
    assert store.stats()["tables"]["formal_statements"] == 2


def test_resolve_problem_ambiguous_and_missing(store):
    store.add_problems([_problem(), _problem(statement="A different statement."), _problem("q", coll="d")])
    with pytest.raises(UsageError) as err:
        store.resolve_problem("p1")
    assert "ambiguous" in str(err.value) and "c/p1" in str(err.value)
    assert err.value.exit_code == 2
    assert store.resolve_problem("d/q").external_id == "q"
    assert store.resolve_problem("1").id == 1
    with pytest.raises(NotFoundError):
        store.resolve_problem("nope")


def test_failed_batch_writes_nothing(store):
    class Boom(Exception):
        pass

    def records():
        yield _problem("a")
        raise Boom()

    with pytest.raises(Boom):
        store.add_problems(records())
    assert store.stats()["tables"]["problems"] == 0


def test_bulk_proofs_and_verifications_export(store, tmp_path):
    store.add_problems([_problem()])
    pid = store.list_problems()[0].id
    ids = store.add_proofs([ProofRecord(problem_id=pid, text=f"proof {i}", metadata={"i": i}) for i in range(5)])
    assert len(ids) == 5 and ids == sorted(ids)
    store.add_verifications([VerificationRecord(proof_id=i, analysis="ok", score=1.0, issues=["x"], metadata={"v": i})
                             for i in ids])
    assert [p.text for p in store.proofs_of(pid)] == [f"proof {i}" for i in range(5)]
    assert store.verifications_of(ids[0])[0].issues == ["x"]
    assert store.verifications_of(ids[1])[0].extra == {"v": ids[1]}
    assert store.proofs_of(pid)[2].extra == {"i": 2}

    n = store.export_table("verifications", "jsonl", tmp_path / "v.jsonl")
    rows = [json.loads(l) for l in (tmp_path / "v.jsonl").read_text().splitlines()]
    assert n == 5 and rows[0]["issues"] == ["x"] and rows[0]["score"] == 1.0

    import pyarrow.parquet as pq

    assert store.export_table("proofs", "parquet", tmp_path / "p.parquet") == 5
    table = pq.read_table(tmp_path / "p.parquet")
    assert table.num_rows == 5 and json.loads(table.column("metadata")[4].as_py()) == {"i": 4}
    assert not (tmp_path / "p.parquet.partial").exists()


def test_export_unknown_table_and_format(store, tmp_path):
    with pytest.raises(UsageError, match="no table"):
        store.export_table("nope", "jsonl", tmp_path / "x")
    with pytest.raises(UsageError, match="unknown format"):
        store.export_table("problems", "xml", tmp_path / "x")


def test_runs(store):
    rid = store.start_run("import", command=["prover"], config={"a": 1}, run_key="k")
    store.finish_run(rid, summary={"n": 3})
    run = store.find_run("k")
    assert run.status == "completed" and run.summary == {"n": 3} and run.finished_at is not None


def test_a_run_that_stops_on_an_exception_says_how(store):
    cancelled, broken = store.start_run("x"), store.start_run("x")
    store.abort_run(cancelled, KeyboardInterrupt())
    store.abort_run(broken, RuntimeError("backend gone"))
    from prover.store.schema import Run

    with store.session() as s:
        rows = {r.id: (r.status, r.summary, r.finished_at is not None) for r in s.query(Run)}
    assert rows == {cancelled: ("interrupted", {"error": ""}, True),
                    broken: ("failed", {"error": "backend gone"}, True)}


def test_a_run_whose_process_died_is_interrupted_when_the_database_is_next_opened(db_url):
    """A killed or crashed process cannot finish its run row: the next open of the database sees
    that the run's process is gone and says so. Live runs (this process) and runs of other hosts
    are left alone."""
    import subprocess
    import sys

    from sqlalchemy import update

    from prover.store.schema import InformalSearch, Run

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    s = ProofStore.open(db_url)
    s.add_problems([_problem()])
    dead, alive, elsewhere = (s.start_run("informal") for _ in range(3))
    search = s.open_search("key", 1, config={}, seed=0, run_id=dead)
    with s.session() as session:
        session.execute(update(Run).where(Run.id == dead).values(pid=gone.pid))
        session.execute(update(Run).where(Run.id == elsewhere).values(pid=gone.pid, host="another-host"))
    s.close()

    s = ProofStore.open(db_url)
    with s.session() as session:
        status = {r.id: r.status for r in session.query(Run)}
        search_status = session.get(InformalSearch, search).status
    s.close()
    assert status == {dead: "interrupted", alive: "running", elsewhere: "running"}
    assert search_status == "interrupted"


def test_concurrent_bulk_writers_get_their_own_ids(tmp_path):
    """Threads writing proofs at once (as evaluation and the search's writer do) each get the ids
    of their own rows: SQLite's bulk path must not hand out the same ids twice."""
    from concurrent.futures import ThreadPoolExecutor

    s = ProofStore.open(tmp_path / "c.db")
    s.add_problems([_problem()])

    def write(worker: int) -> list[tuple[int, str]]:
        out = []
        for batch in range(10):
            texts = [f"w{worker} b{batch} p{i}" for i in range(20)]
            ids = s.add_proofs([ProofRecord(problem_id=1, text=t) for t in texts])
            out.extend(zip(ids, texts))
        return out

    with ThreadPoolExecutor(4) as pool:
        written = [pair for part in pool.map(write, range(4)) for pair in part]
    stored = {p.id: p.text for p in s.proofs_of(1)}
    assert len(stored) == 800 and all(stored[i] == t for i, t in written)
    s.close()

"""pass@k and cost per solved problem of a formal benchmark, from stored rows (formal attempts,
Lean checks, model calls written by the test, as `prover run --formal` would): exact numbers on a
toy miniF2F. Bookkeeping only: no figure here is a result."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import MetaData, Table, insert

from prover.analysis.formal_eval import formal_score, pass_at_k
from prover.store.schema import ModelCall


def test_pass_at_k():
    assert pass_at_k(4, 0, 1) == 0.0 and pass_at_k(4, 4, 1) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25) and pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(4, 2, 3) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_formal_score_exact():
    attempts = [{"problem_id": 1, "status": s, "calls": 2} for s in ("verified", "unsolved")]
    attempts += [{"problem_id": 2, "status": s, "calls": 3} for s in ("unsolved", "sketch_failed", "statement_proved")]
    attempts += [{"problem_id": 3, "status": "running", "calls": 9},  # unfinished: left out
                 {"problem_id": 1, "status": "error", "calls": 4},  # ended by an exception: left out
                 {"problem_id": 9, "status": "verified", "calls": 1}]  # another problem
    score = formal_score("minif2f", "test", [1, 2, 3, 4], attempts, tokens=100, lean_seconds=8.0)
    assert (score.problems, score.attempted, score.solved, score.attempts, score.calls) == (4, 2, 2, 5, 13)
    # pass@1: (1/2 + 1/3) / 4 problems; pass@2: (1 + (1 - C(2,2)/C(3,2))) / 4; k stops at the fewest attempts (2).
    assert score.pass_at == pytest.approx({1: 100 * (1 / 2 + 1 / 3) / 4, 2: 100 * (1 + 2 / 3) / 4})
    assert score.per_solved(score.tokens) == 50 and score.per_solved(score.lean_seconds) == 4.0
    assert formal_score("minif2f", "test", [1], []).pass_at == {}


TOY = [{"id": f"toy_{i}", "statement": f"Toy statement {i}.", "formal_statement": f"theorem toy_{i} : True := by",
        "split": "test" if i < 3 else "valid"} for i in range(4)]


def _stored(store, tmp_path):
    data = tmp_path / "toy_minif2f.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in TOY))
    from prover.pipeline.evaluate import formal_eval

    empty = formal_eval(store, "minif2f", split="test", data=data).formal
    ids = {p.external_id: p.id for p in store.list_problems("minif2f")}
    run = store.start_run("informal+formal")
    with store.engine.begin() as conn:
        fa = Table("formal_attempts", MetaData(), autoload_with=conn)
        for n, (name, statuses) in enumerate({"toy_0": ["verified", "unsolved"], "toy_1": ["unsolved", "unsolved"],
                                              "toy_3": ["verified", "verified"]}.items()):
            for i, status in enumerate(statuses):
                conn.execute(insert(fa).values(
                    attempt_key=f"k{n}{i}", problem_id=ids[name], run_id=run, status=status, calls=5,
                    population="selected", statement_trusted=True, root_closed_independently=False, nodes=0,
                    nodes_solved=0, nodes_refuted=0, nodes_unsolved=0, repairs=0, checks=0, config={},
                    created_at=store_now(), updated_at=store_now()))
    with store.session() as s:
        s.add_all([ModelCall(call_key=f"c{i}", run_id=run, role="prover", backend="scripted", model="m",
                             request={}, status="ok", prompt_tokens=30, completion_tokens=70) for i in range(3)])
    with store.engine.begin() as conn:
        lc = Table("lean_checks", MetaData(), autoload_with=conn)
        fs_id = store.formal_statements(ids["toy_0"])[0].id
        for i, secs in enumerate((1.5, 2.5)):
            conn.execute(insert(lc).values(cache_key=f"l{i}", definitive=True, file_hash="h", toolchain="t",
                                           screen_rules_version=1, time_limit_s=60, heartbeats=0, verdict="failed",
                                           reasons=[], messages=[], wall_time_s=secs, backend="fake",
                                           formal_statement_id=fs_id, created_at=store_now()))
    return data, empty


def store_now():
    from prover.store.schema import utcnow

    return utcnow()


def test_formal_eval_from_stored_rows(store, tmp_path):
    from prover.pipeline.evaluate import formal_eval

    data, empty = _stored(store, tmp_path)
    assert (empty.problems, empty.attempts, empty.pass_at) == (3, 0, {})
    summary = formal_eval(store, "minif2f", split="test", data=data)
    score = summary.formal
    assert (score.problems, score.attempted, score.solved, score.attempts) == (3, 2, 1, 4)
    assert score.pass_at == pytest.approx({1: 100 * 0.5 / 3, 2: 100 / 3})
    assert (score.calls, score.tokens, score.lean_checks, score.lean_seconds) == (20, 300, 2, 4.0)
    assert score.scripted
    assert [(o.problem, o.formal_status) for o in summary.outcomes] == [
        ("minif2f/toy_0", "verified"), ("minif2f/toy_1", "unsolved"), ("minif2f/toy_2", None)]
    assert [(g.group, g.problems, g.graded) for g in summary.groups] == [("pass@1", 3, 2), ("pass@2", 3, 2)]
    # Stored as an evaluation; scoring again updates the same row.
    assert formal_eval(store, "minif2f", split="test", data=data).eval_id == summary.eval_id
    assert store.get_evaluation(summary.eval_id).formal == score
    assert formal_eval(store, "minif2f", data=data).formal.solved == 2  # all splits: toy_3 is in valid


def test_formal_eval_cli(db_path, tmp_path):
    from prover.cli.main import cli
    from prover.store import ProofStore

    with ProofStore.open(db_path) as store:
        data, _ = _stored(store, tmp_path)
    out = CliRunner().invoke(cli, ["eval", "minif2f", "--split", "test", "--data", str(data), "--db", str(db_path)],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0] == ("evaluation 1: minif2f, Lean-checked proofs under this project's checker "
                        "(every stored formal attempt)")
    assert lines[1:3] == ["split\tproblems\tattempted\tsolved\tattempts\tpass@1 % (scripted, not a result)\t"
                          "pass@2 % (scripted, not a result)", "test\t3\t2\t1\t4\t16.7\t33.3"]
    assert ("cost: 20 formal model calls, 300 tokens (runs that made the attempts), 2 Lean checks, 4.0 Lean wall "
            "seconds; per solved problem: 20 calls, 300 tokens, 4.0 Lean seconds") in out.stdout
    assert "published: DeepSeek-Prover-V2-671B 88.9% pass@8192 on test" in out.stdout
    assert "no figure below is a result" in out.stderr
    shown = CliRunner().invoke(cli, ["eval", "show", "1", "--db", str(db_path)])
    assert shown.exit_code == 0 and shown.stdout.splitlines()[1:3] == lines[1:3]
    dry = CliRunner().invoke(cli, ["eval", "minif2f", "--formal", "--dry-run", "--data", str(data),
                                   "--db", str(db_path)])
    assert dry.exit_code == 2 and "prover run PROBLEMS --formal --dry-run" in dry.output
    bad = CliRunner().invoke(cli, ["eval", "putnambench", "--split", "test", "--db", str(db_path)])
    assert bad.exit_code == 2 and "no splits" in bad.output


def test_formal_eval_with_formal_runs_first_and_needs_lean(db_path, tmp_path, monkeypatch):
    """--formal runs the search and the formal stage on the benchmark's problems: without Lean it
    stops (exit 3) before any model call, like `prover run --formal`."""
    import shutil

    from prover.cli.main import cli

    if shutil.which("lean") or shutil.which("lake"):
        pytest.skip("a Lean toolchain is installed here")
    monkeypatch.delenv("PROVER_LEAN_REPL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PROVER_SCRIPT", str(tmp_path / "never-read.jsonl"))
    data = tmp_path / "toy_minif2f.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in TOY))
    out = CliRunner().invoke(cli, ["eval", "minif2f", "--formal", "--data", str(data), "--backend", "scripted",
                                   "--proofs", "1", "--db", str(db_path)], catch_exceptions=False)
    assert out.exit_code == 3, out.output
    assert "prover lean doctor" in out.output
    from prover.store import ProofStore

    with ProofStore.open(db_path) as store:
        assert store.stats()["tables"]["model_calls"] == 0 and store.stats()["tables"]["problems"] == 4


def test_formal_eval_run_trusts_the_benchmark_and_counts_its_run_only(store, tmp_path, monkeypatch):
    """With ``run``, the benchmark's collection is trusted and only the attempts of that run count."""
    import prover.pipeline.run as run_module
    from prover.core.informal_records import RunSummary
    from prover.pipeline.evaluate import formal_eval
    from prover.pipeline.formal_run import FormalSettings

    data, _ = _stored(store, tmp_path)
    seen = {}

    def fake_run_informal(store_, tokens, **kw):
        seen.update(tokens=tokens, trusted=kw["formal"].config.trusted_collections)
        return RunSummary(run_id=store_.start_run("informal+formal"), results=[])

    monkeypatch.setattr(run_module, "run_informal", fake_run_informal)
    from prover.core.informal_records import SearchConfig, SearchKnobs
    from prover.core.llm_records import ModelConfig

    score = formal_eval(store, "minif2f", split="test", data=data,
                        run={"config": SearchConfig(knobs=SearchKnobs.preset("small")), "model_config": ModelConfig(),
                             "formal": FormalSettings()}).formal
    assert seen["trusted"] == ("minif2f",) and len(seen["tokens"]) == 3
    assert (score.problems, score.attempts, score.solved, score.pass_at) == (3, 0, 0, {})  # the new run made none

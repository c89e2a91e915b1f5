"""``prover run`` and ``prover show`` on the command line, with the bundled demo script (a
scripted backend: wiring and bookkeeping only, never a result)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from prover.cli.main import cli
from prover.core.informal_records import BUDGETS
from prover.core.paths import PACKAGE_DATA, sample_problems
from prover.store.schema import Run

DEMO = PACKAGE_DATA / "demo_script.jsonl"
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def prover(db_path, monkeypatch):
    monkeypatch.setenv("PROVER_SCRIPT", str(DEMO))
    monkeypatch.delenv("PROVER_CONFIG", raising=False)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, [str(a) for a in args] + ["--db", str(db_path)], catch_exceptions=False)

    return invoke


def test_run_demo_then_same_command_sends_nothing(prover):
    first = prover("run", sample_problems(), "--backend", "scripted", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert len(data["results"]) == 5 and data["sent"] == data["calls"] > 0
    assert all(r["status"] == "solved" and r["passed"] for r in data["results"])
    again = prover("run", sample_problems(), "--backend", "scripted", "--json")
    data2 = json.loads(again.stdout)
    assert again.exit_code == 0 and data2["sent"] == 0 and data2["calls"] == data["calls"]
    table = prover("run", "sample-1", "sample_problems/sample-2", "--backend", "scripted")
    assert table.exit_code == 0
    assert "sample_problems/sample-1\tsolved" in table.stdout and "0 sent" in table.stdout
    assert "demo of the machinery" in table.stderr


def test_show_pool_and_proof(prover):
    prover("run", sample_problems(), "--backend", "scripted")
    out = prover("show", "sample-3")
    assert out.exit_code == 0
    assert "a proof passed all 4 verifications in round 1" in out.stdout
    assert "\t" not in out.stdout  # aligned for reading, even piped (--json is for scripts)
    rows = _aligned_table(out.stdout, "pool (* selected)")
    assert len(rows) == 6 and len(_aligned_table(out.stdout, "searches")) == 1
    selected = [r for r in rows if r["proof"].startswith("*")]
    assert len(selected) == 1 and selected[0]["round"] == "1" and selected[0]["refines"] != "-"  # with a parent
    proof_id = selected[0]["proof"].lstrip("*")
    detail = prover("show", "sample-3", "--proof", proof_id)
    assert "refines" in detail.stdout and "--- analysis" in detail.stdout
    data = json.loads(prover("show", "sample-3", "--json").stdout)
    assert data["searches"][0]["status"] == "solved" and len(data["proofs"]) == 6
    assert prover("show", "sample-3", "--proof", "999999").exit_code == 2


def _aligned_table(text: str, title: str) -> list[dict[str, str]]:
    """The rows of an aligned table (title, header, dashes, rows, up to a blank line), checking
    that every cell starts in its header's column."""
    lines = text.splitlines()
    at = lines.index(title)
    header, rule = lines[at + 1], lines[at + 2]
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    starts = [a for a, _ in spans]
    names = [header[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
    rows = []
    for line in lines[at + 3:]:
        if not line.strip():
            break
        cells = [line[a:b] for a, b in zip(starts, starts[1:] + [None])]
        assert all(line[start - 2:start] == "  " for start in starts[1:] if start < len(line)), line
        rows.append({n: c.strip() for n, c in zip(names, cells)})
    return rows


def test_dry_run_makes_no_call(prover, db_path):
    out = prover("run", sample_problems(), "--budget", "heavy", "--proofs", "2", "--max-tokens", "100",
                 "--dry-run", "--json")
    assert out.exit_code == 0, out.output
    est = json.loads(out.stdout)
    assert est["knobs"]["proofs"] == 2 and est["knobs"]["verifications"] == 64  # explicit knob beats preset
    proofs = 2 + 16 * 64
    assert est["calls_by_role"]["generator"] == 5 * proofs
    assert est["calls_by_role"]["judge"] == 2 * proofs  # two sample problems have a reference answer
    assert est["completion_tokens"] == 100 * est["calls"]
    text = prover("run", sample_problems(), "--dry-run", "--model", "m")  # a server model, no token limit
    assert "no call made" in text.stdout and "unbounded" in text.stdout
    # Nothing configured: the embedded wiring model, whose calls stop at 256 tokens.
    text = prover("run", sample_problems(), "--dry-run")
    assert "no call made" in text.stdout and "unbounded" not in text.stdout
    assert "wiring model, not a prover" in text.stderr
    stats = json.loads(prover("db", "stats", "--json").stdout)
    assert stats["tables"]["model_calls"] == 0 and stats["tables"]["problems"] == 0


def test_usage_errors(prover, tmp_path):
    prover("problems", "import", sample_problems())
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"problem_idx": "sample-1", "question": "Another statement.", "answer": null}\n')
    prover("problems", "import", dup)
    out = prover("run", "sample-1", "--backend", "scripted")
    assert out.exit_code == 2 and "ambiguous" in out.output
    assert prover("run", "no-such-problem", "--backend", "scripted").exit_code == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('generation = "no placeholder"\n')
    out = prover("run", "dup/sample-1", "--backend", "scripted", "--templates", bad)
    assert out.exit_code == 2 and "must contain" in out.output
    out = prover("run", "dup/sample-1", "--backend", "scripted", "--verifications", "2", "--label-n", "3")
    assert out.exit_code == 2 and "label n" in out.output


def test_backend_unavailable_exits_3(prover, monkeypatch):
    monkeypatch.setenv("PROVER_MAX_RETRIES", "0")
    out = prover("run", sample_problems(), "--backend", "openai", "--model", "m", "--base-url",
                 "http://127.0.0.1:9/v1", "--budget", "small", "--proofs", "1")
    assert out.exit_code == 3, out.output
    assert "incomplete" in out.output and "same command" in out.output


def test_templates_file_changes_the_prompts(prover, db_path, tmp_path):
    t = tmp_path / "t.toml"
    t.write_text('generation = "MY OWN PROMPT: {statement}"\n')
    out = prover("run", sample_problems(), "--backend", "scripted",
                 "--templates", t, "--proofs", "1", "--rounds", "0")
    assert out.exit_code == 0, out.output
    from prover.store import ProofStore
    from prover.store.schema import ModelCall

    with ProofStore.open(db_path) as store, store.session() as s:
        prompts = [c.request["messages"][-1]["content"] for c in s.query(ModelCall).filter_by(role="generator")]
    assert len(prompts) == 5 and all(p.startswith("MY OWN PROMPT: ") for p in prompts)


def test_readme_budget_table_matches_the_presets():
    text = README.read_text()
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\|\s*`(small|medium|large|heavy)`\s*\|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = [int(c.strip()) for c in m.group(2).split("|")[:7]]
    assert set(rows) == set(BUDGETS)
    for name, knobs in BUDGETS.items():
        assert rows[name] == [knobs.proofs, knobs.verifications, knobs.rounds, knobs.refine_top,
                              knobs.analyses_per_refinement, knobs.meta_verifications, knobs.proofs_per_refinement]


def test_sigkill_mid_run_then_same_command_continues(tmp_path):
    """A real crash: the run is killed with SIGKILL while calls are in flight. The same command
    then sends only what was not answered (at most the concurrency limit re-sent) and ends where
    an uninterrupted run ends."""
    slow = tmp_path / "slow.jsonl"
    lines = []
    for line in DEMO.read_text().splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            rec["delay_s"] = 0.02
            lines.append(json.dumps(rec))
    slow.write_text("\n".join(lines) + "\n")
    env = dict(os.environ, PROVER_SCRIPT=str(slow), PROVER_CONCURRENCY="16")
    env.pop("PROVER_CONFIG", None)

    def command(db):
        return [sys.executable, "-m", "prover.cli.main", "run", str(sample_problems()), "--backend", "scripted",
                "--db", str(db), "--json"]

    ref = subprocess.run(command(tmp_path / "ref.db"), env=env, capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr
    reference = json.loads(ref.stdout)

    db = tmp_path / "crash.db"
    proc = subprocess.Popen(command(db), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from prover.store import ProofStore

    deadline = time.time() + 60
    answered = 0
    while time.time() < deadline and answered < 40:
        time.sleep(0.05)
        if db.exists():
            try:
                with ProofStore.open(db, migrate=False) as store:
                    answered = store.call_counts().get("ok", 0)
            except Exception:  # noqa: BLE001 - the schema may not exist yet
                answered = 0
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with ProofStore.open(db) as store:
        counts = store.call_counts()
        with store.session() as s:
            killed = s.scalars(select(Run.status)).all()
    assert 0 < counts.get("ok", 0) < reference["calls"]
    assert killed == ["interrupted"]  # seen as dead by the open above, not `running` forever

    again = subprocess.run(command(db), env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    resumed = json.loads(again.stdout)
    assert resumed["sent"] == reference["calls"] - counts["ok"]
    assert resumed["resent"] == counts.get("pending", 0) <= 16

    def view(summary):
        return [(r["problem"], r["status"], r["rounds"], r["proofs"], r["mean_score"], r["passed"], r["calls"],
                 r["tokens"]) for r in summary["results"]]

    assert view(resumed) == view(reference)


def test_mistyped_file_path_says_no_such_file(prover, tmp_path):
    out = prover("run", tmp_path / "problms.jsonl", "--backend", "scripted")
    assert out.exit_code == 2 and f"{tmp_path / 'problms.jsonl'}: no such file" in out.output
    assert "no problem matches" not in out.output
    out = prover("run", "data/problems", "--backend", "scripted", "--dry-run")
    assert out.exit_code == 2 and "no such file or directory, and no stored problem" in out.output
    # a plain id is still an unknown problem
    out = prover("run", "no-such-problem", "--backend", "scripted")
    assert out.exit_code == 2 and "no problem matches 'no-such-problem'" in out.output


def test_prover_script_in_help_and_in_the_scripted_error(prover, monkeypatch):
    assert "PROVER_SCRIPT" in CliRunner().invoke(cli, ["run", "--help"]).output
    monkeypatch.delenv("PROVER_SCRIPT")
    out = prover("run", sample_problems(), "--backend", "scripted", "--budget", "small", "--proofs", "1")
    assert out.exit_code == 3 and "PROVER_SCRIPT=FILE.jsonl" in out.output, out.output

"""File mode (`lake env lean --json FILE`) against tests/lean/fake_lean.py.

Synthetic: the fake prints recorded REPL messages (tests/fixtures/lean_recorded/repl_pairs.jsonl)
re-serialised in `lean --json`'s message form; no `lean --json` output was recorded."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from prover.core.lean_backend_records import LeanRunRequest
from prover.lean.file_mode import FileBackend, parse_lean_json

pytestmark = pytest.mark.timeout(60)

FAKE_LEAN = Path(__file__).parent / "fake_lean.py"


@pytest.fixture
def backend(tmp_path):
    def make(rules, **kw):
        table = tmp_path / "lean-table.json"
        table.write_text(json.dumps({"rules": rules}), encoding="utf-8")
        project = tmp_path / "project"
        project.mkdir(exist_ok=True)
        env = {**os.environ, "FAKE_LEAN_LOG": str(tmp_path / "lean.log")}
        return FileBackend(project, [sys.executable, "-S", str(FAKE_LEAN), str(table)], env=env,
                           memory_cap_bytes=kw.pop("memory_cap_bytes", None), **kw)
    return make


def _log(tmp_path):
    return [json.loads(line) for line in (tmp_path / "lean.log").read_text().splitlines()]


def test_messages_and_exit_code(backend, pair, tmp_path):
    """Row 790: `unsolved goals` (error) → exit 1 and the message in REPL form."""
    msgs = pair(790)["response"]["messages"]
    b = backend([{"contains": "apply Nat.succ", "messages": msgs}])
    code = "import Mathlib\n" + pair(790)["request"]["cmd"]
    raw = b.check(LeanRunRequest(code=code, timeout_s=20))
    assert raw.status == "ok"
    assert raw.exit_code == 1
    assert raw.messages == msgs
    run = _log(tmp_path)[0]
    # The whole file went to Lean, from a temporary file inside the project, removed afterwards.
    assert run["text"] == code
    assert Path(run["cwd"]) == tmp_path / "project"
    assert Path(run["file"]).parent == tmp_path / "project" / ".prover-tmp"
    assert not Path(run["file"]).exists()


def test_info_severity_and_clean_file(backend, pair):
    """Row 705's sorry warning; a file with no message at all exits 0."""
    warn = pair(705)["response"]["messages"]
    b = backend([{"contains": "sorry", "messages": warn}, {"contains": "", "messages": []}])
    assert b.check("import Mathlib\nexample : False := by sorry").messages == warn
    clean = b.check("import Mathlib\ntheorem t : True := trivial")
    assert clean.status == "ok" and clean.messages == [] and clean.exit_code == 0


def test_timeout_kills(backend):
    b = backend([{"contains": "", "action": "hang"}])
    raw = b.check(LeanRunRequest(code="theorem t : True := trivial", timeout_s=0.5))
    assert raw.status == "timeout"
    assert "0.5 s" in raw.error


def test_crash(backend):
    b = backend([{"contains": "", "action": "exit", "exit_code": 134, "stderr": "Stack overflow detected. Aborting.\n"}])
    raw = b.check("theorem t : True := trivial")
    assert raw.status == "crashed"
    assert raw.exit_code == 134
    assert "stack overflow" in raw.error


def test_missing_command_is_unavailable(tmp_path):
    b = FileBackend(tmp_path, [str(tmp_path / "no-lake"), "env", "lean", "--json"], memory_cap_bytes=None)
    raw = b.check("theorem t : True := trivial")
    assert raw.status == "unavailable"
    assert "no-lake" in raw.error


def test_parse_lean_json_keeps_other_lines_apart():
    out = ('{"severity":"information","pos":{"line":9,"column":0},"endPos":null,"fileName":"x.lean",'
           '"data":"\'A.one\' depends on axioms: [propext]","caption":""}\n✔ [2/3] Built X\n')
    messages, other = parse_lean_json(out)
    assert messages == [{"severity": "info", "pos": {"line": 9, "column": 0}, "endPos": None,
                         "data": "'A.one' depends on axioms: [propext]"}]
    assert other == ["✔ [2/3] Built X"]

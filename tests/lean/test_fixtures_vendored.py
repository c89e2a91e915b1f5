"""The Lean fixtures vendored in tests/fixtures/lean_recorded are verbatim copies of ../shared/fixtures."""

from __future__ import annotations

import json
from pathlib import Path

VENDORED = Path(__file__).parent.parent / "fixtures" / "lean_recorded"


def test_repl_pairs_are_verbatim(fixtures_dir):
    shared = (fixtures_dir / "lean-messages" / "lean_messages.jsonl").read_text(encoding="utf-8").splitlines()
    for line in (VENDORED / "repl_pairs.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        original = json.loads(shared[row.pop("row")])
        assert row == original
        assert row["origin"] == "lean-repl-test" and row["license"] == "Apache-2.0"


def test_kimina_files_are_verbatim(fixtures_dir):
    src = fixtures_dir / "kimina" / "tests" / "match"
    files = sorted(VENDORED.glob("kimina/*.lean"))
    assert len(files) == 3
    for f in files:
        assert f.read_bytes() == (src / "input" / f.name).read_bytes()
        out = f.with_suffix(".json")
        assert out.read_bytes() == (src / "output" / out.name).read_bytes()

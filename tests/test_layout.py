"""The suite's own layout: pytest's default import mode puts each test folder on sys.path and
imports test files by their base name, so two test files (or helper modules) with one name in
different folders break collection of the whole suite."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_module_names_are_unique_across_test_folders():
    names = Counter(p.name for p in TESTS.rglob("*.py")
                    if p.name not in ("conftest.py", "__init__.py") and "fixtures" not in p.parts)
    assert [n for n, c in names.items() if c > 1] == []

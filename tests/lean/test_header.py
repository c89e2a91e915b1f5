"""Splitting a Lean file into its import header and the rest."""

from __future__ import annotations

import pytest

from prover.core.errors import BadDataError
from prover.lean.header import split_imports


def _line_col(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1)


def test_minif2f_header():
    code = ("import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\n"
            "open BigOperators Real Nat Topology Rat\n\n/-- The sum -/\ntheorem t : 1 + 1 = 2 := by norm_num\n")
    s = split_imports(code)
    assert s.imports == ("Mathlib", "Aesop")
    assert s.import_command == "import Mathlib\nimport Aesop"
    assert "set_option maxHeartbeats 400000" in s.body and "import" not in s.body


@pytest.mark.parametrize("code", [
    "import Mathlib\ntheorem t : True := trivial",
    "-- a comment\n/- block /- nested -/ -/\nimport Mathlib\n  import Aesop -- why\n\ntheorem t :\n  True := trivial",
    "import Mathlib theorem t : True := trivial",
    "theorem t : True := trivial",
    "/-- doc -/\ntheorem t : True := trivial",
])
def test_body_keeps_file_positions(code):
    """Every character of the body sits at the same line and column as in the file."""
    s = split_imports(code)
    target = code.index("theorem")
    assert _line_col(s.body, s.body.index("theorem")) == _line_col(code, target)
    assert s.body.endswith(code[target:])


def test_doc_comment_after_imports_belongs_to_body():
    s = split_imports("import Mathlib\n/-- informal statement -/\ntheorem t : True := trivial")
    assert s.imports == ("Mathlib",)
    assert "/-- informal statement -/" in s.body


def test_key_is_the_import_lines_in_order():
    a = split_imports("import Mathlib\nimport Aesop\nopen Real\ntheorem a : True := trivial")
    b = split_imports("import Mathlib\n\nimport Aesop\nopen Nat\ntheorem b : True := trivial")
    c = split_imports("import Aesop\nimport Mathlib\ntheorem c : True := trivial")
    assert a.key == b.key == ("Mathlib", "Aesop")
    assert c.key != a.key


def test_no_imports_and_prelude():
    assert split_imports("theorem t : True := trivial").key == ()
    s = split_imports("prelude\nimport Init.Core\ndef x := 1")
    assert s.prelude and s.key == ("prelude", "Init.Core")
    assert s.import_command == "prelude\nimport Init.Core"


def test_module_system_header():
    s = split_imports("module\n\npublic import Mathlib.Data.Nat.Basic\nimport all Foo\n\ntheorem t : True := trivial")
    assert s.imports == ("Mathlib.Data.Nat.Basic", "Foo")
    assert s.key == ("module", "Mathlib.Data.Nat.Basic", "Foo")
    assert s.import_command == "module\nimport Mathlib.Data.Nat.Basic\nimport Foo"


def test_guillemets_and_errors():
    assert split_imports("import «My Lib».Basic\ntheorem t : True := trivial").imports == ("«My Lib».Basic",)
    with pytest.raises(BadDataError, match="unterminated comment"):
        split_imports("/- open\nimport Mathlib")

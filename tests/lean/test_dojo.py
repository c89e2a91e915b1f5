"""The optional lean-dojo backend."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from prover.core.errors import PrerequisiteError


@pytest.mark.skipif(importlib.util.find_spec("lean_dojo") is not None, reason="lean-dojo is installed")
def test_missing_lean_dojo_names_the_extra():
    from prover.lean.dojo import DojoBackend

    with pytest.raises(PrerequisiteError, match=r"prover\[lean\].*`lean` extra"):
        DojoBackend("https://github.com/yangky11/miniF2F-lean4", "5746b7d6c47855ce1294bed87329618ff7f1bc31")


STAND_IN = '''
"""A stand-in for lean_dojo's API (LeanGitRepo, Theorem, Dojo, run_tac): lean-dojo cannot run
without a Lean toolchain, so this only exercises the backend's step loop."""
class LeanGitRepo:
    def __init__(self, url, commit): self.url, self.commit = url, commit
class Theorem:
    def __init__(self, repo, path, name): self.repo, self.path, self.name = repo, path, name
class TacticState:
    def __init__(self, pp): self.pp = pp
class ProofFinished: pass
class LeanError:
    def __init__(self, error): self.error = error
class Dojo:
    def __init__(self, thm, timeout=600): self.thm = thm
    def __enter__(self): return self, TacticState("⊢ 1 + 1 = 2")
    def __exit__(self, *exc): return False
    def run_tac(self, state, tac):
        if tac == "norm_num": return ProofFinished()
        if tac == "skip": return TacticState(state.pp)
        return LeanError("unknown tactic")
'''


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    (tmp_path / "lean_dojo.py").write_text(STAND_IN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lean_dojo", raising=False)
    yield
    sys.modules.pop("lean_dojo", None)


def test_steps_stop_at_first_error_and_are_not_a_verdict(stand_in):
    from prover.lean.dojo import DojoBackend

    b = DojoBackend("https://example.invalid/repo", "abc")
    done = b.run_tactics("Foo.lean", "foo", ["skip", "norm_num", "never_run"])
    assert done.response["proof_finished"] is True
    assert [s["result"] for s in done.response["steps"]] == ["state", "proof_finished"]
    bad = b.run_tactics("Foo.lean", "foo", ["skip", "frobnicate", "norm_num"])
    assert bad.response["proof_finished"] is False
    assert bad.messages[0]["data"] == "unknown tactic"
    assert "not a verdict" in bad.notes[0]
    assert b.check("theorem t : True := trivial").status == "unavailable"

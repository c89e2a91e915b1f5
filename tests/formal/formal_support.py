"""Helpers of the formal-stage tests (not a test module).

Lean: the fake REPL (tests/lean/fake_repl.py) behind the real REPL pool. Nothing here was ever
answered by Lean for these files: every response is SYNTHETIC, assembled from recorded message
templates — the `declaration uses 'sorry'` warning and the `unsolved goals` error of the
leanprover-community/repl test suite (tests/fixtures/lean_recorded/repl_pairs.jsonl rows 725 and
719), and the epilogue's report: an info message in the shape of the recorded ones carrying the
text ProverCheck's source logs (never produced by Lean here: ProverCheck was never compiled), at
the checked file's epilogue line, with the nonce the fake REPL copies from the request. A file
the test does not list fails the way Lean fails it: the `unsolved goals` error and, on a checked
file, the epilogue's report of the target admitted with `sorry` (the fake REPL's ``failure``
answer): a definitive failure, cached like any.

Models: the scripted backend, answering by role and prompt. It proves wiring and bookkeeping,
never proving skill; no figure obtained with it is a result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from prover.core.lean_records import LeanLimits
from prover.lean.assemble import assemble
from prover.lean.audit import audit
from prover.lean.header import split_imports
from prover.lean.problem import LeanProblem
from prover.core.records import FormalStatementRecord, ProblemRecord, ProofRecord
from prover.lean.screen import screen

TESTS = Path(__file__).resolve().parent.parent
FAKE_REPL = TESTS / "lean" / "fake_repl.py"
LIMITS = LeanLimits()


def _pairs() -> dict[int, dict]:
    with open(TESTS / "fixtures" / "lean_recorded" / "repl_pairs.jsonl", encoding="utf-8") as f:
        return {r["row"]: r for r in map(json.loads, f)}


PAIRS = _pairs()
SORRY_WARNING = PAIRS[725]["response"]["messages"][0]
UNSOLVED = PAIRS[719]["response"]["messages"][0]
#: ProverCheck's report for a clean proof (the fake REPL writes in the request's nonce).
CHECK_REPORT = ("prover_check 1 nonce=NONCE status=ok type=match axioms=propext,Classical.choice,Quot.sound "
                "sorry=0 other=0 used=-")


def body(file_text: str) -> str:
    """What the pool sends for a file after importing its header, up to its epilogue (whose
    nonce is drawn when it is sent): the match key."""
    return split_imports(file_text).body.strip().split("\n#prover_check ", 1)[0]


def at_line(message: dict, line: int) -> dict:
    return {**message, "pos": {**message["pos"], "line": line}, "endPos": {**message["endPos"], "line": line}}


class LeanWorld:
    """A fake-REPL table: the files that verify, elaborate or print goals; everything else fails."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path
        self.table_path = tmp_path / "lean_table.json"
        self.log_path = tmp_path / "lean_requests.log"
        self.rules: list[dict] = []

    # -- what Lean "says" -------------------------------------------------------------------------

    def proves(self, problem_text: str, proof_text: str, used: str | None = None) -> "LeanWorld":
        """``proof_text`` is verified against ``problem_text``: the assembled file gets only the
        epilogue's report at its `#prover_check` line. ``used``: the report's ``used=`` digits
        (one per constant the epilogue asks about, 1: it occurs in the target's proof term), as
        ProverCheck's source would log them — SYNTHETIC, assembled like ``CHECK_REPORT`` from the
        recorded message shape, never produced by Lean; None: ``used=-`` (no list asked).
        The match key stops before the epilogue, so the rule answers the file whatever
        constants its epilogue lists."""
        result = audit(proof_text, problem_text)
        assert result.accepted, [r.to_json() for r in result.reasons]
        a = result.assembled(LIMITS)
        report = CHECK_REPORT if used is None else CHECK_REPORT.replace(" used=-", f" used={used}")
        msg = {"severity": "info", "pos": {"line": a.axioms_line, "column": 0},
               "endPos": {"line": a.axioms_line, "column": 60}, "data": report}
        self.rules.append({"match": {"cmd_contains": body(a.text)}, "response": {"messages": [msg]}})
        return self

    def fails(self, problem_text: str, proof_text: str) -> "LeanWorld":
        """``proof_text`` fails definitively: Lean's `unsolved goals` error, and the epilogue's
        report at its `#prover_check` line counting a sorry (Lean adds a declaration that
        elaborated with an error with `sorryAx`). A file the table does not list fails the same
        way (the fake REPL's ``failure`` answer, with `axioms=-`)."""
        a = audit(proof_text, problem_text).assembled(LIMITS)
        report = CHECK_REPORT.replace(" sorry=0 ", " sorry=1 ")
        assert report != CHECK_REPORT
        msgs = [at_line(UNSOLVED, 1), {"severity": "info", "pos": {"line": a.axioms_line, "column": 0},
                                       "endPos": {"line": a.axioms_line, "column": 60}, "data": report}]
        self.rules.append({"match": {"cmd_contains": body(a.text)}, "response": {"messages": msgs}})
        return self

    def elaborates(self, file_text: str, extra: list[dict] | None = None) -> "LeanWorld":
        """``file_text`` elaborates with its sorries (a sorry warning, no error)."""
        msgs = [at_line(SORRY_WARNING, 1)] + list(extra or [])
        self.rules.append({"match": {"cmd_contains": body(file_text)}, "response": {"messages": msgs}})
        return self

    def statement_elaborates(self, problem_text: str) -> "LeanWorld":
        return self.elaborates(LeanProblem.parse(problem_text).with_proof("sorry"))

    def sketch_elaborates(self, problem_text: str, sketch_text: str, extra: list[dict] | None = None) -> "LeanWorld":
        return self.elaborates(sketch_file(problem_text, sketch_text), extra)

    def write(self) -> "LeanWorld":
        table = {"rules": self.rules, "failure": {"messages": [at_line(UNSOLVED, 1)]}}
        self.table_path.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
        return self

    # -- running it -------------------------------------------------------------------------------

    @property
    def command(self) -> list[str]:
        return [sys.executable, "-S", str(FAKE_REPL), str(self.table_path)]

    def pool(self, processes: int = 4):
        """The real REPL pool over the fake REPL, with more than one process (DESIGN.md: anything
        that touches Lean is tested with several)."""
        import os

        from prover.lean.pool import PoolConfig, ReplPool

        self.write()
        return ReplPool(PoolConfig(command=self.command, env={**os.environ, "FAKE_REPL_LOG": str(self.log_path)},
                                   memory_cap_bytes=None, max_processes=processes,
                                   import_timeout_s=20))

    def requests(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        return [e for e in map(json.loads, self.log_path.read_text(encoding="utf-8").splitlines()) if "request" in e]


def sketch_file(problem_text: str, sketch_text: str) -> str:
    """The file the engine elaborates for a sketch: the sketch assembled into its problem."""
    problem = LeanProblem.parse(problem_text)
    return assemble(problem, screen(problem, sketch_text).parts, heartbeats=LIMITS.heartbeats).text


def lean_block(code: str, thinking: str = "Plan: follow the hypotheses.") -> str:
    return f"<think>{thinking}</think>\nHere is the proof.\n```lean4\n{code.strip()}\n```"


def vote(yes: bool) -> str:
    return f"<think>compare</think>Both state the same claim.\n\\boxed{{{'yes' if yes else 'no'}}}"


class Script:
    """A scripted model for the formal roles: a list of (role, prompt substring, answer) rules,
    first match wins; answers may be callables of the call. Unmatched calls fail the test."""

    def __init__(self, rules: list[tuple[str, str, str | Callable]]):
        self.rules = rules

    def __call__(self, call):
        prompt = call.messages[-1].content
        for role, needle, answer in self.rules:
            if role == call.role and needle in prompt:
                return answer(call) if callable(answer) else answer
        raise AssertionError(f"no scripted answer for a {call.role} call: {prompt[:200]!r}")


def assembled_line(problem_text: str, proof_text: str, proof_line: int) -> int:
    """The line of the assembled file that comes from ``proof_line`` of the proof text."""
    problem = LeanProblem.parse(problem_text)
    a = assemble(problem, screen(problem, proof_text).parts, heartbeats=LIMITS.heartbeats)
    for line in range(1, a.text.count("\n") + 2):
        where = a.locate(line)
        if where is not None and where[0].source == "proof" and where[1] == proof_line:
            return line
    raise AssertionError(f"line {proof_line} of the proof is not in the assembled file")


# -- informal outputs (the scripted model of the informal roles) -------------------------------

def proof_output(body: str, self_score: str = "1") -> str:
    return (f"<think>work</think>\n## Solution\n{body}\n\n## Self Evaluation\n"
            f"Here is my evaluation of the solution: checked.\n"
            f"Based on my evaluation, the final overall score should be: \\boxed{{{self_score}}}")


def verdict_output(score: str) -> str:
    issue = "ISSUE: step 2 is not justified." if score != "1" else "No issues found."
    return (f"Here is my evaluation of the solution:\n{issue}\n\n"
            f"Based on my evaluation, the final overall score should be: \\boxed{{{score}}}")


def meta_output(score: str) -> str:
    return ('Here is my analysis of the "solution evaluation":\nChecked.\n'
            f'Based on my analysis, I will rate the "solution evaluation" as: \\boxed{{{score}}}')


# -- problems, proofs and running the stage ------------------------------------------------------

ROLES = ("generator", "verifier", "meta_verifier", "formalizer", "prover", "judge")

TOY_HEADER = "theorem toy_sum (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b = 5"
TOY = f"import Mathlib\n\n{TOY_HEADER} := by sorry\n"
TOY_STATEMENT = "Let a and b be natural numbers with a = 2 and b = 3. Prove that a + b = 5."
NL_PROOF = ("Step 1. Since a = 2 and b = 3, we get a + b = 2 + 3.\n\n"
            "Step 2. Finally 2 + 3 = 5, hence a + b = 5.")

SKETCH = f"""{TOY_HEADER} := by
  -- Step 1: substitute the hypotheses
  have h2 : a + b = 2 + 3 := by sorry
  -- Step 2: compute
  have h3 : (2 : ℕ) + 3 = 5 := by sorry
  rw [h2, h3]
"""


def toy_problem(collection: str = "mini", external_id: str = "toy", *, formal: bool = True,
                statement: str = TOY_STATEMENT, answer: str | None = None) -> ProblemRecord:
    fs = [FormalStatementRecord(toolchain="leanprover/lean4:v4.27.0", preamble="import Mathlib\n\n",
                                statement=f"{TOY_HEADER} := by sorry\n")] if formal else []
    return ProblemRecord(collection=collection, external_id=external_id, informal_statement=statement,
                         reference_answer=answer, formal_statements=fs)


def add_problem_with_proof(store, record: ProblemRecord, proof_text: str = NL_PROOF, answer: str | None = None) -> int:
    from prover.store.schema import Proof

    store.add_problems([record])
    pid = store.resolve_problem(f"{record.collection}/{record.external_id}").id
    [proof_id] = store.add_proofs([ProofRecord(problem_id=pid, text=proof_text, source="imported")])
    if answer is not None:
        with store.session() as s:
            s.get(Proof, proof_id).answer = answer
    return proof_id


def model_config():
    from prover.core.llm_records import ModelConfig, RoleSettings

    return ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0))


def pin():
    from prover.lean.toolchain import REPO_ROOT, read_pin

    return read_pin(REPO_ROOT / "lean_project")


def formalize(store, world: LeanWorld, script, proof_id: int, **config):
    """Run the formal stage on one proof with the scripted model and the fake REPL: (result,
    scripted backend)."""
    [result], backend = formalize_many(store, world, script, [proof_id], **config)
    return result, backend


def formalize_many(store, world: LeanWorld, script, proof_ids: list[int], **config):
    """The formal stage on several proofs at once (one engine, one Lean pool): (results,
    scripted backend)."""
    from prover.core.formal_records import FormalConfig
    from prover.llm import ScriptedBackend
    from prover.pipeline.formal_run import formalize_proofs

    backend = ScriptedBackend(script)
    config.setdefault("trusted_collections", ("mini",))
    cfg = FormalConfig(**config)
    with world.pool() as pool:
        results = formalize_proofs(store, proof_ids, config=cfg, model_config=model_config(), lean_backend=pool,
                                   pin=pin(), backends={r: backend for r in ROLES})
    return results, backend

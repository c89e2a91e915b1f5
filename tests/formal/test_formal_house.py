"""The formal stage's layout and plumbing: one module per step, one with-sorry elaboration, a
check result that carries its row and line map (a try is screened once), typed row writes.

Synthetic Lean responses (see formal_support.py): assembled from recorded message templates,
never produced by Lean for these files. The scripted model proves wiring, never proving skill."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import pytest
from formal_support import SKETCH, SORRY_WARNING, TOY, Script, assembled_line, at_line, formalize, lean_block, pin, vote

from prover.core.formal_records import DEFAULT_PORTFOLIO
from prover.formal.sketch import parse_sketch
from prover.lean.problem import LeanProblem

pytestmark = pytest.mark.timeout(120)

NODES = parse_sketch(SKETCH.strip(), LeanProblem.parse(TOY))
WRONG = TOY.replace(":= by sorry", ":= by\n  nlinarith [h₀, h₁]")


def node_text(key: str) -> str:
    return NODES.node_problem(next(s for s in NODES.holes if s.key == key))


def node_proof(key: str, proof: str) -> str:
    return LeanProblem.parse(node_text(key)).with_proof(proof)


def test_every_module_of_the_formal_stage_is_named_where_a_newcomer_looks():
    """The package docstring names each module of prover/formal (and names no missing one); the
    engine's names the module of each step."""
    import re

    import prover.formal as formal
    import prover.formal.engine as engine

    here = Path(formal.__file__).parent
    modules = {p.name for p in here.glob("*.py") if p.name != "__init__.py"}
    named = set(re.findall(r"``(\w+\.py)``", formal.__doc__ or ""))
    assert modules == named, (modules - named, named - modules)
    steps = set(re.findall(r"``(\w+\.py)``", engine.__doc__ or ""))
    assert {"statement.py", "root.py", "sketching.py", "nodes.py", "alignment.py", "feedback.py",
            "assembly.py"} <= steps


def _runner(world, store=None):
    from prover.formal.checker import LeanRunner

    pool = world.pool()
    return pool, LeanRunner(pool, pin(), store=store)


def test_elaborate_with_sorry_reads_statements_and_sketches(world):
    """One place reads a with-sorry elaboration: a statement that elaborates, a sketch whose info
    messages come back at the sketch's own lines, and a file with an error (its text)."""
    info_line = assembled_line(TOY, SKETCH, 3)
    goal = {**at_line(SORRY_WARNING, info_line), "severity": "info", "data": "a b : ℕ ⊢ a + b = 2 + 3"}
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH, extra=[goal])
    problem = LeanProblem.parse(TOY)
    pool, lean = _runner(world)

    async def go():
        return (await lean.elaborate_with_sorry(problem), await lean.elaborate_with_sorry(problem, SKETCH),
                await lean.elaborate_with_sorry(problem, SKETCH.replace("2 + 3 := by sorry", "3 + 2 := by sorry")))

    with pool:
        statement, sketch, broken = asyncio.run(go())
    assert statement.ok is True and statement.assembled is None
    assert sketch.ok is True and sketch.infos_by_proof_line() == {3: "a b : ℕ ⊢ a + b = 2 + 3"}
    assert broken.ok is False and "unsolved goals" in broken.error_text()


def test_a_sketch_elaborates_once_per_run(world):
    """The attempts on the proofs of a problem write the same sketch: its definitive elaboration
    is asked of Lean once in a run (one after the other, not only while in flight); an answer
    that did not come (a timeout) is asked again."""
    from prover.core.lean_records import LeanLimits
    from prover.formal.checker import LeanRunner

    slow = SKETCH.replace("(2 : ℕ) + 3 = 5", "(3 : ℕ) + 2 = 5")
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.rules.append({"match": {"cmd_contains": "(3 : ℕ) + 2 = 5"}, "action": "hang"})
    problem = LeanProblem.parse(TOY)
    pool = world.pool()
    lean = LeanRunner(pool, pin(), limits=LeanLimits(time_s=1))

    async def go():
        return [await lean.elaborate_with_sorry(problem, text) for text in (SKETCH, SKETCH, slow, slow)]

    with pool:
        done = asyncio.run(go())
    assert [el.ok for el in done] == [True, True, None, None]
    assert done[1].infos_by_proof_line() == done[0].infos_by_proof_line() and done[1].assembled is not None
    sent = Counter("(3 : ℕ) + 2" in e["request"]["cmd"] for e in world.requests() if "env" in e["request"])
    assert sent == Counter({False: 1, True: 2}) and lean.checks == 4


def test_a_cached_check_carries_its_row_without_looking_it_up(fstore, world):
    """The second check of a file comes from the check cache with its row id in the same answer:
    the row is never looked up by key again."""
    proof = node_proof("prover_node_1", "by\n  omega")
    world.proves(node_text("prover_node_1"), proof)
    pool, lean = _runner(world, fstore)

    def no_lookup(*_a, **_k):
        raise AssertionError("the check's row was looked up again")

    fstore.lean_check_row_id = no_lookup

    async def go():
        first = await lean.prove(proof, node_text("prover_node_1"))
        return first, await lean.prove(proof, node_text("prover_node_1"))

    with pool:
        first, again = asyncio.run(go())
    assert first.success and not first.cached and first.check_id is not None
    assert again.cached and again.check_id == first.check_id and lean.runs == 1
    assert again.body_and_aux() == ("by\n  omega", [])


@pytest.fixture
def screened(monkeypatch) -> Counter:
    """How often each proof text was screened, counted in every prover module that calls the
    screen (each imported it by name)."""
    import prover.lean.screen  # noqa: F401 - the package exports a function of the same name

    original = sys.modules["prover.lean.screen"].screen
    seen: Counter = Counter()

    def counted(problem, proof_text, *args, **kwargs):
        seen[proof_text] += 1
        return original(problem, proof_text, *args, **kwargs)

    # Only prover's own modules, read through __dict__: getattr on a lazy module of another
    # package (transformers) imports it, and some of those fail without optional extras.
    for name, mod in list(sys.modules.items()):
        if name.split(".")[0] == "prover" and vars(mod).get("screen") is original:
            monkeypatch.setattr(mod, "screen", counted)
    return seen


def test_each_try_is_screened_once(fstore, world, screened):
    """A try's proof text is screened once — for the check; Lean's messages for the repair prompt
    and the solved node's body come from that screen, not from screening the text again."""
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    world.proves(node_text("prover_node_1"), node_proof("prover_node_1", "by\n  omega"))
    world.proves(node_text("prover_node_2"), node_proof("prover_node_2", "by\n  linarith [h2]"))
    world.proves(TOY, NODES.assemble({"prover_node_1": "by\n  omega", "prover_node_2": "by\n  linarith [h2]"}))
    screened.clear()  # the world's own set-up screens too
    script = Script([
        ("prover", "Complete the Lean 4 proof below (Lean 4 with Mathlib). Think", lean_block(WRONG)),
        ("formalizer", "Write a Lean 4 proof sketch", lean_block(SKETCH)),
        ("formalizer", "Restate, in plain mathematical language", "<think>.</think>It claims a + b = 2 + 3."),
        ("judge", "formal step below", vote(True)),
        ("prover", "It is one step of a larger proof", lean_block(node_proof("prover_node_2", "by\n  linarith"))),
        ("prover", "does not check", lean_block(node_proof("prover_node_2", "by\n  linarith [h2]"))),
    ])
    result, _ = formalize(fstore, world, script, fstore.proof_id, direct_attempts=1, refute=False)
    assert result.status == "verified", result.stop_reason
    tries = [t for t in fstore.formal_rows("try", attempt_id=result.attempt_id) if t.code]
    stages = Counter(t.stage for t in tries)
    assert stages["repair"] == 1 and stages["prover"] == 1 and stages["portfolio"] >= len(DEFAULT_PORTFOLIO)
    codes = {t.code for t in tries}
    assert len(codes) == len(tries)  # no file is tried twice here
    assert Counter({c: screened[c] for c in codes}) == Counter({c: 1 for c in codes})


def test_the_sketch_is_screened_once(fstore, world, screened):
    """The sketch's text is screened once — to parse it; its elaboration assembles the file from
    that screen's parts instead of screening the text again."""
    world.statement_elaborates(TOY).sketch_elaborates(TOY, SKETCH)
    screened.clear()  # the world's own set-up screens too
    script = Script([
        ("prover", "", lean_block(WRONG)),
        ("formalizer", "Write a Lean 4 proof sketch", lean_block(SKETCH)),
        ("formalizer", "Restate, in plain mathematical language", "<think>.</think>It claims a + b = 2 + 3."),
        ("judge", "formal step below", vote(True)),
    ])
    result, _ = formalize(fstore, world, script, fstore.proof_id, direct_attempts=1, refute=False)
    [sketch] = [k for k in fstore.formal_rows("sketch", attempt_id=result.attempt_id) if k.status == "elaborated"]
    assert result.nodes == 2, result.stop_reason  # it was parsed and elaborated
    assert screened[sketch.text] == 1


def test_the_attempt_row_is_a_typed_record_of_its_table():
    """The attempt's own row is written from a record whose fields are columns of
    ``formal_attempts``: a misspelt field or a wrong type fails when the row is built, and only
    the fields set are written."""
    from pydantic import ValidationError

    from prover.core.formal_step_records import AttemptRow
    from prover.store.schema import FormalAttempt

    assert set(AttemptRow.model_fields) <= {c.key for c in FormalAttempt.__mapper__.column_attrs}
    row = AttemptRow().updated(sketch_id=3, nodes=2)
    assert row.columns() == {"sketch_id": 3, "nodes": 2}
    assert row.updated(status="unsolved").columns() == {"sketch_id": 3, "nodes": 2, "status": "unsolved"}
    for bad in ({"sketch": 3}, {"nodes": "two"}, {"status": "done"}):
        with pytest.raises(ValidationError):
            row.updated(**bad)


def test_read_with_sorry_is_the_one_reading_of_a_with_sorry_elaboration():
    """Sorry warnings are expected; an error means no (its first line is the detail); no answer
    from Lean is neither. Recorded REPL message templates (formal_support.py), SYNTHETIC pairs."""
    from formal_support import UNSOLVED

    from prover.core.lean_backend_records import LeanRawResponse
    from prover.lean.check import read_with_sorry

    fine = read_with_sorry(LeanRawResponse(backend="repl", status="ok", response={"messages": [SORRY_WARNING]}))
    broken = read_with_sorry(LeanRawResponse(backend="repl", status="ok",
                                             response={"messages": [SORRY_WARNING, UNSOLVED]}))
    late = read_with_sorry(LeanRawResponse(backend="repl", status="timeout", error="no answer in 300 s"))
    assert (fine.ok, fine.detail, len(fine.messages)) == (True, None, 1)
    assert broken.ok is False and broken.detail == UNSOLVED["data"].splitlines()[0] and len(broken.messages) == 2
    assert late.ok is None and late.detail

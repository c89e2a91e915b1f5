"""Prompts of the formal stage, in our own words. What reaches them (DESIGN.md, "What reaches a
prompt"): the informal statement, the NL proof being formalized (and its own final answer), and
formal statements with comments removed — never a reference answer or solution.

Output contracts: Lean code is read from the last ```lean4 block after ``</think>``; a judge's
vote is ``\\boxed{yes}`` or ``\\boxed{no}``; a back-translation is the text after ``</think>``."""

from __future__ import annotations

from collections.abc import Sequence

from prover.core.hashing import hash_json

AUTOFORMALIZE = """\
Translate the mathematical problem below into a Lean 4 theorem statement using Mathlib. State \
exactly what the problem asks: the same objects, hypotheses and conclusion, nothing added or \
dropped. {answer_clause}Do not prove it: end the statement with `:= by sorry`. Begin the file with \
`import Mathlib`. Write the file in one ```lean4 code block.

Problem:
{statement}
"""

ANSWER_CLAUSE = """The problem asks for a value; a solution claims the answer is {answer}. State the \
theorem so that it asserts this answer is the (complete) answer to the problem. """

BACK_TRANSLATE = """\
Below is a Lean 4 theorem statement. Restate it in plain mathematical language, as a problem \
statement a mathematician would write: every hypothesis and the exact conclusion, with no Lean \
syntax. Do not prove it and do not comment on it.

```lean4
{lean}
```
"""

FAITHFULNESS = """\
Decide whether two problem statements say the same thing: the same objects and hypotheses and \
the same conclusion. Differences of wording or notation do not matter; a missing or extra \
hypothesis, or a weaker or stronger conclusion, does. When A asks for a value and B asserts that \
a particular value is the answer, B counts as the same problem if it claims exactly that this \
value answers A's question (whether the value is right is not for you to judge). Answer \
\\boxed{{yes}} if they are the same problem, \\boxed{{no}} otherwise.

Statement A (the original problem):
{statement}

Statement B (a restatement of a formalization):
{back_translation}

The formalization:
```lean4
{lean}
```
"""

ALIGN_BACK = """\
Below is one step of a Lean 4 proof: a claim `have {name} : ...` made in the context of the \
hypotheses listed before it. Restate, in plain mathematical language, what the step claims, \
including which hypotheses it uses. Do not prove it.

```lean4
theorem step {statement} := by sorry
```
"""

ALIGNMENT = """\
A natural-language proof was formalized step by step. Decide whether the formal step below \
claims the same thing as the natural-language step it was written for (given what the proof \
has established before it). Differences of notation do not matter; a claim that is weaker, \
stronger or about something else does. Answer \\boxed{{yes}} or \\boxed{{no}}.

Problem:
{statement}

Natural-language step {index}:
{nl_step}

The formal step, restated:
{back_translation}

The formal step:
```lean4
have {name} : {type_text}
```
"""

WHOLE_PROOF = """\
Complete the Lean 4 proof below (Lean 4 with Mathlib). Think the proof through first; then write \
the complete file, with the theorem statement exactly as given and no `sorry`, in one \
```lean4 code block at the end of your answer.

```lean4
{lean}
```
"""

NODE_PROOF = """\
Complete the Lean 4 proof below (Lean 4 with Mathlib). It is one step of a larger proof; the \
informal argument for it is given as a hint. Keep the statement exactly as given, use no \
`sorry`, and write the complete file in one ```lean4 code block at the end of your answer.

Informal argument:
{hint}

```lean4
{lean}
```
"""

REPAIR = """\
The Lean 4 proof below does not check. Lean's messages are listed after it. Fix the proof: \
keep the theorem statement exactly as given, use no `sorry`, and write the complete corrected \
file in one ```lean4 code block at the end of your answer.

```lean4
{code}
```

Lean's messages:
{messages}
"""

SKETCH = """\
Below are a problem, its formal statement in Lean 4 (Mathlib), and a natural-language proof \
split into numbered steps. Write a Lean 4 proof sketch of the theorem that follows the \
natural-language proof step by step:

- for each step that establishes a claim, write `have NAME : CLAIM := by sorry` on its own line, \
preceded by a comment line `-- Step K` naming the step it formalizes;
- keep the theorem statement exactly as given{slot_clause};
- after the steps, close the goal from them (or leave a final `sorry`);
- every `sorry` must stand for a claim of the natural-language proof; use no other `sorry`.

Write the complete file in one ```lean4 code block at the end of your answer.

Problem:
{statement}

Formal statement:
```lean4
{lean}
```

Natural-language proof:
{steps}
"""

SLOT_CLAUSE = ", and fill each `abbrev ... := sorry` answer with the answer the proof gives"

SKETCH_REPAIR = """\
The Lean 4 proof sketch below does not elaborate (apart from its `sorry` steps). Lean's messages \
are listed after it. Fix the sketch: keep its `have ... := by sorry` steps and their `-- Step K` \
comments, keep the theorem statement exactly as given, and write the complete corrected file in \
one ```lean4 code block at the end of your answer.

```lean4
{code}
```

Lean's messages:
{messages}
"""

TEMPLATES = {
    "autoformalize": AUTOFORMALIZE, "answer_clause": ANSWER_CLAUSE, "back_translate": BACK_TRANSLATE,
    "faithfulness": FAITHFULNESS, "align_back": ALIGN_BACK, "alignment": ALIGNMENT, "whole_proof": WHOLE_PROOF,
    "node_proof": NODE_PROOF, "repair": REPAIR, "sketch": SKETCH, "slot_clause": SLOT_CLAUSE,
    "sketch_repair": SKETCH_REPAIR,
}


def fingerprint() -> str:
    """A hash of every template (part of a formal attempt's identity)."""
    return hash_json(TEMPLATES)


def numbered_steps(steps: Sequence[str]) -> str:
    return "\n\n".join(f"Step {i}. {s}" for i, s in enumerate(steps, 1))


def autoformalize(statement: str, answer: str | None) -> str:
    clause = ANSWER_CLAUSE.format(answer=answer) if answer else ""
    return AUTOFORMALIZE.format(statement=statement.strip(), answer_clause=clause)


def back_translate(lean: str) -> str:
    return BACK_TRANSLATE.format(lean=lean.strip())


def faithfulness(statement: str, back_translation: str, lean: str) -> str:
    return FAITHFULNESS.format(statement=statement.strip(), back_translation=back_translation.strip(),
                               lean=lean.strip())


def align_back(name: str, statement: str) -> str:
    return ALIGN_BACK.format(name=name, statement=statement.strip())


def alignment(statement: str, index: int, nl_step: str, back_translation: str, name: str, type_text: str) -> str:
    return ALIGNMENT.format(statement=statement.strip(), index=index, nl_step=nl_step.strip(),
                            back_translation=back_translation.strip(), name=name, type_text=type_text.strip())


def whole_proof(lean: str) -> str:
    return WHOLE_PROOF.format(lean=lean.strip())


def node_proof(lean: str, hint: str) -> str:
    return NODE_PROOF.format(lean=lean.strip(), hint=hint.strip() or "(none)")


def repair(code: str, messages: str) -> str:
    return REPAIR.format(code=code.strip(), messages=messages.strip() or "(no message)")


def sketch(statement: str, lean: str, steps: Sequence[str], has_slots: bool) -> str:
    return SKETCH.format(statement=statement.strip(), lean=lean.strip(), steps=numbered_steps(steps),
                         slot_clause=SLOT_CLAUSE if has_slots else "")


def sketch_repair(code: str, messages: str) -> str:
    return SKETCH_REPAIR.format(code=code.strip(), messages=messages.strip() or "(no message)")

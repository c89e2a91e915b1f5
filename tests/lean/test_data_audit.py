"""The audit over every problem in the shared data, each with its `sorry` replaced by a
plausible proof body: zero false rejections caused by the preamble, in every form a proof file
may take (the whole problem file, the target alone, the target with its docstring). And every
recorded Kimina input (real prover output) passes against the problem its statement defines."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from prover.lean.audit import audit
from prover.lean.problem import LeanProblem

BODY = "by\n  intro x\n  nlinarith [sq_nonneg (x - 1), sq_nonneg (x + 1)]"


def all_problems(data: Path) -> list[tuple[str, str]]:
    out = []
    for f in sorted((data / "putnambench" / "trishullab-PutnamBench" / "lean4" / "src").glob("*.lean")):
        out.append((f"putnambench/{f.stem}", f.read_text()))
    for f in sorted((data / "minif2f" / "yangky11-miniF2F-lean4" / "MiniF2F").glob("*/*.lean")):
        out.append((f"yangky11/{f.stem}", f.read_text()))
    for rel in ("minif2f/deepseek-prover-v1.5/minif2f.jsonl", "proofnet/deepseek-prover-v1.5/proofnet.jsonl",
                "putnambench/goedel-prover/putnam.jsonl"):
        for line in (data / rel).read_text().splitlines():
            r = json.loads(line)
            out.append((f"{rel.split('/')[0]}/{r['name']}", r["header"] + r["formal_statement"]))
    for line in (data / "minif2f" / "minif2f_lean4_informal_formal.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("lean_file_yangky11"):
            out.append((f"joined/{r['name']}", r["lean_file_yangky11"]))
    return out


def proof_variants(p: LeanProblem) -> dict[str, str]:
    slots = {s.full_name: (s.reference_comment or "default").strip() for s in p.answer_slots}
    full = p.with_proof(BODY, slots)
    slot_text = "".join(f"{s.header_text} := {slots[s.full_name]}\n\n" for s in p.answer_slots)
    defs = "".join(p.command_text(c) + "\n\n" for c, r in zip(p.commands, p.roles) if r == "preamble"
                   and c.decl is not None)
    bare = slot_text + defs + f"{p.target.header_text} := {BODY}\n"
    doc = f"/-- {p.target.docstring} -/\n" if p.target.docstring else ""
    return {"full": full, "bare": bare, "docstring": slot_text + defs + doc + f"{p.target.header_text} := {BODY}\n"}


def test_no_false_rejections_over_the_shared_data(data_dir):
    problems = all_problems(data_dir)
    assert len(problems) > 2500
    rejected: Counter = Counter()
    examples = []
    for name, text in problems:
        p = LeanProblem.parse(text, source=name)
        for form, proof in proof_variants(p).items():
            result = audit(proof, p)
            if not result.accepted:
                rejected[form] += 1
                examples.append((name, form, result.reasons[:3]))
    assert not rejected, examples[:10]


def test_kimina_inputs_pass_against_their_statements(fixtures_dir):
    """The Kimina fixtures are real prover outputs (Goedel-Prover on Lean Workbook); the problem
    is the same file with the proof cut at the theorem's `:= by`."""
    inputs = sorted((fixtures_dir / "kimina" / "tests" / "match" / "input").glob("*.lean"))
    assert len(inputs) == 102
    for f in inputs:
        text = f.read_text()
        m = re.search(r"^theorem .*?:=\s*by", text, re.S | re.M)
        problem = text[: m.end()] + " sorry\n"
        result = audit(text, problem)
        assert result.accepted, (f.name, result.reasons)

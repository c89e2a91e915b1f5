"""A toy IMO-ProofBench (four problems, two per split) and a scripted world for it: each proof
names its problem's marker and the grader gives fixed points per marker. It proves wiring and
bookkeeping of ``prover eval``, never proving or grading skill: nothing here is a result."""

from __future__ import annotations

import csv
import json
from pathlib import Path

# marker -> (problem id, grader's answer)
TOY = {
    "TOYB1": ("PB-Basic-001", "All steps hold. <points>7 out of 7</points>"),
    "TOYB2": ("PB-Basic-002", "A small slip in the last case. <points>6 out of 7</points>"),
    "TOYA1": ("PB-Advanced-001", "Only the first claim is proved. <points>1 out of 7</points>"),
    "TOYA2": ("PB-Advanced-002", "I cannot tell."),  # no grade: counts 0
}
EXPECTED = {"basic": 100 * 13 / 14, "advanced": 100 * 1 / 14, "all": 100 * 14 / 28}
REF_SOLUTION = "REFSOL-SECRET"
GUIDELINES = "GUIDE-SECRET"


def write_toy_bench(folder: Path) -> Path:
    path = folder / "proofbench.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Problem ID", "Problem", "Solution", "Grading guidelines", "Category", "Level", "Short Answer",
                    "Source"])
        for marker, (pid, _) in TOY.items():
            w.writerow([pid, f"Prove the toy claim {marker} about {{x}}.", f"{REF_SOLUTION} {marker}",
                        f"(Partial) {GUIDELINES} {marker}", "Algebra", "IMO-easy", "", "toy"])
    return path


def proof_output(body: str) -> str:
    return (f"## Solution\n{body}\n\n## Self Evaluation\nHere is my evaluation of the solution: fine.\n"
            "Based on my evaluation, the final overall score should be: \\boxed{1}")


VERDICT = ("Here is my evaluation of the solution:\nNo issues found.\n\n"
           "Based on my evaluation, the final overall score should be: \\boxed{1}")


def script_lines() -> list[dict]:
    """The scripted outputs as rules (the JSONL form PROVER_SCRIPT reads)."""
    lines = []
    for marker, (_, grade) in TOY.items():
        lines.append({"role": "judge", "match": f"proof of {marker}", "text": grade})
        lines.append({"role": "generator", "match": marker, "text": proof_output(f"A proof of {marker}.")})
    lines.append({"role": "verifier", "text": VERDICT})
    return lines


def write_script(folder: Path) -> Path:
    path = folder / "script.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in script_lines()), encoding="utf-8")
    return path

"""lean-dojo, optional: runs a proof tactic by tactic on a theorem of a repository that
lean-dojo has traced. Useful to replay and study proofs step by step; it never gives a verdict
(verdicts come from command or file mode: `repl`, `file`, `kimina`).

lean-dojo is imported only when this backend is chosen; without it, a PrerequisiteError names the
``lean`` extra.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from prover.core.errors import PrerequisiteError
from prover.core.lean_backend_records import LeanRawResponse, LeanRunRequest

NOT_A_VERDICT = ("lean-dojo checks tactic by tactic in a traced repository; it cannot check a whole file "
                 "(use --lean-backend repl, file or kimina for verdicts)")


def require_lean_dojo():
    try:
        import lean_dojo
    except ImportError as exc:
        raise PrerequisiteError(
            "the dojo backend needs lean-dojo: pip install 'prover[lean]' (the `lean` extra); it also needs "
            f"a Lean toolchain and a repository traced by lean-dojo ({exc})") from exc
    return lean_dojo


class DojoBackend:
    """Tactic-by-tactic replay with lean-dojo on ``repo_url`` at ``commit`` (traced beforehand
    with ``lean_dojo.trace``)."""

    name = "dojo"

    def __init__(self, repo_url: str, commit: str):
        self.ld = require_lean_dojo()
        self.repo = self.ld.LeanGitRepo(repo_url, commit)

    def check(self, request: LeanRunRequest | str) -> LeanRawResponse:
        return LeanRawResponse(backend=self.name, status="unavailable", error=NOT_A_VERDICT)

    def run_tactics(self, file_path: str, theorem: str, tactics: Sequence[str], *,
                    timeout_s: float = 600) -> LeanRawResponse:
        """Run ``tactics`` in order from the theorem's initial state; stops at the first error.
        The response lists each step; ``proof_finished`` says whether the goals were closed."""
        ld = self.ld
        t0 = time.monotonic()
        thm = ld.Theorem(self.repo, file_path, theorem)
        steps: list[dict[str, Any]] = []
        finished = False
        with ld.Dojo(thm, timeout=int(timeout_s)) as (dojo, state):
            for tac in tactics:
                result = dojo.run_tac(state, tac)
                if isinstance(result, ld.ProofFinished):
                    steps.append({"tactic": tac, "result": "proof_finished"})
                    finished = True
                    break
                if isinstance(result, ld.TacticState):
                    steps.append({"tactic": tac, "result": "state", "goals": result.pp})
                    state = result
                    continue
                error = getattr(result, "error", None) or type(result).__name__
                steps.append({"tactic": tac, "result": "error", "error": error})
                break
        messages = [{"severity": "error", "pos": None, "endPos": None, "data": s["error"]}
                    for s in steps if s["result"] == "error"]
        return LeanRawResponse(backend=self.name, status="ok", wall_s=time.monotonic() - t0,
                               response={"steps": steps, "proof_finished": finished}, messages=messages,
                               notes=["tactic mode (lean-dojo): not a verdict"])

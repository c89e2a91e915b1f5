"""Progress bars for a run: one per stage (proofs generated, refined, verifications,
meta-verifications, judge calls) and one for problems. Shown on a terminal only."""

from __future__ import annotations

import sys
from typing import Any

from prover.core.informal_records import ProblemResult

_LABELS = {"generate": "generate", "refine": "refine", "verify": "verify", "meta": "meta-verify", "judge": "judge"}


class RichProgress:
    """The search's Progress, drawn with rich on stderr. Use as a context manager."""

    def __init__(self, problems: int, *, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._problems = problems
        self.finished = 0

    def __enter__(self) -> "RichProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=Console(stderr=True), transient=False)
            self._progress.start()
            self._tasks["problems"] = self._progress.add_task("problems", total=self._problems)
            for stage, label in _LABELS.items():
                self._tasks[stage] = self._progress.add_task(label, total=0, visible=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def planned(self, stage: str, n: int) -> None:
        if self._progress is not None and n:
            task = self._tasks[stage]
            total = self._progress.tasks[task].total or 0
            self._progress.update(task, total=total + n, visible=True)

    def done(self, stage: str, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._tasks[stage], n)

    def problem_done(self, result: ProblemResult) -> None:
        self.finished += 1
        if self._progress is not None:
            self._progress.advance(self._tasks["problems"], 1)

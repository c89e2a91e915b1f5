"""Runs: one row per data-producing command."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from prover import __version__
from prover.store.schema import Run, utcnow


class RunsMixin:
    def start_run(self, kind: str, *, command: list[str] | None = None, config: dict[str, Any] | None = None,
                  seed: int | None = None, run_key: str | None = None, reveals_reference: bool = False) -> int:
        with self.session() as s:
            run = Run(kind=kind, command=command or [], config=config or {}, seed=seed, run_key=run_key,
                      reveals_reference=reveals_reference, prover_version=__version__)
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, status: str = "completed", summary: dict[str, Any] | None = None) -> None:
        with self.session() as s:
            run = s.get(Run, run_id)
            run.status = status
            run.finished_at = utcnow()
            if summary is not None:
                run.summary = summary

    def find_run(self, run_key: str) -> Run | None:
        """The newest run with this key (a hash of the command's inputs), for resuming."""
        with self.session() as s:
            return s.scalars(select(Run).where(Run.run_key == run_key).order_by(Run.id.desc())).first()

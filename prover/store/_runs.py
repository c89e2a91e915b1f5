"""Runs: one row per data-producing command."""

from __future__ import annotations

import os
import socket
from typing import Any

from sqlalchemy import select, update

from prover import __version__
from prover.store.schema import Run, utcnow


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class RunsMixin:
    def start_run(self, kind: str, *, command: list[str] | None = None, config: dict[str, Any] | None = None,
                  seed: int | None = None, run_key: str | None = None, reveals_reference: bool = False) -> int:
        with self.session() as s:
            run = Run(kind=kind, command=command or [], config=config or {}, seed=seed, run_key=run_key,
                      reveals_reference=reveals_reference, prover_version=__version__,
                      host=socket.gethostname(), pid=os.getpid())
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

    def abort_run(self, run_id: int, exc: BaseException) -> None:
        """End a run that stopped on ``exc``: ``interrupted`` for Ctrl-C, else ``failed``, with the
        error's text in its summary."""
        self.finish_run(run_id, status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                        summary={"error": str(exc)[:500]})

    def reap_dead_runs(self) -> list[int]:
        """Mark ``interrupted`` the runs of this host still ``running`` whose process is gone (a
        kill or a crash ends a process before it can say so), and their informal searches. Runs
        of other hosts are left as they are: their processes cannot be seen from here."""
        from prover.store._informal import InformalSearch

        host = socket.gethostname()
        with self.session() as s:
            rows = s.execute(select(Run.id, Run.pid).where(Run.status == "running", Run.host == host)).all()
            dead = [run_id for run_id, pid in rows if pid is not None and not _process_alive(pid)]
            if dead:
                s.execute(update(Run).where(Run.id.in_(dead), Run.status == "running")
                          .values(status="interrupted", finished_at=utcnow(),
                                  summary={"interrupted": "its process ended without finishing the run"}))
                s.execute(update(InformalSearch)
                          .where(InformalSearch.run_id.in_(dead), InformalSearch.status == "running")
                          .values(status="interrupted", updated_at=utcnow()))
        return dead

    def get_run(self, run_id: int) -> Run | None:
        """The run with this id, or None."""
        with self.session() as s:
            return s.get(Run, run_id)

    def find_run(self, run_key: str) -> Run | None:
        """The newest run with this key (a hash of the command's inputs), for resuming."""
        with self.session() as s:
            return s.scalars(select(Run).where(Run.run_key == run_key).order_by(Run.id.desc())).first()

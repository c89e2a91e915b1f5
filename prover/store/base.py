"""What every part of the store stands on: an engine, and sessions in one transaction each."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


class StoreBase:
    """The engine and its sessions. The concept mixins (problems, runs, informal, Lean, formal,
    grades, reports, leases) extend it, and ``ProofStore`` joins them."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.lease_holder: str | None = None
        """The worker this store works for (``prover worker``): its leased problems are its own."""
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

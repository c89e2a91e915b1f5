"""`ProofStore`: the one typed API through which the rest of prover touches the database."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from prover.core.errors import StoreError, StoreNotWritableError
from prover.store.base import StoreBase
from prover.store.formal import FormalMixin
from prover.store.grades import GradesMixin
from prover.store.informal import InformalMixin
from prover.store.lean import LeanMixin
from prover.store.leases import LeasesMixin
from prover.store.problems import ProblemsMixin
from prover.store.reports import ReportsMixin
from prover.store.runs import RunsMixin

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_DB = "prover.db"


def resolve_url(db: str | os.PathLike | None) -> str:
    """A SQLAlchemy URL from ``--db``: a URL stays as it is, a path becomes a SQLite file.
    None means ``$PROVER_DB``, else ``./prover.db``."""
    db = os.fspath(db) if db is not None else os.environ.get("PROVER_DB", DEFAULT_DB)
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # Proofs and analyses are kilobytes each: 16 KiB pages keep them out of overflow chains
    # (3x faster bulk inserts). Only takes effect when the file is created.
    cur.execute("PRAGMA page_size=16384")
    # WAL lets readers (reports, exports) run while a run writes; NORMAL is durable across
    # process crashes (only an OS crash can lose the last transactions).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: bulk inserts touch many index pages
    cur.close()


# PostgreSQL: read_only_sql_transaction, insufficient_privilege.
_PG_NOT_WRITABLE = {"25006", "42501"}


def _not_writable(context) -> None:
    """``handle_error`` hook: a database that cannot be written (or its file created) raises
    StoreNotWritableError, one line saying why, instead of the driver's error with its SQL."""
    orig = context.original_exception
    name = getattr(orig, "sqlite_errorname", "") or ""
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    url = context.engine.url if context.engine is not None else None
    where = url.render_as_string(hide_password=True) if url is not None else "the database"
    if url is not None and url.get_backend_name() == "sqlite" and url.database:
        where = url.database.removeprefix("file:").partition("?")[0]
    if name.startswith("SQLITE_READONLY") or sqlstate in _PG_NOT_WRITABLE:
        why = f"{orig} (the file, its folder or the connection is read-only); make it writable"
    elif name.startswith("SQLITE_CANTOPEN"):
        why = _cannot_open(Path(where))
    else:
        return
    raise StoreNotWritableError(f"cannot write the database {where}: {why}, or pass --db another database")


def _cannot_open(path: Path) -> str:
    folder = path.parent
    if not folder.is_dir():
        return f"its folder {folder} does not exist; create it"
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is not writable; make it writable"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only; make it writable"
    return "SQLite cannot open the file; check that it and its folder can be written"


class ProofStore(ProblemsMixin, RunsMixin, LeasesMixin, InformalMixin, LeanMixin, FormalMixin, GradesMixin,
                 ReportsMixin, StoreBase):
    """The proof database, one mixin per concept (problems, runs and calls, leases, informal, Lean,
    formal, grades and labels, reports). Open with ``ProofStore.open(path_or_url)``; the schema is
    migrated to the newest revision on open (idempotent)."""

    @classmethod
    def open(cls, db: str | os.PathLike | None = None, *, migrate: bool = True) -> "ProofStore":
        url = resolve_url(db)
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
        event.listen(engine, "handle_error", _not_writable)
        store = cls(engine)
        if migrate:
            try:
                store.migrate()
            except StoreError:
                engine.dispose()
                raise
            except SQLAlchemyError as exc:
                engine.dispose()
                raise StoreError(f"cannot open database {store.url}: {exc}") from exc
            store.reap_dead_runs()
        return store

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "ProofStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------

    def _alembic_config(self, connection):
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = connection
        return cfg

    def schema_heads(self) -> tuple[set[str], set[str]]:
        """(revisions applied to this database, newest revisions the code knows)."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with self.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
            script = ScriptDirectory.from_config(self._alembic_config(conn))
        return current, set(script.get_heads())

    def migrate(self) -> None:
        """Bring the schema to every head revision. Each feature's revision hangs off the
        foundation's, so the store upgrades to "heads"."""
        current, heads = self.schema_heads()
        if current == heads:
            return
        from alembic import command

        with self.engine.begin() as conn:
            command.upgrade(self._alembic_config(conn), "heads")
